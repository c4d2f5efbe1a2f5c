"""The ECG digitization task: the exact modified SNR, refusals, the generated records, the kit, the bundle."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bundlegen.data import load_prepare
from bundlegen.definition import load_all
from bundlegen.validate import validate_bundle
from conftest import ROOT, load_module, quiet
from programlib import SubmissionError

TASK = "physionet-ecg-image-digitization"
PROGRAM = ROOT / "scoring_programs" / "ecg_snr"
KIT = ROOT / "starting_kits" / TASK
metric = load_module("ecg_metric", PROGRAM / "modified_snr.py")
scoring = load_module("ecg_scoring", PROGRAM / "scoring.py")
LEADS = scoring.LEADS
PERFECT = 10 * np.log10(384)


def task_module(name: str):
    """A module of the task's folder (signals, layout, distortions), imported as prepare.py imports it."""
    load_prepare(load_all()[TASK])
    package = next(m for m in sys.modules if m.startswith("bundle_physionet_ecg_image_digitization_") and "." not in m)
    return sys.modules.get(f"{package}.{name}") or __import__(f"{package}.{name}", fromlist=["x"])


# --- the metric ------------------------------------------------------------------------------------

def smooth_signal(rng, n: int) -> np.ndarray:
    t = np.arange(n)
    return sum(rng.normal(0, 1 / k) * np.sin(2 * np.pi * t * k / rng.uniform(40, 400) + rng.uniform(0, 6))
               for k in range(1, 6)) + 0.8 * np.exp(-((t % 97) - 40) ** 2 / 8.0)


