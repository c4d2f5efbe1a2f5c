"""The model-comparison task: the notebook runs, its numbers are the scorer's, and it ships the favoured model."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bundlegen.worker import run_submission
from conftest import ROOT, build_copy, copy_project, edit_definition, load_module, quiet, write_zip

TASK = "model-comparison"
ENTRY = "comparison.ipynb"
KIT = ROOT / "starting_kits" / TASK
SOLUTION = json.loads((KIT / "solution" / ENTRY).read_text())


@pytest.fixture(scope="module")
def rubric():
    return load_module("model_comparison_rubric",
                       ROOT / "scoring_programs" / "model_comparison" / "model_comparison_rubric.py")


@pytest.fixture(scope="module")
def prepare():
    return load_module("model_comparison_prepare", ROOT / "bundles" / TASK / "prepare.py")


def edited(old: str, new: str) -> str:
    """The solution notebook with one piece of code replaced."""
    notebook = json.loads(json.dumps(SOLUTION))
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    hits = [i for i, source in enumerate(sources) if old in source]
    assert len(hits) == 1, old
    notebook["cells"][hits[0]]["source"] = sources[hits[0]].replace(old, new)
    return json.dumps(notebook)


def run(bundle, notebook: str, tmp_path, name: str):
    return run_submission(bundle, write_zip(tmp_path / f"{name}.zip", {ENTRY: notebook}),
                          workdir=tmp_path / name, log=quiet)


def scores_of(bundle, notebook: str, tmp_path, name: str) -> dict:
    result = run(bundle, notebook, tmp_path, name)
    assert result.ok, result.error
    return result.scores


def test_solution_full_marks_sample_and_empty_notebook_fail(tiny_bundle, tmp_path):
    bundle = tiny_bundle(TASK)
    solution = scores_of(bundle, json.dumps(SOLUTION), tmp_path, "solution")
    assert {key: solution[key] for key in ("executes", "metrics_match", "disagreement", "conclusion", "score")} == {
        "executes": 1, "metrics_match": 1, "disagreement": 1, "conclusion": 1, "score": 1}
    sample = scores_of(bundle, (KIT / "sample_submission" / ENTRY).read_text(), tmp_path, "sample")
    assert sample["executes"] == 1 and sample["metrics_match"] == sample["disagreement"] == sample["conclusion"] == 0
    empty = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    scores = scores_of(bundle, json.dumps(empty), tmp_path, "empty")
    assert scores["score"] == 0 and scores["executes"] == 0


def test_choosing_by_accuracy_fails_the_conclusion(tiny_bundle, tmp_path):
    notebook = edited("other = next(model for model in MODELS if model != chosen)\n"
                      "by_accuracy = max(MODELS, key=lambda model: metrics[model][\"accuracy\"])",
                      "by_accuracy = max(MODELS, key=lambda model: metrics[model][\"accuracy\"])\n"
                      "chosen = by_accuracy\nother = next(model for model in MODELS if model != chosen)")
    scores = scores_of(tiny_bundle(TASK), notebook, tmp_path, "accuracy")
    assert scores["conclusion"] == 0
    assert scores["metrics_match"] == 1 and scores["disagreement"] == 1 and scores["executes"] == 1


def test_a_wrong_threshold_gives_wrong_metrics(tiny_bundle, tmp_path):
    notebook = edited('THRESHOLD = float(priorities["decision_threshold"])', "THRESHOLD = 0.3")
    scores = scores_of(tiny_bundle(TASK), notebook, tmp_path, "threshold")
    # The two ROC AUCs need no threshold and still match; a recall of 1.0 may too. The rest is wrong.
    assert 0.2 <= scores["metrics_match"] <= 0.3
    assert scores["disagreement"] < 1


def test_a_failing_cell_is_named(tiny_bundle, tmp_path):
    notebook = edited('model_b = pd.read_csv(DATA_DIR / "predictions_model_B.csv"',
                      'model_b = pd.read_csv(DATA_DIR / "predictions_B.csv"')
    result = run(tiny_bundle(TASK), notebook, tmp_path, "crash")
    assert not result.ok and result.scores is None
    assert "cell 2 of" in result.error and "predictions_B.csv" in result.error


def test_a_notebook_past_the_time_limit_is_stopped(tmp_path, cache_dir):
    project = copy_project(tmp_path / "project", tasks=(TASK,))
    edit_definition(project, TASK, lambda d: d["submission"].update(time_limit=8))
    bundle = build_copy(project, TASK, tmp_path / "dist", cache_dir)
    slow = edited("THRESHOLD = float(", "import time\ntime.sleep(120)\nTHRESHOLD = float(")
    result = run(bundle, slow, tmp_path, "slow")
    assert not result.ok and "did not finish within the time limit of 8 s" in result.error


# --- the planted data ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["recall", "precision", "roc_auc", "cost"])
@pytest.mark.parametrize("threshold", [0.4, 0.6])
def test_the_favoured_model_has_the_lower_accuracy(prepare, kind, threshold):
    rng = np.random.default_rng(7)
    labels = (rng.random(300) < prepare.PREVALENCE).astype(int)
    costs = {"false_negative": 5, "false_positive": 1}
    favoured, rival = prepare.planted(kind, labels, threshold, costs, rng)
    good, other = prepare.metrics(labels, favoured, threshold), prepare.metrics(labels, rival, threshold)
    assert good["accuracy"] < other["accuracy"]
    assert prepare.primary_value(kind, good, costs) > prepare.primary_value(kind, other, costs)


def test_prepared_files(prepare, tmp_path):
    prepare.prepare(None, tmp_path, "tiny", 0)
    names = ["validation_labels.csv", "predictions_model_A.csv", "predictions_model_B.csv", "priorities.yaml"]
    for name in names:
        assert (tmp_path / "public" / name).read_bytes() == (tmp_path / "input_data" / name).read_bytes()
    tables = [pd.read_csv(tmp_path / "public" / name, dtype={"id": str}) for name in names[:3]]
    assert all(set(t["id"]) == set(tables[0]["id"]) for t in tables)
    assert list(tables[1]["id"]) != list(tables[0]["id"]) != list(tables[2]["id"])  # join by id, not position
    facts = json.loads((tmp_path / "private" / "facts.json").read_text())
    assert facts["favoured_model"] != facts["accuracy_leader"]
    favoured = set()
    for seed in range(12):  # the letter and the priority change with the seed
        prepare.prepare(None, tmp_path / str(seed), "tiny", seed)
        facts = json.loads((tmp_path / str(seed) / "private" / "facts.json").read_text())
        favoured.add((facts["favoured_model"], facts["priority"]))
    assert {model for model, _ in favoured} == {"model_A", "model_B"} and len({p for _, p in favoured}) >= 3


# --- the rubric's pure functions -------------------------------------------------------------------

def notebook_of(*cells):
    from programlib.notebooks import Cell, Notebook

    return Notebook(path=None, cells=[Cell(kind=kind, source=source, text_outputs=list(outputs), executed=True)
                                      for kind, source, outputs in cells])


GOOD = {"metrics": {model: {metric: 0.5 for metric in ("accuracy", "precision", "recall", "f1", "roc_auc")}
                    for model in ("model_A", "model_B")},
        "disagreements": {"count": 3}, "chosen_model": "model_B"}


@pytest.mark.parametrize("change,message", [
    (lambda d: d.pop("chosen_model"), "field 'chosen_model' is missing"),
    (lambda d: d["metrics"].pop("model_A"), "field 'metrics.model_A' is missing"),
    (lambda d: d["metrics"]["model_B"].update(recall="high"), "'metrics.model_B.recall': 'high' is not a number"),
    (lambda d: d.update(disagreements=3), "field 'disagreements': expected an object"),
    (lambda d: d["disagreements"].update(count=2.5), "'disagreements.count': 2.5 is not a count"),
    (lambda d: d.update(chosen_model="B"), "'chosen_model': 'B' is not one of model_A, model_B"),
])
def test_malformed_comparison_names_the_field(rubric, change, message):
    from programlib import SubmissionError

    document = json.loads(json.dumps(GOOD))
    change(document)
    with pytest.raises(SubmissionError, match="comparison.json") as error:
        rubric.parse_comparison(document)
    assert message in str(error.value)
    with pytest.raises(SubmissionError, match="the top level"):
        rubric.parse_comparison([GOOD])


def test_disagreement_item(rubric):
    disagreeing = {f"r{i:06d}" for i in range(20)}
    table = "\n".join(f"r{i:06d}  0.7  0.3" for i in range(10))
    mixed = "\n".join(f"r{i:06d}" for i in range(15, 30))  # 5 of 15 disagree
    reported = rubric.parse_comparison(GOOD)
    points, facts = rubric.disagreement_item(reported, notebook_of(("code", "x", [mixed]), ("code", "y", [table])),
                                             disagreeing)
    assert points == 0.5 and facts["shown"] and not facts["count_right"]
    points, facts = rubric.disagreement_item(reported, notebook_of(("code", "x", [mixed])), disagreeing)
    assert points == 0 and not facts["shown"]
    few = {"r000001", "r000002", "r000003"}
    points, _ = rubric.disagreement_item(reported, notebook_of(("code", "x", ["r000001 r000002 r000003"])), few)
    assert points == 1


@pytest.mark.parametrize("cells,chosen,expected", [
    ([("markdown", "**Conclusion:** ship model_B, whose recall is higher than model_A's.", [])], "model_B", 1.0),
    ([("code", "print(...)", ["Conclusion: we ship Model B"]), ("code", "", [])], "model_B", 1.0),
    ([("markdown", "Ship model_A.", []), ("code", "display(...)", ["Ship model_B"])], "model_B", 1.0),
    ([("code", "display(...)", ["Ship model_B"]), ("markdown", "We ship model_A.", [])], "model_B", 0.0),
    ([("markdown", "ship model_A or ship model_B?", [])], "model_B", 0.0),
    ([("markdown", "model_B is better.", [])], "model_B", 0.5),
    ([("markdown", "ship model_B", [])], "model_A", 0.0),
])
def test_conclusion_item(rubric, cells, chosen, expected):
    reported = rubric.parse_comparison({**GOOD, "chosen_model": chosen})
    assert rubric.conclusion_item(reported, notebook_of(*cells), "model_B")[0] == expected
    assert rubric.conclusion_item(None, notebook_of(*cells), "model_B")[0] == 0


def test_executes_item(rubric):
    from programlib.notebooks import Cell, Notebook

    assert rubric.executes_item(notebook_of(("markdown", "# only words", [])))[0] == 0
    assert rubric.executes_item(notebook_of(("code", "x = 1", [])))[0] == 1
    failed = Notebook(path=None, cells=[Cell(kind="code", source="1/0", executed=True, error="ZeroDivisionError: x")])
    assert rubric.executes_item(failed)[0] == 0
