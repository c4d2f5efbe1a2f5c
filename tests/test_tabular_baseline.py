"""The tabular-baseline task: better programs score better; each rubric item is measured, not guessed."""
from __future__ import annotations

import pytest

from bundlegen.worker import run_submission
from conftest import ROOT, load_module, quiet, write_zip

sys_path = str(ROOT / "scoring_programs" / "tabular_baseline")


@pytest.fixture(scope="module")
def rubric():
    return load_module("tabular_baseline_rubric", ROOT / "scoring_programs" / "tabular_baseline" /
                       "tabular_baseline_rubric.py")


CORPUS = ROOT / "tests" / "corpus" / "tabular-baseline"
REFERENCE = {"reference_auc": 0.86, "reference_accuracy": 0.83, "majority_accuracy": 0.56, "n_train": 400,
             "n_test": 200, "train_share_1": 0.42, "test_share_1": 0.44}


SOLUTION = ROOT / "starting_kits" / "tabular-baseline" / "solution"
TRIVIAL = ROOT / "starting_kits" / "tabular-baseline" / "sample_submission"


def run(bundle, submission, tmp_path):
    result = run_submission(bundle, submission, workdir=tmp_path, log=quiet)
    assert result.ok, result.error
    return result.scores


def test_reference_clearly_beats_the_trivial_baseline(tiny_bundle, tmp_path):
    bundle = tiny_bundle("tabular-baseline")
    reference = run(bundle, SOLUTION, tmp_path / "reference")
    trivial = run(bundle, TRIVIAL, tmp_path / "trivial")
    assert trivial["roc_auc"] == 0.5 and trivial["cv_metrics"] == 0 and trivial["readme_snippet"] == 0
    assert trivial["score"] < 0.1
    assert reference["roc_auc"] > 0.75 and reference["score"] == 1


def test_logistic_regression_variant_is_also_a_solid_baseline(tiny_bundle, tmp_path):
    files = {p.name: p.read_text() for p in SOLUTION.iterdir()}
    files["baseline.py"] = files["baseline.py"].replace('default="hgb"', 'default="logreg"')
    scores = run(tiny_bundle("tabular-baseline"), write_zip(tmp_path / "lr.zip", files), tmp_path / "run")
    assert 0.6 < scores["roc_auc"] < 1.0 and scores["cv_metrics"] == 1 and scores["score"] >= 0.9


def test_corpus_ranks_work_as_a_reviewer_would(tiny_bundle, tmp_path):
    """Every corpus submission through the real ingestion and scoring, on the hidden variant."""
    bundle = tiny_bundle("tabular-baseline")
    scores = {folder.name: run(bundle, folder, tmp_path / folder.name)["score"]
              for folder in sorted(CORPUS.iterdir()) if folder.is_dir()}
    kinds = {kind: [v for k, v in scores.items() if k.startswith(kind)] for kind in ("gaming", "weak")}
    honest = [v for k, v in scores.items() if k.startswith(("competent", "paraphrased"))]
    assert len(kinds["gaming"]) >= 3 and kinds["weak"] and len(honest) >= 3, scores
    assert max(kinds["gaming"]) <= 0.3 < min(kinds["weak"]), scores
    assert max(kinds["weak"]) < min(honest) and min(honest) >= 0.8, scores


def test_hidden_data_is_metamorphic(tmp_path):
    """Public files as before (their own stream); input_data another draw with other ids and a sharper signal;
    private/ describes input_data."""
    import json

    import pandas as pd

    from bundlegen.definition import load_task

    prepare = load_module("tabular_prepare", ROOT / "bundles" / "tabular-baseline" / "prepare.py")
    tiny = dict(load_task(ROOT / "bundles" / "tabular-baseline").scale("tiny").params)
    prepare.prepare(None, tmp_path, tiny, 0)
    public, hidden = (pd.read_csv(tmp_path / f / "train.csv", dtype={"id": str}) for f in ("public", "input_data"))
    assert list(public.columns) == list(hidden.columns) and not set(public["id"]) & set(hidden["id"])
    assert abs(public["target"].mean() - hidden["target"].mean()) > 0.1
    labels = pd.read_csv(tmp_path / "private" / "test_labels.csv", dtype={"id": str})
    test = pd.read_csv(tmp_path / "input_data" / "test.csv", dtype={"id": str})
    assert list(labels["id"]) == list(test["id"])
    reference = json.loads((tmp_path / "private" / "reference.json").read_text())
    assert reference["reference_auc"] > 0.8 and reference["n_test"] == tiny["n_test"]
    rng = __import__("numpy").random.default_rng(0)  # the public draw is the seed's main stream, untouched
    frame = prepare.synthetic_customers(tiny["n_train"] + tiny["n_test"], rng)
    assert (frame["target"].iloc[:tiny["n_train"]].to_numpy() == public["target"].to_numpy()).all()


