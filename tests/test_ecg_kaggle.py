"""The ECG scorer against Kaggle's metric (tests/kaggle_ecg_metric.py, its published code restated): the same
numbers to 1e-9 on hundreds of random cases (flat leads, flat labels, shuffled rows, every sampling rate, lags at
the window's edges), every input Kaggle's metric scores is scored, and every refusal names the file, row and field.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, load_module
from kaggle_ecg_metric import kaggle_score
from programlib import SubmissionError

scoring = load_module("ecg_scoring_kaggle", ROOT / "scoring_programs" / "ecg_snr" / "scoring.py")
LEADS = scoring.LEADS
WINDOW = {"I": 0, "III": 0, "aVR": 1, "aVL": 1, "aVF": 1, "V1": 2, "V2": 2, "V3": 2, "V4": 3, "V5": 3, "V6": 3}
REAL_RATES = (250, 256, 500, 512, 1000, 1025)
CONSTANTS = (0.1, 0.3, -0.7, 0.0, 1 / 3, 2.5)


def true_signal(rng, fs: int) -> np.ndarray:
    t = np.arange(10 * fs) / fs
    beat = np.exp(-((((t * rng.uniform(0.8, 1.6)) % 1) - 0.5) ** 2) / 0.0008)
    return np.sin(2 * np.pi * rng.uniform(0.2, 2) * t) * rng.uniform(0, 0.6) + beat * rng.uniform(0.3, 2.5)


def prediction(rng, label: np.ndarray, fs: int) -> tuple[np.ndarray, np.ndarray]:
    """(label, prediction) of one lead, from one of the kinds a submission or a test set can hold."""
    shift, n = int(fs * 0.2), len(label)
    kind = int(rng.integers(0, 12))
    if kind == 0:  # a constant prediction: centred, it is rounding residue
        return label, np.full(n, rng.choice(CONSTANTS))
    if kind == 1:
        return label, np.full(n, rng.normal())
    if kind == 2:  # a flat label
        flat = np.full(n, rng.choice(CONSTANTS))
        return flat, flat + rng.normal(0, 0.1, n) * rng.integers(0, 2)
    if kind == 3:  # lags at the window's edges and next to them
        return label, np.roll(label, int(rng.choice([shift, -shift, shift + 1, -shift - 1, 1, -1, 0])))
    if kind == 4:
        return label, label[::-1].copy()
    if kind == 5:  # far beyond ±1e6 mV: Kaggle scores it
        return label, label * 10.0 ** rng.integers(6, 12) + rng.normal() * 1e9
    if kind == 6:  # periodic: equal correlations a period apart
        period = max(2, shift // 2)
        wave = np.sin(2 * np.pi * np.arange(n) / period)
        return wave, np.roll(wave, int(rng.integers(-shift, shift + 1)))
    if kind == 7:  # the same value on most samples: a step
        step = np.where(np.arange(n) < rng.integers(1, n), 0.1, 0.2)
        return label, step
    noise = rng.normal(0, rng.uniform(0.001, 0.6), n)
    return label, np.roll(label, int(rng.integers(-shift - 3, shift + 4))) * rng.uniform(0.5, 1.5) + noise + rng.normal()


def make_case(seed: int, rates=(10, 20, 25, 40, 50)):
    rng = np.random.default_rng(seed)
    ids, fs_column, truth, predicted = [], [], [], []
    for record in range(int(rng.integers(1, 4))):
        fs = int(rng.choice(rates))
        signal = true_signal(rng, fs)
        quarter = 10 * fs // 4
        for lead in LEADS:
            segment = signal if lead == "II" else signal[WINDOW[lead] * quarter:(WINDOW[lead] + 1) * quarter]
            label, pred = prediction(rng, segment * rng.uniform(0.5, 2), fs)
            ids += [f"{1000 + record}_{row}_{lead}" for row in range(len(label))]
            fs_column += [fs] * len(label)
            truth.append(label)
            predicted.append(pred)
    solution = pd.DataFrame({"id": ids, "fs": fs_column, "value": np.concatenate(truth)})
    submission = pd.DataFrame({"id": ids, "value": np.concatenate(predicted)})
    if rng.random() < 0.3:
        submission = submission.sample(frac=1, random_state=seed).reset_index(drop=True)
    return solution, submission


def write(tmp_path, solution: pd.DataFrame, submission: pd.DataFrame, *, with_parts: bool = True, **options):
    ref, res = tmp_path / "ref", tmp_path / "res"
    ref.mkdir(exist_ok=True)
    res.mkdir(exist_ok=True)
    parts = solution["id"].str.split("_", expand=True)
    if with_parts:  # as the builder writes it; without them the scorer splits the ids
        solution = solution.assign(record=parts[0].astype(np.int64), lead=pd.Categorical(parts[2], categories=LEADS),
                                   row=parts[1].astype(np.int64))
    solution.to_parquet(ref / "solution.parquet", index=False)
    pd.DataFrame({"id": sorted(set(parts[0])), "image_type": "0005"}).to_csv(ref / "records.csv", index=False)
    submission.to_parquet(res / "submission.parquet", **({"index": False} | options))
    return ref, res


def ours(tmp_path, solution, submission, **options) -> float:
    return scoring.evaluate(*write(tmp_path, solution, submission, **options)).scores["snr"]


def theirs(solution, submission) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # log10(0) and the like, as on Kaggle
        return kaggle_score(solution, submission)


@pytest.mark.parametrize("seed", range(240))
def test_equals_kaggles_metric_on_random_cases(tmp_path, seed):
    solution, submission = make_case(seed)
    assert abs(ours(tmp_path, solution, submission) - theirs(solution, submission)) <= 1e-9


@pytest.mark.parametrize("seed", range(24))
def test_equals_kaggles_metric_at_the_competitions_sampling_rates(tmp_path, seed):
    solution, submission = make_case(10_000 + seed, rates=(REAL_RATES[seed % len(REAL_RATES)],))
    assert abs(ours(tmp_path, solution, submission, with_parts=seed % 2 == 0)
               - theirs(solution, submission)) <= 1e-9


@pytest.mark.parametrize("constant", CONSTANTS)
@pytest.mark.parametrize("fs", REAL_RATES)
def test_a_constant_submission_scores_what_kaggle_scores(tmp_path, constant, fs):
    """A constant baseline: its centred values are rounding residue, and the lag Kaggle's arithmetic picks from
    them decides which samples count as missing (up to 0.2 dB)."""
    solution, _ = make_case(fs, rates=(fs,))
    submission = solution[["id"]].assign(value=constant)
    assert abs(ours(tmp_path, solution, submission) - theirs(solution, submission)) <= 1e-9


# --- what Kaggle's metric scores is scored ------------------------------------------------------------

@pytest.fixture
def case():
    solution, submission = make_case(7, rates=(50,))
    return solution, submission.sample(frac=1, random_state=0).reset_index(drop=True)


@pytest.mark.parametrize("variant", ["columns value, id", "an extra column", "float32", "integers", "booleans",
                                     "pandas index kept", "beyond 1e6 mV", "1e306 on a lead", "1e200 noise"])
def test_inputs_kaggle_scores_are_scored(tmp_path, case, variant):
    solution, submission = case
    options = {}
    if variant == "columns value, id":
        submission = submission[["value", "id"]]
    elif variant == "an extra column":
        submission = submission.assign(lead=submission["id"].str.rsplit("_", n=1).str[1])
    elif variant == "float32":
        submission = submission.astype({"value": np.float32})
    elif variant == "integers":
        submission = submission.assign(value=np.round(submission["value"] * 100).astype(np.int64))
    elif variant == "booleans":
        submission = submission.assign(value=submission["value"] > 0)
    elif variant == "pandas index kept":
        submission, options = submission.set_index(submission.index * 3), {"index": True}
    elif variant == "beyond 1e6 mV":
        submission = submission.assign(value=submission["value"] * 1e7 + 3e9)
    else:
        lead = submission["id"].str.endswith("_V2")
        huge = 1e306 if variant == "1e306 on a lead" else np.random.default_rng(1).normal(0, 1e200, len(submission))
        submission = submission.assign(value=np.where(lead, huge, submission["value"]))
    result = scoring.evaluate(*write(tmp_path, solution, submission, **options))
    assert abs(result.scores["snr"] - theirs(solution, submission)) <= 1e-9
    assert result.ignored == (["lead"] if variant == "an extra column" else [])


def test_the_report_stays_readable_with_huge_values(tmp_path, case):
    solution, _ = case
    noise = np.random.default_rng(0).normal(0, 0.05, len(solution))
    submission = solution[["id"]].assign(value=np.where(solution["id"] == "1000_3_V1", 1e12, solution["value"] + noise))
    html = scoring.score(*write(tmp_path, solution, submission)).report.render()
    assert "(offsets: 1 value(s) beyond [" in html
    assert abs(scoring.evaluate(tmp_path / "ref", tmp_path / "res").scores["snr"] - theirs(solution, submission)) <= 1e-9


# --- what it refuses is refused, naming the file, the row and the field ----------------------------------------

def refuse(tmp_path, solution, submission, **options) -> str:
    with pytest.raises(SubmissionError) as caught:
        scoring.evaluate(*write(tmp_path, solution, submission, **options))
    return str(caught.value)


@pytest.mark.parametrize("change,message", [
    (lambda f: f.assign(value=np.where(f.index == 5, np.nan, f["value"])),
     "submission.parquet, row 6, column 'value': nan is not a finite number"),
    (lambda f: f.assign(value=np.where(f.index == 0, -np.inf, f["value"])),
     "submission.parquet, row 1, column 'value': -inf is not a finite number"),
    (lambda f: f.assign(value=f["value"].astype(str).where(f.index != 2, "x")),
     "submission.parquet, row 3, column 'value': 'x' is not a number"),
    (lambda f: f.astype({"value": str}), "submission.parquet, row 1, column 'value': "),
    (lambda f: f.iloc[:-2], "submission.parquet: 2 test id(s) have no row"),
    (lambda f: pd.concat([f, f.iloc[[3]]]), "submission.parquet, row {n}, column 'id': id {id3!r} appears again"),
    (lambda f: pd.concat([f.iloc[:-1], pd.DataFrame({"id": ["99_0_I"], "value": [0.0]})]),
     "submission.parquet, row {last}, column 'id': unknown id '99_0_I'"),
    (lambda f: f.rename(columns={"value": "mv"}), "submission.parquet: no column 'value' (the columns are id, mv"),
    (lambda f: f.assign(id=np.arange(len(f))), "submission.parquet, column 'id': ids are text"),
    (lambda f: f.set_index("id"), "submission.parquet: 'id' is stored as the table's (pandas) index"),
])
def test_refusals_name_the_file_row_and_field(tmp_path, case, change, message):
    solution, submission = case
    options = {"index": True} if "index" in message else {}
    text = refuse(tmp_path, solution, change(submission), **options)
    assert message.format(n=len(submission) + 1, last=len(submission), id3=submission["id"][3]) in text


def test_values_whose_correlation_overflows_are_refused_as_kaggle_fails_on_them(tmp_path, case):
    solution, submission = case
    huge = np.random.default_rng(0).choice([-1.5e308, 1.5e308], len(submission))
    submission = submission.assign(value=np.where(submission["id"].str.endswith("_V2"), huge, submission["value"]))
    with pytest.raises(ValueError, match="no lag"):  # Kaggle's code finds no lag: min() of an empty sequence
        theirs(solution, submission)
    text = refuse(tmp_path, solution, submission)
    assert "submission.parquet, column 'value': record 1000, lead V2: the values are so large (1.5e+308)" in text
