"""The feature-engineering task: the gain from new features is measured on hidden labels, the table is checked
against what really happened, and a second run must reproduce it."""
from __future__ import annotations

import io
import json
import zipfile

import pytest

from bundlegen.worker import Bundle, run_submission
from conftest import ROOT, build_copy, copy_project, edit_definition, load_module, quiet, write_zip
from programlib.scoring import overall

TASK = "feature-engineering"
KIT = ROOT / "starting_kits" / TASK
SOLUTION, SAMPLE = KIT / "solution", KIT / "sample_submission"
PROGRAM = ROOT / "scoring_programs" / "feature_engineering"
ITEMS = ("test_auc", "improvement", "comparison_table", "reproducible")


@pytest.fixture(scope="module")
def scorer():
    return load_module("feature_engineering_scoring", PROGRAM / "scoring.py")


@pytest.fixture(scope="module")
def rubric(scorer):
    import sys
    return sys.modules["feature_engineering_rubric"]


def run(bundle, submission, workdir):
    result = run_submission(bundle, submission, workdir=workdir, log=quiet)
    assert result.ok, result.error
    return result.scores


def solution_files(**replacements) -> dict[str, str]:
    text = (SOLUTION / "train.py").read_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return {"train.py": text, "experiment.ipynb": (SOLUTION / "experiment.ipynb").read_text()}


def test_the_baseline_in_the_data_is_the_sample_submission(tiny_bundle):
    bundle = Bundle(tiny_bundle(TASK))
    with zipfile.ZipFile(io.BytesIO(bundle.archive.read("public_data.zip"))) as public:
        assert public.read("train.py") == (SAMPLE / "train.py").read_bytes()
        assert "|" in public.read("columns.md").decode()


def test_solution_gets_full_marks_and_the_unchanged_baseline_gets_no_gain(tiny_bundle, tmp_path):
    bundle = tiny_bundle(TASK)
    solution = run(bundle, SOLUTION, tmp_path / "solution")
    assert all(solution[item] == 1 for item in ITEMS) and solution["score"] == pytest.approx(1)
    baseline = run(bundle, SAMPLE, tmp_path / "sample")
    assert baseline["improvement"] == 0  # the same script as the one measured in prepare
    assert baseline["comparison_table"] == 0 and baseline["reproducible"] == 0  # no notebook, no table
    assert baseline["roc_auc"] < solution["roc_auc"] - 0.05 and baseline["score"] <= 0.3


def test_random_table_is_not_reproducible_and_an_overclaiming_one_loses_points(tiny_bundle, tmp_path):
    # The comparison numbers carry unseeded noise, far inside the table's tolerance but far above the rerun's
    # 1e-6: the table checks out, the rerun's differs, and only the reproducibility points are lost.
    noise = "float(np.random.default_rng().uniform(-5e-3, 5e-3))"
    noisy = solution_files(**{'"valid_auc": round(float(auc), 6)': f'"valid_auc": round(float(auc) + {noise}, 6)'})
    scores = run(tiny_bundle(TASK), write_zip(tmp_path / "noisy.zip", noisy), tmp_path / "noisy")
    assert scores["reproducible"] == 0 and scores["score"] <= 1 - 0.15 + 1e-9
    # A table that claims the new features lose, while they win on the hidden test set, and a baseline row
    # that is made up: no number checks out, and the model's items count for nothing.
    swapped = solution_files(**{'"valid_auc": round(float(auc), 6)':
                                '"valid_auc": {"baseline": 0.99, "new": 0.6}[name]'})
    scores = run(tiny_bundle(TASK), write_zip(tmp_path / "swapped.zip", swapped), tmp_path / "swapped")
    assert scores["comparison_table"] == 0 and scores["reproducible"] == 0 and scores["score"] <= 0.3


def test_a_crash_is_an_error_not_a_score(tiny_bundle, tmp_path):
    crash = {"train.py": "import pandas\nraise RuntimeError('feature matrix exploded')\n"}
    result = run_submission(tiny_bundle(TASK), write_zip(tmp_path / "crash.zip", crash), workdir=tmp_path / "run",
                            log=quiet)
    assert not result.ok and result.scores is None
    assert "train.py exited with code 1" in result.error and "feature matrix exploded" in result.error


