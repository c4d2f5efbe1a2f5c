"""The refactor-train-config task: on hidden data, the refactor must reproduce the original run, change exactly
as the original does when any constant is changed in its config, log and checkpoint every epoch; and a corpus of
honest and gaming submissions is ranked as a reviewer would."""
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


def draw_files(bundle, task_index: int, tmp_path) -> tuple[dict, dict]:
    """A hidden draw's facts.json and the run values its input data gives the ingestion program."""
    data = Bundle(bundle)
    task = data.competition["tasks"][task_index]
    for field in ("reference_data", "input_data"):
        data.extract_dataset(task[field], tmp_path / f"{task_index}-{field}")
    return (json.loads((tmp_path / f"{task_index}-reference_data" / "facts.json").read_text()),
            json.loads((tmp_path / f"{task_index}-input_data" / "run_values.json").read_text()))


def test_extra_runs_set_the_values_prepare_recorded_the_original_with(bundle, facts, rubric, tmp_path):
    edits = [run.config_edit for run in load_task(ROOT / "bundles" / TASK).model.submission.runs]
    assert all(edit.set is None and edit.set_from == "run_values.json" for edit in edits)
    draws = [draw_files(bundle, index, tmp_path) for index in (0, 1)]
    assert draws[0][0] == facts
    names = {run.name for run in load_task(ROOT / "bundles" / TASK).model.submission.runs}
    for draw_facts, values in draws:  # the ingestion program sets what prepare recorded the original with
        assert values == {**draw_facts["runs"], "relocated": draw_facts["relocated"]} and set(values) == names
    # The final phase's draw changes other values: the six drawn from ranges always differ (the three drawn from a
    # few choices may coincide), so what the development phase's runs set does not tell the final one's.
    assert sum(draws[0][1][name] != draws[1][1][name] for name in facts["runs"]) >= 6
    assert set(facts["runs"]) == set(rubric.CONSTANTS) == set(facts["defaults"])  # every constant has its run
    original = facts["original_run"]
    assert len(original["train_loss"]) == len(original["epoch_valid_loss"]) == facts["defaults"]["epochs"]
    for name, change in facts["runs"].items():
        assert change == {name: change[name]} and change[name] != facts["defaults"][name]
        run = facts["changed_runs"][name]
        # each changed run is far from the default one: a value read and ignored cannot pass for obeyed
        moved = len(run["train_loss"]) != len(original["train_loss"]) or abs(run["valid_loss"] - original["valid_loss"]) > 1e-3
        assert moved, name


def test_hidden_inputs_differ_from_the_public_ones(bundle):
    with zipfile.ZipFile(bundle) as archive:
        public, hidden = (zipfile.ZipFile(io.BytesIO(archive.read(name))) for name in ("public_data.zip", "input_data.zip"))
    assert public.read("train.py") == hidden.read("train.py")
    for name in ("train.csv", "valid.csv"):
        assert public.read(name).splitlines()[0] == hidden.read(name).splitlines()[0]
        assert not set(public.read(name).splitlines()[1:]) & set(hidden.read(name).splitlines()[1:])


def test_the_original_script_holds_the_planted_values(bundle, facts, rubric):
    with zipfile.ZipFile(bundle) as archive, zipfile.ZipFile(io.BytesIO(archive.read("public_data.zip"))) as public:
        original = public.read("train.py").decode()
    score, rows = rubric.no_hard_coded_item({"train.py": original}, {}, facts["defaults"])
    assert score == 0 and all(row[2] != "none" for row in rows if row[0] in facts["planted"])  # found as literals


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
    assert scores["config_changes_run"] == 0 and scores["no_hard_coded"] == pytest.approx(3 / 9)  # 6 literals
    assert scores["checkpoints"] == 0.5  # the relocated run still writes to checkpoints/
    assert scores["score"] <= 0.2


def test_a_refactor_that_drifts_from_the_original(bundle, solution, tmp_path):
    files = variant(solution, 'np.random.seed(config["seed"])', 'np.random.seed(config["seed"] + 1)')
    scores = run(bundle, write_zip(tmp_path / "drift.zip", files), tmp_path / "run")
    assert scores["reproduces"] == 0 and scores["config_changes_run"] == 0.25  # obeys, but not like the original
    assert scores["per_epoch_metrics"] == 0.5  # numbered, but not the original's numbers
    assert scores["checkpoints"] == 1 and scores["no_hard_coded"] == 1


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
           "weight_decay": 0.00031, "momentum": 0.9, "lr_decay": 0.95, "probability_clip": 1e-7}


def test_no_hard_coded_item_counts_each_parameter(rubric):
    config = {"opt": {"learning_rate": 0.1372, "weight_decay": 0.00031, "momentum": 0.9, "lr_decay": 0.95},
              "epochs": 9, "batch_size": 53, "seed": 4127, "model": [{"hidden_units": 23, "probability_clip": 1e-7}]}
    clean = "import yaml\ncfg = yaml.safe_load(open('config.yaml'))\nfor e in range(1, cfg['epochs'] + 1):\n    pass\n"
    assert rubric.no_hard_coded_item({"train.py": clean}, config, PLANTED)[0] == 1
    # a default left in the code, and a literal hidden in a helper module: two parameters lost
    leaky = {"train.py": clean + "lr = cfg.get('learning_rate', 0.1372)\n", "util.py": "SEED = 4127\n"}
    score, rows = rubric.no_hard_coded_item(leaky, config, PLANTED)
    assert score == pytest.approx(7 / 9)
    assert dict((row[0], row[2]) for row in rows)["seed"] == "util.py:1"
    # a common value (0.9) may appear in code: only the planted, recognisable values count as literals
    assert rubric.no_hard_coded_item({"train.py": clean + "beta = 0.9\n"}, config, PLANTED)[0] == 1
    # a value missing from the config, or a different one, also loses the parameter
    assert rubric.no_hard_coded_item({"train.py": clean}, {**config, "epochs": 10}, PLANTED)[0] == pytest.approx(8 / 9)
    assert rubric.no_hard_coded_item({"train.py": clean}, None, PLANTED)[0] == 0