FOLDS = "\n".join(f"fold {i}: roc_auc=0.8{i} accuracy=0.8{i}" for i in range(1, 6))
TEST = {"roc_auc": 0.83, "accuracy": 0.83}


@pytest.mark.parametrize("stdout,expected", [
    ("", 0.0),
    ("training done", 0.0),
    ("val_auc=0.83 val_accuracy=0.83", 0.2),  # an honest hold-out estimate, no cross-validation
    ("5-fold CV: ROC AUC 0.99, accuracy 0.95", 0.0),  # no folds, and not what the predictions score
    (FOLDS + "\nmean auc 0.83 acc 0.83", 1.0),
    ("\n".join(f"fold {i}: roc_auc=8{i} accuracy=8{i}" for i in range(1, 6)), 0.0),  # bare integers are no metrics
    ("\n".join(f"Split #{i} -> area under the ROC curve {81 + i}.0% | acc {81 + i}.5%" for i in range(1, 5)), 1.0),
    ("  fold  roc_auc  accuracy\n0 1 0.82 0.81\n1 2 0.84 0.85\n2 3 0.83 0.83\n", 1.0),  # a pandas table
    ("\n".join(f"fold {i}: roc_auc=0.83 accuracy=0.83" for i in range(1, 6)), 0.0),  # one number repeated
    (FOLDS + "\nmean auc 0.70 acc 0.83", 0.6),  # the mean AUC is not what the predictions score
])
def test_cv_metrics_item(rubric, stdout, expected):
    points, _ = rubric.cv_metrics_item(rubric.printed_metrics(stdout), TEST, REFERENCE)
    assert points == pytest.approx(expected)


def test_cv_metrics_json_is_read_and_bad_json_names_the_field(rubric):
    from programlib import SubmissionError

    good = ('{"model": "LogisticRegression", "folds": [{"roc_auc": 0.82, "accuracy": "83 %"}, '
            '{"auc": 84, "acc": 0.84}, {"roc_auc": 0.83, "accuracy": 0.82}]}')
    points, facts = rubric.cv_metrics_item(rubric.json_metrics(good), TEST, REFERENCE)
    assert points == 1.0 and facts["source"] == "cv_metrics.json"
    for bad, message in [("{", "not valid JSON"), ("[]", "the top level"), ('{"folds": 3}', "field 'folds'"),
                         ('{"folds": [{"roc_auc": "high"}]}', "field 'folds.0..roc_auc'"),
                         ('{"folds": [{"roc_auc": 250}]}', "field 'folds.0..roc_auc'"),
                         ('{"folds": [5]}', "field 'folds.0.'")]:
        with pytest.raises(SubmissionError, match=message):
            rubric.json_metrics(bad)


@pytest.mark.parametrize("name,script,auc_points,expected", [
    (None, "model = LogisticRegression(max_iter=100)", 1.0, 1.0),
    ("RandomForestClassifier", "", 0.9, 1.0),
    (None, "from sklearn.linear_model import LogisticRegression  # unused", 0.0, 0.0),
    ("LogisticRegression", "", 0.0, 0.0),  # named, but the predictions carry no signal
    ("KNeighborsClassifier", "KNeighborsClassifier()", 1.0, 0.0),
])
def test_model_family_item(rubric, name, script, auc_points, expected):
    assert rubric.model_family_item(name, script, auc_points)[0] == expected


SCRIPT = 'p.add_argument("--data-dir"); p.add_argument("--output-dir"); p.add_argument("--folds")'


@pytest.mark.parametrize("readme,expected", [
    (None, 0.0),
    ("# My model\nIt is great.\n", 0.0),
    ("Run:\n```\npython baseline.py --data-dir data --output-dir out\n```\n", 1.0),
    ("`python3 ./baseline.py --folds 5`", 1.0),
    ("```bash\npython baseline.py --data data --epochs 3\n```", 0.5),  # options baseline.py does not define
])
def test_readme_snippet_item(rubric, readme, expected):
    points, _ = rubric.readme_snippet_item(readme, SCRIPT)
    assert points == expected


def test_weights_sum_to_one(rubric):
    assert sum(rubric.WEIGHTS.values()) == pytest.approx(1)


def test_scoring_program_runs_by_hand(tiny_bundle, tmp_path):
    """`python scoring.py IN OUT` on a laptop: IN holds ref/ and res/."""
    import shutil
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    run_submission(tiny_bundle("tabular-baseline"), SOLUTION, workdir=run_dir, log=quiet)
    shutil.copytree(run_dir / "scoring" / "input", tmp_path / "in")
    result = subprocess.run([sys.executable, "scoring.py", str(tmp_path / "in"), str(tmp_path / "out")],
                            cwd=sys_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "scores.json").read_text() == (run_dir / "scoring" / "output" / "scores.json").read_text()