def test_a_program_past_the_time_limit_is_stopped(tmp_path, cache_dir):
    project = copy_project(tmp_path / "project", tasks=(TASK,))
    edit_definition(project, TASK, lambda d: d["submission"].update(time_limit=2))
    bundle = build_copy(project, TASK, tmp_path / "dist", cache_dir)
    sleeper = {"train.py": "import time\ntime.sleep(60)\n"}
    result = run_submission(bundle, write_zip(tmp_path / "sleep.zip", sleeper), workdir=tmp_path / "run", log=quiet)
    assert not result.ok and result.scores is None
    assert "train.py did not finish within the time limit of 2 s" in result.error


# --- the scorer on hand-made outputs ----------------------------------------------------------------

@pytest.fixture(scope="module")
def reference(tiny_bundle, tmp_path_factory):
    bundle = Bundle(tiny_bundle(TASK))
    folder = tmp_path_factory.mktemp("ref")
    bundle.extract_dataset(bundle.competition["tasks"][0]["reference_data"], folder)
    return folder


def result_dir(tmp_path, predictions: str, comparison: str | None = None, rerun: str | None = None):
    res = tmp_path / "res"
    (res / "predictions").mkdir(parents=True)
    (res / "predictions" / "predictions.csv").write_text(predictions)
    runs = {}
    if comparison is not None:
        (res / "runs" / "experiment" / "predictions").mkdir(parents=True)
        (res / "runs" / "experiment" / "predictions" / "comparison.csv").write_text(comparison)
        runs["experiment"] = {"status": "ok", "message": "fine"}
    if rerun is not None:
        (res / "runs" / "rerun" / "predictions").mkdir(parents=True)
        (res / "runs" / "rerun" / "predictions" / "comparison.csv").write_text(rerun)
        runs["rerun"] = {"status": "ok", "message": "fine"}
    (res / "ingestion_result.json").write_text(json.dumps({"status": "ok", "duration": 1.0, "runs": runs}))
    return res


def labels(reference):
    return (reference / "test_labels.csv").read_text().splitlines()[1:]


def perfect(reference) -> str:
    return "id,probability\n" + "".join(f"{line.split(',')[0]},{line.split(',')[1]}\n" for line in labels(reference))


TABLE = "model,features,valid_auc\nbaseline,4,{b}\nnew,14,{n}\n"


def test_scorer_on_perfect_predictions_with_an_honest_reproduced_table(scorer, reference, tmp_path):
    facts = json.loads((reference / "facts.json").read_text())
    table = TABLE.format(b=facts["baseline_test_auc"], n=0.99)
    scored = scorer.score(reference, result_dir(tmp_path, perfect(reference), table, table))
    assert scored.scores["roc_auc"] == 1 and all(scored.scores[item] == 1 for item in ITEMS)


@pytest.mark.parametrize("change,message", [
    (lambda rows: rows[:-1], "test id(s) have no row"),
    (lambda rows: rows + [rows[0]], "appears again"),
    (lambda rows: rows + ["e_unknown,0.5"], "unknown id 'e_unknown'"),
    (lambda rows: [rows[0].split(",")[0] + ",nan"] + rows[1:], "line 2, column 'probability': 'nan' is not a finite"),
    (lambda rows: [rows[0].split(",")[0] + ",1.5"] + rows[1:], "line 2, column 'probability': 1.5 is outside"),
])
def test_malformed_predictions_are_rejected_with_file_line_and_column(scorer, reference, tmp_path, change, message):
    rows = perfect(reference).splitlines()[1:]
    res = result_dir(tmp_path, "id,probability\n" + "\n".join(change(rows)) + "\n")
    with pytest.raises(scorer.SubmissionError, match="predictions.csv") as error:
        scorer.score(reference, res)
    assert message in str(error.value)


@pytest.mark.parametrize("table,message", [
    ("model,auc\nbaseline,0.7\nnew,0.8\n", "comparison.csv (experiment run), line 1: missing column(s) valid_auc"),
    ("model,valid_auc\nbaseline,0.7\nnew,high\n", "comparison.csv (experiment run), line 3, column 'valid_auc': 'high' is"),
    ("model,valid_auc\nbaseline,0.7\nraw,0.8\n", "no row with model = new"),
    ("model,valid_auc\nbaseline,0.7\nnew,0.8\nNew,0.9\n", "line 4, column 'model': 'new' appears twice"),
])
def test_malformed_comparison_table_is_rejected(scorer, reference, tmp_path, table, message):
    with pytest.raises(scorer.SubmissionError) as error:
        scorer.score(reference, result_dir(tmp_path, perfect(reference), table))
    assert message in str(error.value)