def test_reproduces_and_per_epoch_items(rubric):
    original = {"train_loss": [0.6, 0.5, 0.4], "valid_loss": 0.45, "valid_accuracy": 0.8,
                "epoch_valid_loss": [0.5, 0.47, 0.45], "epoch_valid_accuracy": [0.7, 0.75, 0.8]}
    metrics = {"epoch": [1.0, 2.0, 3.0], "train_loss": [0.6, 0.5, 0.4 + 1e-9], "valid_loss": [0.5, 0.47, 0.45],
               "valid_accuracy": [0.7, 0.75, 0.8]}
    assert rubric.reproduces_item(metrics, original)[0] == 1
    assert rubric.reproduces_item({**metrics, "train_loss": [0.6, 0.5, 0.41]}, original)[0] == 0.5
    assert rubric.reproduces_item({**metrics, "valid_accuracy": [0.7, 0.75, 0.81]}, original)[0] == 0.5
    assert rubric.reproduces_item(None, original)[0] == 0
    assert rubric.per_epoch_item(metrics, original)[0] == 1
    assert rubric.per_epoch_item({**metrics, "epoch": [0.0, 1.0, 2.0]}, original)[0] == 0.5
    assert rubric.per_epoch_item({**metrics, "valid_loss": [0.45, 0.45, 0.45]}, original)[0] == 0.5
    assert rubric.per_epoch_item(None, original)[0] == 0
    note = "the run 'epochs' failed: config.yaml has no key 'epochs'"
    assert rubric.constant_item("epochs", None, note, metrics, original) == (0.0, note)
    assert rubric.constant_item("epochs", metrics, "", metrics, original)[0] == 1
    ignored = {**metrics, "train_loss": [0.6, 0.5, 0.39]}  # matches the default run, not the changed original
    assert rubric.constant_item("epochs", metrics, "", metrics, {**original, "train_loss": [0.6, 0.5]})[0] == 0
    assert rubric.constant_item("epochs", ignored, "", {**metrics, "valid_loss": [0.5, 0.47, 0.4]}, original)[0] == 0.25
    assert rubric.checkpoints_item(3, 0, 3, "")[0] == 0.5 and rubric.checkpoints_item(3, 3, 3, "")[0] == 1


def test_the_score_ranks_config_before_polish(rubric):
    assert rubric.combine(1, 1) == 1 and rubric.combine(0, 1) == pytest.approx(0.2)
    assert rubric.combine(2 / 3, 1) < 0.8 <= rubric.combine(1, 0.6)


# --- the corpus: submissions written from the pages alone, honest and gaming ------------------------------

CORPUS = ROOT / "tests" / "corpus" / TASK
CORPUS_NAMES = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())


def group_of(name: str) -> str:
    return "competent" if name.startswith(("competent", "paraphrased")) else name.split("_")[0]


@pytest.fixture(scope="module")
def corpus(bundle, tmp_path_factory) -> dict[str, tuple[dict, str]]:
    """Every corpus submission through the real worker (ingestion, its sandbox, scoring): (scores, report)."""
    work, found = tmp_path_factory.mktemp("corpus"), {}
    for name in CORPUS_NAMES:
        files = {path.name: path.read_bytes() for path in (CORPUS / name).iterdir()}
        result = run_submission(bundle, write_zip(work / f"{name}.zip", files), workdir=work / name, log=quiet)
        assert result.ok, (name, result.error)
        found[name] = result.scores, result.detailed_results.read_text()
    return found


def test_the_corpus_is_ranked_as_a_reviewer_would(corpus):
    by_group = {group: [corpus[name][0]["score"] for name in corpus if group_of(name) == group]
                for group in ("competent", "weak", "gaming")}
    assert len(by_group["competent"]) >= 3 and by_group["weak"] and len(by_group["gaming"]) >= 3
    assert max(by_group["gaming"]) <= 0.3 < min(by_group["weak"])
    assert max(by_group["weak"]) < min(by_group["competent"]) and min(by_group["competent"]) >= 0.8


def test_the_corpus_loses_points_for_the_right_reasons(corpus):
    scores = {name: result[0] for name, result in corpus.items()}
    for name in ("gaming_disguised_literals", "gaming_ignores_config"):
        assert scores[name]["config_changes_run"] == 0 and scores[name]["reproduces"] == 1
    assert scores["gaming_pasted_metrics"]["reproduces"] == 0  # the public run's numbers, not the hidden data's
    assert scores["weak_six_constants"]["config_changes_run"] == pytest.approx(6 / 9)
    assert scores["weak_three_constants"]["config_changes_run"] == pytest.approx(3 / 9)


def test_detailed_results_say_why_without_hidden_numbers(corpus, facts):
    html = corpus["gaming_disguised_literals"][1]
    assert "changing momentum in the config leaves the run as it was" in html
    weak = corpus["weak_six_constants"][1]
    assert "has no key &#x27;lr_decay&#x27;" in weak and "changes the run exactly" in weak
    hidden = [facts["original_run"]["valid_loss"], *facts["original_run"]["train_loss"],
              *(run["valid_loss"] for run in facts["changed_runs"].values())]
    for _, page in corpus.values():
        assert not any(f"{value:.6f}" in page or repr(value) in page for value in hidden)
