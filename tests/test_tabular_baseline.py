"""The tabular-baseline task: better programs score better; each rubric item is measured, not guessed."""
from __future__ import annotations

import pytest

from bundlegen.worker import run_submission
from conftest import ROOT, load_module, quiet, write_zip

sys_path = str(ROOT / "scoring_programs" / "tabular_baseline")


@pytest.fixture(scope="module")
def scorer():
    return load_module("tabular_scoring", ROOT / "scoring_programs" / "tabular_baseline" / "scoring.py")


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
    assert reference["roc_auc"] > 0.75 and reference["cv_metrics"] == 1 and reference["readme_snippet"] == 1
    assert reference["score"] > trivial["score"] + 0.3


def test_logistic_regression_variant_is_also_a_solid_baseline(tiny_bundle, tmp_path):
    files = {p.name: p.read_text() for p in SOLUTION.iterdir()}
    files["baseline.py"] = files["baseline.py"].replace('default="hgb"', 'default="logreg"')
    scores = run(tiny_bundle("tabular-baseline"), write_zip(tmp_path / "lr.zip", files), tmp_path / "run")
    assert 0.6 < scores["roc_auc"] < 1.0 and scores["cv_metrics"] == 1


FOLDS = "\n".join(f"fold {i}: roc_auc=0.8{i} accuracy=0.8{i}" for i in range(1, 6))


@pytest.mark.parametrize("stdout,test_auc,expected", [
    ("", 0.8, 0.0),
    ("training done", 0.8, 0.0),
    ("AUC: 0.81", 0.8, 0.0),  # no accuracy
    ("val_auc=0.81 val_accuracy=0.9", 0.8, 1 / 3 * 2),  # honest, but no sign of cross-validation
    ("5-fold CV: ROC AUC 0.99, accuracy 0.95", 0.8, 2 / 3),  # cross-validated, but not honest
    (FOLDS + "\nmean auc 0.83 acc 0.83", 0.8, 1.0),
    (FOLDS, 0.5, 2 / 3),  # last printed AUC (0.85) is 0.35 away from the test AUC
])
def test_cv_metrics_item(scorer, stdout, test_auc, expected):
    points, _ = scorer.cv_metrics_item(stdout, test_auc)
    assert points == pytest.approx(expected)


SCRIPT = 'p.add_argument("--data-dir"); p.add_argument("--output-dir"); p.add_argument("--folds")'


@pytest.mark.parametrize("readme,expected", [
    (None, 0.0),
    ("# My model\nIt is great.\n", 0.0),
    ("Run:\n```\npython baseline.py --data-dir data --output-dir out\n```\n", 1.0),
    ("`python3 ./baseline.py --folds 5`", 1.0),
    ("```bash\npython baseline.py --data data --epochs 3\n```", 0.5),  # options baseline.py does not define
])
def test_readme_snippet_item(scorer, readme, expected):
    points, _ = scorer.readme_snippet_item(readme, SCRIPT)
    assert points == expected


def test_overall_weights(scorer):
    assert scorer.overall({"roc_auc": 1, "accuracy": 1, "cv_metrics": 1, "readme_snippet": 1},
                          scorer.WEIGHTS) == pytest.approx(1)
    assert scorer.overall({"roc_auc": 0.5, "accuracy": 0.5, "cv_metrics": 0, "readme_snippet": 0},
                          scorer.WEIGHTS) == pytest.approx(0.4)


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