BASELINE = {"valid": 0.72, "test": 0.71}


def test_comparison_item(rubric):
    assert rubric.comparison_item(None, 0.85, BASELINE, 0.05)[0] == 0
    assert rubric.comparison_item({"baseline": 0.73, "new": 0.84}, 0.85, BASELINE, 0.05)[0] == pytest.approx(1)
    assert rubric.comparison_item({"baseline": 0.73, "new": 0.96}, 0.85, BASELINE, 0.05)[0] == pytest.approx(0.25)
    assert rubric.comparison_item({"baseline": 0.60, "new": 0.84}, 0.85, BASELINE, 0.05)[0] == pytest.approx(0.4)
    assert rubric.comparison_item({"baseline": 0.90, "new": 0.60}, 0.85, BASELINE, 0.05)[0] == 0


def test_agreement_gap_shrinks_with_the_data(rubric):
    small, large = rubric.agreement_gap(0.8, 1000, 0.5, 250, 250), rubric.agreement_gap(0.8, 100000, 0.5, 25000, 25000)
    assert 0.05 < small < 0.15 and large == rubric.MIN_GAP


def test_an_unverified_table_discounts_the_model_items(rubric):
    assert rubric.trusted(1.0, "why", 1.0)[0] == 1 and rubric.trusted(1.0, "why", 0.5)[0] == pytest.approx(0.25)


def test_reproducible_item_and_scaled_items(rubric):
    table = {"baseline": 0.72, "new": 0.84}
    assert rubric.reproducible_item(table, dict(table), "compared")[0] == 1
    assert rubric.reproducible_item(table, {"baseline": 0.72, "new": 0.8400001}, "compared")[0] == 1
    assert rubric.reproducible_item(table, {"baseline": 0.72, "new": 0.841}, "compared")[0] == 0
    assert rubric.reproducible_item(table, None, "the second run failed")[0] == 0
    assert rubric.reproducible_item(None, table, "compared")[0] == 0
    assert rubric.reproducible_item(table, dict(table), "compared", table_right=False)[0] == 0
    assert rubric.improvement_item(0.76, 0.72)[0] == pytest.approx(0.5)
    assert rubric.improvement_item(0.70, 0.72)[0] == 0
    assert rubric.test_auc_item(0.5, 0.9)[0] == 0 and rubric.test_auc_item(0.83, 0.9)[0] == 1
    assert overall(dict.fromkeys(rubric.WEIGHTS, 1.0), rubric.WEIGHTS) == pytest.approx(1)


# --- the corpus: submissions written from the pages alone, honest and gaming ------------------------------

CORPUS = ROOT / "tests" / "corpus" / TASK


def group_of(name: str) -> str:
    return name.split("_")[0]


@pytest.fixture(scope="module")
def corpus(tiny_bundle, tmp_path_factory) -> dict[str, dict]:
    """Every corpus submission through the real ingestion (train.py, then experiment.ipynb twice) and scoring."""
    bundle, work = tiny_bundle(TASK), tmp_path_factory.mktemp("corpus")
    scores = {}
    for folder in sorted(path for path in CORPUS.iterdir() if (path / "train.py").is_file()):
        result = run_submission(bundle, folder, workdir=work / folder.name, log=quiet)
        assert result.ok, f"{folder.name}: {result.error}"
        scores[folder.name] = result.scores
    return scores


def test_the_corpus_is_ranked_as_a_reviewer_would(corpus):
    by_group = {group: [scores["score"] for name, scores in corpus.items() if group_of(name) == group]
                for group in ("competent", "weak", "gaming")}
    assert len(by_group["competent"]) >= 2 and by_group["weak"] and len(by_group["gaming"]) >= 3
    assert max(by_group["gaming"]) <= 0.3 < min(by_group["weak"])
    assert max(by_group["weak"]) < min(by_group["competent"]) and min(by_group["competent"]) >= 0.8


def test_gaming_tables_lose_the_table_and_reproducibility(corpus):
    for name in ("gaming_handtyped", "gaming_inflated", "gaming_baseline_fake_table"):
        assert corpus[name]["comparison_table"] < 0.5 and corpus[name]["reproducible"] == 0, name