CASES = {
    "perfect": lambda label, rng: label.copy(),
    "shift": lambda label, rng: np.roll(label, int(rng.integers(-20, 20))),
    "offset": lambda label, rng: label + rng.normal(0, 2),
    "scale": lambda label, rng: label * rng.uniform(0.5, 1.5),
    "noise": lambda label, rng: label + rng.normal(0, 0.3, len(label)),
    "partly_missing": lambda label, rng: np.where(np.arange(len(label)) < len(label) // 3, 0.0, label),
    "zeros": lambda label, rng: np.zeros_like(label),
    "constant": lambda label, rng: np.full_like(label, 0.1),
    "shift_beyond_window": lambda label, rng: np.roll(label, 150) + 0.2,
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", range(3))
def test_batched_fit_equals_the_direct_definition(case, seed):
    rng = np.random.default_rng(seed)
    n, shift = 500, 50  # fs = 250: ±0.2 s is ±50 samples
    labels = np.stack([smooth_signal(rng, n) for _ in range(4)])
    preds = np.stack([CASES[case](label, rng) for label in labels])
    fast = metric.segment_powers(labels, preds, shift)
    for row in range(len(labels)):
        direct = metric.direct_fit(labels[row], preds[row], shift)
        assert fast[2][row] == direct.lag
        assert fast[0][row] == pytest.approx(direct.p_signal, rel=1e-12)
        assert fast[1][row] == pytest.approx(direct.p_noise, rel=1e-9, abs=1e-12)
        # the closed-form offset against Brent's search (xtol 1.48e-8), whose error the noise power does not feel
        assert fast[3][row] == pytest.approx(direct.offset, rel=1e-6, abs=1e-7)


def test_direct_fit_follows_the_definition_step_by_step():
    label = np.array([0.0, 0, 1, 2, 1, 0, 0])
    pred = np.array([1.0, 2, 1, 0, 0, 0, 0]) + 5  # two samples early, and 5 mV up
    fit = metric.direct_fit(label, pred, 10)
    assert fit.lag == 2 and fit.offset == pytest.approx(5.0)
    # positions 0-1 have no prediction after the shift: they count as 0, so the noise is label² there (0 here)
    assert fit.p_noise == pytest.approx(0.0) and fit.p_signal == pytest.approx(6.0)
    limited = metric.direct_fit(np.array([0.0, 0, 0, 0, 1, 2, 1]), np.array([1.0, 2, 1, 0, 0, 0, 0]), 1)
    assert abs(limited.lag) <= 1


def test_ratio_and_score_edges():
    assert metric.snr_db(metric.ratio([5.0], [0.0])) == pytest.approx(PERFECT, abs=1e-4)
    assert round(metric.snr_db(metric.ratio([5.0], [0.0])), 4) == 25.8433
    assert metric.snr_db(metric.ratio([0.0], [3.0])) == -384.0
    assert metric.ratio([4.0], [1.0])[0] == 4.0 and metric.ratio([1e6], [1.0])[0] == 384.0


def kaggle_example(tmp_path, values_pred):
    ids = [f"343_{r}_{lead}" for lead in ["I", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
           for r in range(3)] + [f"343_{r}_II" for r in range(12)]
    values = [0.1, 0.3, 0.4, 0.6, 0.6, 0.4, 0.2, 0.3, 0.4, 0.5, 0.2, 0.7, 0.2, 0.3, 0.4, 0.8, 0.6, 0.7, 0.2, 0.3, -0.1,
              0.5, 0.6, 0.7, 0.2, 0.9, 0.4, 0.5, 0.6, 0.7, 0.1, 0.3, 0.4, 0.6, 0.6, 0.4, 0.2, 0.3, 0.4, 0.5, 0.2, 0.7,
              0.2, 0.3, 0.4]
    ref, res = tmp_path / "ref", tmp_path / "res"
    ref.mkdir(exist_ok=True)
    res.mkdir(exist_ok=True)
    pd.DataFrame({"id": ids, "fs": 1, "value": values}).to_parquet(ref / "solution.parquet")
    pd.DataFrame({"id": ["343"], "image_type": ["0001"]}).to_csv(ref / "records.csv", index=False)
    pd.DataFrame({"id": ids, "value": values_pred(np.array(values))}).to_parquet(res / "submission.parquet")
    return scoring.score(ref, res).scores["snr"]


def test_kaggle_metric_examples(tmp_path):
    """The examples in the docstring of Kaggle's metric (fs = 1, so no time shift)."""
    assert round(kaggle_example(tmp_path, lambda v: v), 4) == 25.8433

    def noisy(v):
        v = v.copy()
        v[0] = 0.9
        return v
    assert round(kaggle_example(tmp_path, noisy), 4) == 13.6291

    def noisier(v):
        v = noisy(v)
        v[4] = 0.3
        return v
    assert round(kaggle_example(tmp_path, noisier), 4) == 13.0576


# --- malformed submissions -------------------------------------------------------------------------

@pytest.fixture
def tiny_ref(tmp_path):
    ids = [f"7_{r}_{lead}" for lead in LEADS for r in range(10 if lead == "II" else 4)]
    ref, res = tmp_path / "ref", tmp_path / "res"
    ref.mkdir()
    res.mkdir()
    pd.DataFrame({"id": ids, "fs": 1, "value": np.sin(np.arange(len(ids)))}).to_parquet(ref / "solution.parquet")
    pd.DataFrame({"id": ["7"], "image_type": ["0005"]}).to_csv(ref / "records.csv", index=False)

    def run(frame: pd.DataFrame | None = None, raw: bytes | None = None):
        path = res / "submission.parquet"
        if raw is not None:
            path.write_bytes(raw)
        else:
            frame.to_parquet(path)
        return scoring.score(ref, res)

    return ids, run


@pytest.mark.parametrize("change,message", [
    (lambda f: f.iloc[:-2], "submission.parquet: 2 test id(s) have no row"),
    (lambda f: pd.concat([f, f.iloc[[3]]]), "submission.parquet, row 55, column 'id': id '7_3_I' appears again"),
    (lambda f: pd.concat([f, pd.DataFrame({"id": ["8_0_I"], "value": [0.0]})]),
     "submission.parquet, row 55, column 'id': unknown id '8_0_I'"),
    (lambda f: f.assign(value=np.where(np.arange(len(f)) == 5, np.nan, f["value"])),
     "submission.parquet, row 6, column 'value': nan is not a finite number"),
    (lambda f: f.assign(value=np.where(np.arange(len(f)) == 0, np.inf, f["value"])),
     "submission.parquet, row 1, column 'value': inf is not a finite number"),
    (lambda f: f.assign(value=["x" if i == 2 else "0.5" for i in range(len(f))]),
     "submission.parquet, row 3, column 'value': 'x' is not a number"),
    (lambda f: f.rename(columns={"value": "mv"}), "submission.parquet: no column 'value' (the columns are id, mv; id "
                                                  "and value are needed)"),
])
def test_malformed_submissions_are_refused(tiny_ref, change, message):
    ids, run = tiny_ref
    frame = pd.DataFrame({"id": ids, "value": 0.5})
    with pytest.raises(SubmissionError) as caught:
        run(change(frame))
    assert message in str(caught.value)


def test_a_csv_is_not_a_parquet_file(tiny_ref):
    _, run = tiny_ref
    with pytest.raises(SubmissionError, match="submission.parquet: not a readable parquet file"):
        run(raw=b"id,value\n7_0_I,0.1\n")


def test_all_leads_all_zero_is_legal_and_scores_low(tiny_ref):
    ids, run = tiny_ref
    scores = run(pd.DataFrame({"id": ids, "value": 0.0})).scores
    assert scores["snr"] < 1.0 and np.isfinite(scores["snr"])


# --- the generated records -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_public(tiny_bundle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ecg-public")
    with zipfile.ZipFile(tiny_bundle(TASK)) as bundle:
        zipfile.ZipFile(io.BytesIO(bundle.read("public_data.zip"))).extractall(folder)
    return folder


def test_einthoven_and_goldberger_hold_exactly(tiny_public):
    for record in pd.read_csv(tiny_public / "train.csv")["id"]:
        frame = pd.read_csv(tiny_public / "train" / str(record) / f"{record}.csv")
        first = frame.dropna(subset=["I", "III"])
        assert len(first) and np.allclose(first["I"] + first["III"], first["II"], atol=1e-9)
        second = frame.dropna(subset=["aVR", "aVL", "aVF"])
        assert len(second) and np.allclose(second["aVR"] + second["aVL"] + second["aVF"], 0, atol=1e-9)
    signals = task_module("signals")
    for seed in range(5):
        record = signals.simulate(500, np.random.default_rng(seed))
        assert np.allclose(record["I"] + record["III"], record["II"], atol=1e-9)
        assert np.allclose(record["aVL"], record["I"] - record["II"] / 2, atol=1e-9)
        assert 0.3 < np.ptp(record["II"]) < 8


def test_training_labels_lie_on_the_drawn_traces(tiny_public):
    for mask_path in sorted((tiny_public / "train").glob("*/*-0001_mask.png")):
        image = np.asarray(Image.open(str(mask_path).replace("_mask.png", ".png")).convert("RGB")).astype(int)
        mask = np.asarray(Image.open(mask_path))
        dark = image.max(axis=2) < 90
        assert set(np.unique(mask)) == set(range(14))  # every lead, and the rhythm strip
        for code in range(1, 14):
            assert dark[mask == code].mean() > 0.9, code
        lines = (mask_path.parent / mask_path.name.replace("_mask.png", ".txt")).read_text().split("\n")
        boxes = np.array([[float(v) for v in line.split()] for line in lines if line])
        assert set(boxes[:, 0].astype(int)) == set(range(13)) and ((boxes[:, 1:] >= 0) & (boxes[:, 1:] <= 1)).all()
        calibration = json.loads((mask_path.parent / mask_path.name.replace("_mask.png", ".json")).read_text())
        assert calibration["image_type"] == "0001" and np.allclose(calibration["homography"], np.eye(3))


def true_calibration_ratio(record: dict, fs: int, image: np.ndarray, calibration: dict, x_start: float,
                           first_x: float | None = None) -> float:
    """The record's SNR ratio when its clean page is decoded by the kit at the page's true calibration (the first
    column's own ink from `first_x`, past the pulse's falling stroke, when given)."""
    sys.path.insert(0, str(KIT))
    try:
        from ecg_kit.calibration import PageGeometry, ink
        from ecg_kit.decode import decode_page
    finally:
        sys.path.remove(str(KIT))
    baselines = sorted({lead["baseline_y"] for lead in calibration["leads"]})
    decoded = decode_page(ink(image), PageGeometry(0.0, calibration["px_per_mm"], baselines, x_start, "true",
                                                     first_x), fs)
    p_signal = p_noise = 0.0
    for lead in LEADS:
        quarter = fs * 10 // 4
        column = {"I": 0, "III": 0, "aVR": 1, "aVL": 1, "aVF": 1, "V1": 2, "V2": 2, "V3": 2}.get(lead, 3)
        label = record["II"] if lead == "II" else record[lead][column * quarter:(column + 1) * quarter]
        fit = metric.direct_fit(label, decoded[lead], metric.max_shift(fs))
        p_signal, p_noise = p_signal + fit.p_signal, p_noise + fit.p_noise
    return metric.ratio([p_signal], [p_noise])[0]


def test_clean_page_redigitized_with_the_true_calibration_scores_above_20_db():
    """The generator's print is faithful: decoding a clean 200-dpi page at its true calibration recovers the signal."""
    signals, layout = task_module("signals"), task_module("layout")
    ratios = []
    for seed, fs in enumerate((250, 500, 1000, 256)):
        rng = np.random.default_rng(seed)
        record = signals.simulate(fs, rng)
        page = layout.random_page(200, rng)
        printed = layout.print_record(record, fs, page, rng)
        ratios.append(true_calibration_ratio(record, fs, printed.image, printed.calibration,
                                             page.trace_start_mm * page.px_per_mm))
    assert metric.snr_db(np.array(ratios)) > 20.0


# --- the kit and the bundle ------------------------------------------------------------------------

def kit_geometry(image: np.ndarray):
    sys.path.insert(0, str(KIT))
    try:
        from ecg_kit.calibration import estimate_geometry
    finally:
        sys.path.remove(str(KIT))
    return estimate_geometry(image, 8.0)[2]


@pytest.mark.parametrize("dpi", [100, 200])
def test_kit_reads_an_ecg_image_kit_page_grid_and_falling_edge(dpi):
    """On a page drawn like ECG-Image-Kit's (1-px grid, no lead-in, black frame), the kit finds the 1-mm period at
    any dpi (at 200 dpi the autocorrelation's first clear peak is 2 mm), the rows, and the trace start at the
    pulse's falling edge (15 mm), not 8 mm after its left edge."""
    signals, prepare = task_module("signals"), task_module("prepare")
    record = signals.simulate(500, np.random.default_rng(3))
    printed, sheet = prepare.draw(record, 500, dpi, "0101", np.random.default_rng(4))
    geometry = kit_geometry(np.clip(sheet.image, 0, 255).astype(np.uint8)[..., :3])
    px_per_mm = dpi / 25.4
    assert geometry.source == "grid" and abs(geometry.px_per_mm / px_per_mm - 1) < 0.002
    assert abs(geometry.x_start / px_per_mm - 15.0) < 0.4
    assert np.allclose(np.array(geometry.baselines) / px_per_mm, [90.0, 125.9, 161.9, 194.9], atol=2.0)


def test_kit_trace_start_after_our_pulse_lead_out():
    """On the project's own clean page the pulse has a 1.5-mm flat lead-in and lead-out: the trace starts after it."""
    signals, layout = task_module("signals"), task_module("layout")
    rng = np.random.default_rng(5)
    record = signals.simulate(500, rng)
    page = layout.random_page(100, rng)
    geometry = kit_geometry(layout.print_record(record, 500, page, rng).image)
    assert abs(geometry.px_per_mm / page.px_per_mm - 1) < 0.002
    assert abs(geometry.x_start - page.trace_start_mm * page.px_per_mm) < 0.5 * page.px_per_mm



def test_kit_smoke_config_trains_and_writes_a_valid_submission(tiny_public, tiny_bundle, tmp_path):
    result = subprocess.run([sys.executable, "run.py", "--data-dir", str(tiny_public), "--output-dir",
                             str(tmp_path / "out"), "--config", "configs/smoke.yaml", "--weights",
                             str(tmp_path / "smoke.pt")], cwd=KIT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training mobilenetv3_small_050 trace network" in result.stdout and (tmp_path / "smoke.pt").is_file()
    (tmp_path / "in" / "res").mkdir(parents=True)
    (tmp_path / "in" / "res" / "submission.parquet").write_bytes((tmp_path / "out" / "submission.parquet").read_bytes())
    with zipfile.ZipFile(tiny_bundle(TASK)) as bundle:
        zipfile.ZipFile(io.BytesIO(bundle.read("reference_data.zip"))).extractall(tmp_path / "in" / "ref")
    scores = scoring.score(tmp_path / "in" / "ref", tmp_path / "in" / "res").scores
    assert np.isfinite(scores["snr"])


def test_bundle_validates_and_its_solution_runs(tiny_bundle):
    report = validate_bundle(tiny_bundle(TASK), log=quiet)
    assert report.ok, report.problems
    [(_, run)] = report.solution_runs
    assert run.scores["snr"] > 0.0 and set(run.scores) >= {"snr", "snr_0001", "snr_0012", "snr_limb", "duration"}


def test_raw_kaggle_download_is_split_by_record(tmp_path):
    from conftest import run_cli

    raw = tmp_path / "raw"
    signals = task_module("signals")
    rows = []
    for record, fs in ((101, 250), (102, 500), (103, 250), (104, 500), (105, 250), (106, 250)):
        folder = raw / "train" / str(record)
        folder.mkdir(parents=True)
        signal = signals.simulate(fs, np.random.default_rng(record))
        frame = pd.DataFrame(signal)
        quarter = fs * 10 // 4
        column = {"I": 0, "III": 0, "aVR": 1, "aVL": 1, "aVF": 1, "V1": 2, "V2": 2, "V3": 2}
        for lead in LEADS:
            if lead != "II":
                start = column.get(lead, 3) * quarter
                frame.loc[[i for i in range(10 * fs) if not start <= i < start + quarter], lead] = np.nan
        frame.to_csv(folder / f"{record}.csv", index=False)
        Image.new("RGB", (40, 30), (255, 255, 255)).save(folder / f"{record}-0001.png")
        Image.new("RGB", (40, 30), (200, 200, 200)).save(folder / f"{record}-0005.png")
        rows.append({"id": record, "fs": fs, "sig_len": 10 * fs})
    pd.DataFrame(rows).to_csv(raw / "train.csv", index=False)
    result = run_cli("build", TASK, "--scale", "tiny", "--raw-data", raw, "--out", tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "dist" / f"{TASK}.zip") as bundle:
        public = zipfile.ZipFile(io.BytesIO(bundle.read("public_data.zip")))
        reference = zipfile.ZipFile(io.BytesIO(bundle.read("reference_data.zip")))
        solution = pd.read_parquet(io.BytesIO(reference.read("solution.parquet")))
        test = pd.read_csv(public.open("test.csv"))
        train = pd.read_csv(public.open("train.csv"))
    assert len(test["id"].unique()) == 2 and not set(test["id"]) & set(train["id"])
    assert set(test["id"]) | set(train["id"]) == {101, 102, 103, 104, 105, 106}
    record = int(test["id"].iloc[0])
    fs = int(test["fs"].iloc[0])
    truth = signals.simulate(fs, np.random.default_rng(record))
    values = solution[solution["id"].str.startswith(f"{record}_") & solution["id"].str.endswith("_II")]["value"]
    assert np.allclose(values.to_numpy(), truth["II"])
