"""The refactor-train-config task: the refactor must reproduce the original run, obey its config, log and
checkpoint every epoch, and keep none of the original's hyper-parameters as literals."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
import yaml

from bundlegen.definition import load_task
from bundlegen.worker import Bundle, run_submission
from conftest import ROOT, build_copy, copy_project, edit_definition, load_module, quiet, write_zip

TASK = "refactor-train-config"
SAMPLE = ROOT / "starting_kits" / TASK / "sample_submission"
PROGRAM = ROOT / "scoring_programs" / "refactor_train_config"
ITEMS = ("reproduces", "config_changes_run", "per_epoch_metrics", "checkpoints", "no_hard_coded")


@pytest.fixture(scope="module")
def rubric():
    load_module("refactor_train_config_scoring", PROGRAM / "scoring.py")
    import sys
    return sys.modules["refactor_train_config_rubric"]


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return tiny_bundle(TASK)


@pytest.fixture(scope="module")
def solution(bundle) -> dict[str, str]:
    with zipfile.ZipFile(bundle) as archive, zipfile.ZipFile(io.BytesIO(archive.read("solution.zip"))) as inner:
        return {name: inner.read(name).decode() for name in inner.namelist()}


@pytest.fixture(scope="module")
def facts(bundle, tmp_path_factory) -> dict:
    data = Bundle(bundle)
    folder = tmp_path_factory.mktemp("ref")
    data.extract_dataset(data.competition["tasks"][0]["reference_data"], folder)
    return json.loads((folder / "facts.json").read_text())


def run(bundle, submission, workdir):
    result = run_submission(bundle, submission, workdir=workdir, log=quiet)
    assert result.ok, result.error
    return result.scores


def variant(solution: dict[str, str], old: str, new: str) -> dict[str, str]:
    assert old in solution["train.py"], old
    return {**solution, "train.py": solution["train.py"].replace(old, new)}


def test_extra_runs_set_the_values_prepare_recorded_the_original_with(facts):
    runs = {run.name: run.config_edit.set for run in load_task(ROOT / "bundles" / TASK).model.submission.runs}
    assert runs == {"changed": facts["changed"], "relocated": facts["relocated"]}
    planted = facts["planted"]
    assert facts["changed"]["epochs"] != planted["epochs"] and facts["changed"]["learning_rate"] != planted["learning_rate"]
    assert len(facts["original_run"]["train_loss"]) == planted["epochs"]
    assert len(facts["changed_run"]["train_loss"]) == facts["changed"]["epochs"]


def test_the_original_script_holds_the_planted_values(bundle, facts, rubric):
    with zipfile.ZipFile(bundle) as archive, zipfile.ZipFile(io.BytesIO(archive.read("public_data.zip"))) as public:
        original = public.read("train.py").decode()
    score, rows = rubric.no_hard_coded_item({"train.py": original}, {}, facts["planted"])
    assert score == 0 and all(row[3] != "none" for row in rows)  # every value is found as a literal


def test_solution_gets_full_marks_and_the_unchanged_original_nothing(bundle, solution, tmp_path):
    scores = run(bundle, write_zip(tmp_path / "solution.zip", solution), tmp_path / "solution")
    assert all(scores[item] == 1 for item in ITEMS) and scores["score"] == pytest.approx(1)
    sample = run(bundle, SAMPLE, tmp_path / "sample")
    assert all(sample[item] == 0 for item in ITEMS) and sample["score"] == 0


def test_a_refactor_that_ignores_its_config(bundle, solution, tmp_path):
    """Hard-codes the original's values over whatever config.yaml says."""
    config = yaml.safe_load(solution["config.yaml"])
    hard = {**config["model"], **config["optimizer"], **config["training"], **config["output"], **config["data"]}
    files = variant(solution, "train(read_config(args.config), args.data_dir, args.output_dir)",
                    f"train({{**read_config(args.config), **{hard!r}}}, args.data_dir, args.output_dir)")
    scores = run(bundle, write_zip(tmp_path / "hard.zip", files), tmp_path / "run")
    assert scores["reproduces"] == 1 and scores["per_epoch_metrics"] == 1
    assert scores["config_changes_run"] == 0 and scores["no_hard_coded"] == 0
    assert scores["checkpoints"] == 0.5  # the relocated run still writes to checkpoints/
    assert scores["score"] < 0.7


def test_a_refactor_that_drifts_from_the_original(bundle, solution, tmp_path):
    files = variant(solution, 'np.random.seed(config["seed"])', 'np.random.seed(config["seed"] + 1)')
    scores = run(bundle, write_zip(tmp_path / "drift.zip", files), tmp_path / "run")
    assert scores["reproduces"] == 0 and scores["config_changes_run"] == 0.5  # obeys, but not like the original
    assert scores["per_epoch_metrics"] == 1 and scores["checkpoints"] == 1 and scores["no_hard_coded"] == 1


