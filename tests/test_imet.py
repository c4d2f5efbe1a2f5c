"""The iMet 2020 task: the exact micro-F1, every malformed submission refused, the data, the kit, the bundle."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from bundlegen.validate import validate_bundle
from bundlegen.worker import Bundle, run_submission
from conftest import ROOT, load_module, quiet, write_zip
from programlib import SubmissionError

TASK = "imet-2020-fgvc7"
PROGRAM = ROOT / "scoring_programs" / "imet_micro_f1"
KIT = ROOT / "starting_kits" / TASK


metric = load_module("imet_metric", PROGRAM / "micro_f1.py")
scoring = load_module("imet_scoring", PROGRAM / "scoring.py")


# --- the metric ------------------------------------------------------------------------------------

def reference_micro_f1(truth: list[set], predicted: list[set]) -> float:
    tp = sum(len(t & p) for t, p in zip(truth, predicted))
    fp = sum(len(p - t) for t, p in zip(truth, predicted))
    fn = sum(len(t - p) for t, p in zip(truth, predicted))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def random_sets(rng, rows: int, n: int, empty_share: float) -> list[set]:
    return [set() if rng.random() < empty_share else set(rng.choice(n, size=rng.integers(1, 8), replace=False).tolist())
            for _ in range(rows)]


@pytest.mark.parametrize("seed", range(12))
def test_micro_f1_equals_a_direct_computation(seed):
    rng = np.random.default_rng(seed)
    n, rows = int(rng.integers(5, 60)), int(rng.integers(1, 80))
    truth = random_sets(rng, rows, n, empty_share=[0.0, 0.3, 1.0][seed % 3])
    predicted = random_sets(rng, rows, n, empty_share=[0.2, 1.0, 0.5, 0.0][seed % 4])
    as_labels = lambda sets: metric.parse_labels([" ".join(map(str, s)) for s in sets], n)  # noqa: E731
    counts = metric.micro_counts(as_labels(truth), as_labels(predicted))
    assert counts.f1 == pytest.approx(reference_micro_f1(truth, predicted), abs=1e-12)
    dense = lambda sets: np.array([[k in s for k in range(n)] for s in sets], dtype=int)  # noqa: E731
    assert counts.f1 == pytest.approx(f1_score(dense(truth), dense(predicted), average="micro", zero_division=0.0))
    tp, fp, fn = metric.per_attribute_counts(as_labels(truth), as_labels(predicted), n)
    assert (int(tp.sum()), int(fp.sum()), int(fn.sum())) == (counts.tp, counts.fp, counts.fn)


def test_all_empty_predictions_score_zero_and_perfect_ones_score_one():
    truth = metric.parse_labels(["1 4", "2"], 5)
    empty = metric.parse_labels(["", " "], 5)
    assert metric.micro_counts(truth, empty).f1 == 0.0
    assert metric.micro_counts(truth, truth).f1 == 1.0


def test_repeated_attribute_in_a_row_counts_once():
    parsed = metric.parse_labels(["3 3 1", "9 9 nan nan"], 5)
    assert parsed.keys.tolist() == [1, 3] and parsed.unmatched == 2


# --- malformed submissions -------------------------------------------------------------------------

@pytest.fixture
def scored_dirs(tmp_path):
    """ref/ with 3 test images and 6 attributes; returns a function scoring a submission.csv text."""
    ref, res = tmp_path / "ref", tmp_path / "res"
    ref.mkdir()
    res.mkdir()
    pd.DataFrame({"attribute_id": range(6), "attribute_name": ["country::a", "culture::b", "dimension::large",
                  "medium::c", "tags::d", "tags::e"]}).to_csv(ref / "labels.csv", index=False)
    pd.DataFrame({"id": ["aa", "bb", "cc"], "attribute_ids": ["0 1", "4", "2 5"]}).to_csv(ref / "test_labels.csv",
                                                                                         index=False)

    def run(text: str):
        (res / "submission.csv").write_text(text)
        return scoring.score(ref, res)

    return run


def test_valid_submission_with_an_empty_row(scored_dirs):
    scored = scored_dirs("id,attribute_ids\ncc,5 2\naa,0\nbb,\n")
    assert scored.scores["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 0 + 2))
    assert scored.scores["f1_tags"] == pytest.approx(2 * 1 / (2 * 1 + 0 + 1))
    assert "<img" in scored.report.render()


@pytest.mark.parametrize("text,message", [
    ("id,attribute_ids\naa,0\nbb,4\n", "submission.csv: 1 test id(s) have no row: 'cc'"),
    ("id,attribute_ids\naa,0\nbb,4\ncc,2\ndd,1\n", "submission.csv, line 5, column 'id': unknown id 'dd'"),
    ("id,attribute_ids\naa,0\nbb,4\naa,1\ncc,2\n", "submission.csv, line 4, column 'id': id 'aa' appears again"),
    ("id,attribute_ids\naa,0\nbb,4,7\ncc,2\n", "submission.csv, line 3: 3 fields, the header has 2"),
    ("id,attributes\naa,0\n", "submission.csv, line 1: missing column(s) 'attribute_ids'; found 'id', 'attributes'"),
    ("id,attribute_ids\naa,0\nbb,4\n\n\naa,1\ncc,2\n", "submission.csv, line 6, column 'id': id 'aa' appears again "
                                                       "(first on line 2)"),
    ("id,attribute_ids\naa,0\n,4\ncc,2\n", "submission.csv, line 3, column 'id': empty id"),
])
def test_malformed_submissions_are_refused(scored_dirs, text, message):
    with pytest.raises(SubmissionError) as caught:
        scored_dirs(text)
    assert message in str(caught.value)


def test_scoring_program_exits_1_and_writes_no_scores(scored_dirs, tmp_path):
    (tmp_path / "res" / "submission.csv").write_text("id,attribute_ids\naa,0\n")
    result = subprocess.run([sys.executable, "scoring.py", str(tmp_path), str(tmp_path / "out")], cwd=PROGRAM,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "2 test id(s) have no row" in result.stderr
    assert not (tmp_path / "out" / "scores.json").exists()


# --- the synthetic data ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_files(tiny_bundle):
    with zipfile.ZipFile(tiny_bundle(TASK)) as bundle:
        public = zipfile.ZipFile(io.BytesIO(bundle.read("public_data.zip")))
        private = zipfile.ZipFile(io.BytesIO(bundle.read("reference_data.zip")))
        return {"public": public, "private": private}


def test_data_has_the_kaggle_layout(tiny_files):
    public, private = tiny_files["public"], tiny_files["private"]
    train = pd.read_csv(public.open("train.csv"), dtype=str, keep_default_na=False)
    labels = pd.read_csv(public.open("labels.csv"))
    sample = pd.read_csv(public.open("sample_submission.csv"), dtype=str)
    answers = pd.read_csv(private.open("test_labels.csv"), dtype=str, keep_default_na=False)
    assert list(train.columns) == ["id", "attribute_ids"] and list(labels.columns) == ["attribute_id", "attribute_name"]
    assert train["id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert (sample["attribute_ids"] == "0 1 2").all() and sample["id"].tolist() == answers["id"].tolist()
    names = public.namelist()
    assert all(f"train/{i}.png" in names for i in train["id"]) and all(f"test/{i}.png" in names for i in sample["id"])
    assert not any(f"train/{i}.png" in names for i in answers["id"])
    groups = labels["attribute_name"].str.split("::").str[0]
    assert groups.value_counts().to_dict() == {"country": 4, "culture": 6, "dimension": 5, "medium": 8, "tags": 12}
    assert groups.tolist() == sorted(groups.tolist())  # ids grouped, groups in alphabetical order
    counts = pd.concat([train, answers])["attribute_ids"].str.split().str.len()
    assert counts.between(1, 10).all()


def test_label_frequencies_are_long_tailed(tmp_path):
    from bundlegen.data import load_prepare
    from bundlegen.definition import load_all

    prepare = load_prepare(load_all()[TASK])
    params = {"n_train": 3000, "n_test": 10, "image_size": 16,
              "attributes": {"country": 10, "culture": 30, "dimension": 5, "medium": 40, "tags": 80}}
    prepare(None, tmp_path, params, 0)  # any scale's parameters: prepare() gets a plain dict
    train = pd.read_csv(tmp_path / "public" / "train.csv", dtype=str)
    frequency = pd.Series(" ".join(train["attribute_ids"]).split()).astype(int).value_counts()
    tags = frequency[frequency.index >= 85].sort_values(ascending=False)  # the 80 tags are ids 85..164
    assert tags.iloc[0] > 10 * tags.iloc[-10:].mean()


# --- the starting kit and the bundle ---------------------------------------------------------------

def test_kit_smoke_config_trains_and_writes_a_valid_submission(tiny_bundle, tmp_path):
    with zipfile.ZipFile(tiny_bundle(TASK)) as bundle:
        zipfile.ZipFile(io.BytesIO(bundle.read("public_data.zip"))).extractall(tmp_path / "data")
    result = subprocess.run([sys.executable, "run.py", "--data-dir", str(tmp_path / "data"), "--output-dir",
                             str(tmp_path / "out"), "--config", "configs/smoke.yaml", "--work-dir", str(tmp_path / "work")],
                            cwd=KIT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "device cpu" in result.stdout and "resnet10t epoch 1/1" in result.stdout
    assert "resnet10t epoch 1/1" in result.stderr  # the progress bar
    assert (tmp_path / "work" / "resnet10t_best.pth").is_file()
    shutil_copy = tmp_path / "in"
    (shutil_copy / "res").mkdir(parents=True)
    (shutil_copy / "res" / "submission.csv").write_bytes((tmp_path / "out" / "submission.csv").read_bytes())
    with zipfile.ZipFile(tiny_bundle(TASK)) as bundle:
        zipfile.ZipFile(io.BytesIO(bundle.read("reference_data.zip"))).extractall(shutil_copy / "ref")
    scored = scoring.score(shutil_copy / "ref", shutil_copy / "res")
    assert 0.0 < scored.scores["micro_f1"] <= 1.0


def test_kit_refuses_a_bad_config_and_missing_weights(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: x\nmodels: [{name: resnet10t}]\nlearning_rate: 0.1\n")
    result = subprocess.run([sys.executable, "run.py", "--config", str(tmp_path / "bad.yaml")], cwd=KIT,
                            capture_output=True, text=True)
    assert result.returncode != 0 and "unknown setting(s) learning_rate" in result.stderr
    sys.path.insert(0, str(KIT))
    try:
        from imet_kit.models import create_model

        with pytest.raises(FileNotFoundError, match="never downloads"):
            create_model("resnet10t", 5, pretrained=str(tmp_path / "nowhere.pth"))
    finally:
        sys.path.remove(str(KIT))


def test_bundle_validates_and_its_solution_runs(tiny_bundle):
    report = validate_bundle(tiny_bundle(TASK), log=quiet)
    assert report.ok, report.problems
    [(_, run)] = report.solution_runs
    assert run.scores["micro_f1"] > 0.2
    assert set(run.scores) == {"micro_f1", "precision", "recall", "f1_country", "f1_culture", "f1_dimension",
                               "f1_medium", "f1_tags", "duration"}


def test_results_only_submission_is_scored_as_submitted(tiny_bundle, tmp_path):
    bundle = tiny_bundle(TASK)
    answers = pd.read_csv(io.BytesIO(zipfile.ZipFile(io.BytesIO(Bundle(bundle).archive.read("reference_data.zip")))
                                     .read("test_labels.csv")), dtype=str, keep_default_na=False)
    submission = write_zip(tmp_path / "s.zip", {"submission.csv": answers.to_csv(index=False)})
    result = run_submission(bundle, submission, workdir=tmp_path / "run", log=quiet)
    assert result.ok, result.error
    assert result.scores["micro_f1"] == 1.0 and result.scores["duration"] == 0.0


def test_raw_kaggle_download_is_split_like_mlebench(tmp_path):
    """--raw-data: the Kaggle files, split with train_test_split(test_size=0.15, random_state=0)."""
    from PIL import Image
    from sklearn.model_selection import train_test_split

    from conftest import run_cli

    raw = tmp_path / "raw"
    (raw / "train").mkdir(parents=True)
    rng = np.random.default_rng(1)
    ids = [rng.bytes(16).hex() for _ in range(40)]
    train = pd.DataFrame({"id": ids, "attribute_ids": [" ".join(map(str, sorted(rng.choice(6, 2, replace=False))))
                                                       for _ in ids]})
    train.to_csv(raw / "train.csv", index=False)
    pd.DataFrame({"attribute_id": range(6), "attribute_name": ["country::a", "culture::b", "dimension::large",
                  "medium::c", "tags::d", "tags::e"]}).to_csv(raw / "labels.csv", index=False)
    for image_id in ids:
        Image.new("RGB", (8, 8), (int(image_id[:2], 16), 0, 0)).save(raw / "train" / f"{image_id}.png")
    result = run_cli("build", TASK, "--scale", "full", "--raw-data", raw, "--out", tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    expected_train, expected_test = train_test_split(train, test_size=0.15, random_state=0)
    with zipfile.ZipFile(tmp_path / "dist" / f"{TASK}.zip") as bundle:
        public = zipfile.ZipFile(io.BytesIO(bundle.read("public_data.zip")))
        answers = pd.read_csv(zipfile.ZipFile(io.BytesIO(bundle.read("reference_data.zip"))).open("test_labels.csv"),
                              dtype=str)
        info = json.loads(bundle.read("bundle.json"))
    assert pd.read_csv(public.open("train.csv"), dtype=str)["id"].tolist() == expected_train["id"].tolist()
    assert answers["id"].tolist() == expected_test["id"].tolist() and len(answers) == 6
    assert sorted(n for n in public.namelist() if n.startswith("test/")) == sorted(f"test/{i}.png" for i in answers["id"])
    assert info["data"] == "raw" and info["thresholds"] == {"gold": 0.696, "silver": 0.649, "bronze": 0.649,
                                                            "median": 0.627}


def test_full_config_names_real_timm_architectures():
    import timm

    sys.path.insert(0, str(KIT))
    try:
        from imet_kit.config import load_config
    finally:
        sys.path.remove(str(KIT))
    for name in ("full", "default", "smoke"):
        config = load_config(KIT / "configs" / f"{name}.yaml")
        for model in config.models:
            assert timm.list_models(model.name) == [model.name], model.name
    assert [m.name for m in load_config(KIT / "configs" / "full.yaml").models] == ["resnet101d", "convnext_base"]