def test_a_refactor_without_metrics_or_checkpoints(bundle, solution, tmp_path):
    files = variant(solution, 'np.savez(checkpoints / f"epoch_{epoch:03d}.npz", **net.weights())', "pass")
    files = variant(files, 'with open(output_dir / config["metrics_file"], "w", newline="") as handle:',
                    'with open(output_dir / "elsewhere.csv", "w", newline="") as handle:')
    scores = run(bundle, write_zip(tmp_path / "quiet.zip", files), tmp_path / "run")
    assert scores["reproduces"] == scores["per_epoch_metrics"] == scores["checkpoints"] == 0
    assert scores["config_changes_run"] == 0 and scores["no_hard_coded"] == 1


def test_a_crash_is_an_error_not_a_score(bundle, tmp_path):
    crash = {"train.py": "import numpy\nraise KeyError('learning_rate')\n", "config.yaml": "epochs: 3\n"}
    result = run_submission(bundle, write_zip(tmp_path / "crash.zip", crash), workdir=tmp_path / "run", log=quiet)
    assert not result.ok and result.scores is None
    assert "train.py exited with code 1" in result.error and "KeyError: 'learning_rate'" in result.error


def test_malformed_metrics_are_rejected_with_file_line_and_column(bundle, solution, tmp_path):
    files = variant(solution, '"valid_accuracy": float(np.mean((p_valid > 0.5) == (yva == 1)))',
                    '"valid_accuracy": float("nan")')
    result = run_submission(bundle, write_zip(tmp_path / "nan.zip", files), workdir=tmp_path / "run", log=quiet)
    assert not result.ok and result.scores is None
    assert "metrics.csv, line 2, column 'valid_accuracy': 'nan' is not a finite number" in result.error


def test_a_program_past_the_time_limit_is_stopped(tmp_path, cache_dir):
    project = copy_project(tmp_path / "project", tasks=(TASK,))
    edit_definition(project, TASK, lambda d: d["submission"].update(time_limit=2))
    bundle = build_copy(project, TASK, tmp_path / "dist", cache_dir)
    sleeper = {"train.py": "import time\ntime.sleep(60)\n", "config.yaml": "epochs: 3\n"}
    result = run_submission(bundle, write_zip(tmp_path / "sleep.zip", sleeper), workdir=tmp_path / "run", log=quiet)
    assert not result.ok and result.scores is None
    assert "train.py did not finish within the time limit of 2 s" in result.error


# --- rubric functions on hand-made inputs -------------------------------------------------------------

PLANTED = {"learning_rate": 0.1372, "epochs": 9, "batch_size": 53, "seed": 4127, "hidden_units": 23,
           "weight_decay": 0.00031}


def test_no_hard_coded_item_counts_each_parameter(rubric):
    config = {"opt": {"learning_rate": 0.1372, "weight_decay": 0.00031}, "epochs": 9, "batch_size": 53,
              "seed": 4127, "model": [{"hidden_units": 23}]}
    clean = "import yaml\ncfg = yaml.safe_load(open('config.yaml'))\nfor e in range(1, cfg['epochs'] + 1):\n    pass\n"
    assert rubric.no_hard_coded_item({"train.py": clean}, config, PLANTED)[0] == 1
    # a default left in the code, and a literal hidden in a helper module: two parameters lost
    leaky = {"train.py": clean + "lr = cfg.get('learning_rate', 0.1372)\n", "util.py": "SEED = 4127\n"}
    score, rows = rubric.no_hard_coded_item(leaky, config, PLANTED)
    assert score == pytest.approx(4 / 6)
    assert dict((row[0], row[3]) for row in rows)["seed"] == "util.py:1"
    # a value missing from the config, or a different one, also loses the parameter
    assert rubric.no_hard_coded_item({"train.py": clean}, {**config, "epochs": 10}, PLANTED)[0] == pytest.approx(5 / 6)
    assert rubric.no_hard_coded_item({"train.py": clean}, None, PLANTED)[0] == 0


def test_reproduces_and_per_epoch_items(rubric):
    original = {"train_loss": [0.6, 0.5, 0.4], "valid_loss": 0.45, "valid_accuracy": 0.8}
    metrics = {"epoch": [1.0, 2.0, 3.0], "train_loss": [0.6, 0.5, 0.4 + 1e-9], "valid_loss": [0.5, 0.47, 0.45],
               "valid_accuracy": [0.7, 0.75, 0.8]}
    assert rubric.reproduces_item(metrics, original)[0] == 1
    assert rubric.reproduces_item({**metrics, "train_loss": [0.6, 0.5, 0.41]}, original)[0] == 0.5
    assert rubric.reproduces_item({**metrics, "valid_accuracy": [0.7, 0.75, 0.81]}, original)[0] == 0.5
    assert rubric.reproduces_item(None, original)[0] == 0
    assert rubric.per_epoch_item(metrics, 3)[0] == 1
    assert rubric.per_epoch_item({**metrics, "epoch": [0.0, 1.0, 2.0]}, 3)[0] == 0.5
    assert rubric.per_epoch_item(None, 3)[0] == 0
    assert rubric.config_changes_item(None, "the run 'changed' failed: config.yaml has no key 'epochs'",
                                      metrics, original, 3) == (0.0, "the run 'changed' failed: config.yaml has no key 'epochs'")
    assert rubric.checkpoints_item(3, 0, 3, "")[0] == 0.5 and rubric.checkpoints_item(3, 3, 3, "")[0] == 1
