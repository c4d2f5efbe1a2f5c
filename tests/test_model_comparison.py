"""The model-comparison task: the notebook runs, its numbers are the scorer's, and it ships the favoured model."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from bundlegen.definition import load_task
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
@pytest.mark.parametrize("rates", ["public", "hidden-narrow", "hidden-wide"])
def test_the_favoured_model_has_the_lower_accuracy(prepare, kind, threshold, rates):
    rng = np.random.default_rng(7)
    prevalence, spread = {"public": (prepare.PREVALENCE, 1.0), "hidden-narrow": (prepare.HIDDEN_PREVALENCE, 0.8),
                          "hidden-wide": (prepare.HIDDEN_PREVALENCE, 1.25)}[rates]
    assert rates == "public" or spread in prepare.HIDDEN_SPREADS
    labels = (rng.random(3000) < prevalence).astype(int)
    costs = {"false_negative": 5, "false_positive": 1}
    favoured, rival = prepare.planted(kind, labels, threshold, costs, rng, prevalence, spread)
    good, other = prepare.metrics(labels, favoured, threshold), prepare.metrics(labels, rival, threshold)
    assert good["accuracy"] < other["accuracy"]
    assert prepare.primary_value(kind, good, costs) > prepare.primary_value(kind, other, costs)


def test_prepared_files(prepare, tmp_path):
    tiny = dict(load_task(ROOT / "bundles" / TASK).scale("tiny").params)
    prepare.prepare(None, tmp_path, tiny, 0)
    names = ["validation_labels.csv", "predictions_model_A.csv", "predictions_model_B.csv", "priorities.yaml"]
    facts = json.loads((tmp_path / "private" / "facts.json").read_text())
    for folder in ("public", "input_data"):
        tables = [pd.read_csv(tmp_path / folder / name, dtype={"id": str}) for name in names[:3]]
        assert all(set(t["id"]) == set(tables[0]["id"]) for t in tables) and len(tables[0]) == tiny["n_rows"]
        assert list(tables[1]["id"]) != list(tables[0]["id"]) != list(tables[2]["id"])  # join by id, not position
    assert facts["favoured_model"] != facts["accuracy_leader"]
    assert_hidden_data_is_metamorphic(tmp_path, facts)
    favoured = set()
    for seed in range(12):  # the letter and the priority change with the seed
        prepare.prepare(None, tmp_path / str(seed), tiny, seed)
        facts = json.loads((tmp_path / str(seed) / "private" / "facts.json").read_text())
        favoured.add((facts["favoured_model"], facts["priority"]))
    assert {model for model, _ in favoured} == {"model_A", "model_B"} and len({p for _, p in favoured}) >= 3


def assert_hidden_data_is_metamorphic(out, facts):
    """input_data is another draw: same primary metric, another threshold, the other model favoured, new ids, and
    none of the public answers right by chance; private/ describes input_data, not the public files."""
    public, hidden = (yaml.safe_load((out / folder / "priorities.yaml").read_text())
                      for folder in ("public", "input_data"))
    assert public["primary_metric"] == hidden["primary_metric"]
    assert public["decision_threshold"] != hidden["decision_threshold"] == facts["threshold"]
    assert facts["public"]["favoured_model"] != facts["favoured_model"]
    assert facts["public"]["disagreements"] != len(facts["disagreeing_ids"])
    for model in ("model_A", "model_B"):
        for metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            assert abs(facts["public"]["metrics"][model][metric] - facts["metrics"][model][metric]) > 0.002
    public_ids = set(pd.read_csv(out / "public" / "validation_labels.csv", dtype={"id": str})["id"])
    rows = pd.read_csv(out / "private" / "hidden_rows.csv", dtype={"id": str})
    assert not public_ids & set(rows["id"])
    labels = pd.read_csv(out / "input_data" / "validation_labels.csv", dtype={"id": str})
    for letter in "AB":
        table = pd.read_csv(out / "input_data" / f"predictions_model_{letter}.csv", dtype={"id": str})
        joined = rows.merge(table, on="id").merge(labels, on="id", suffixes=("", "_file"))
        assert len(joined) == len(rows) and (joined[f"model_{letter}"] == joined["probability"]).all()
        assert (joined["label"] == joined["label_file"]).all()
        threshold = facts["threshold"]
        assert joined.eval(f"(probability >= {threshold}) == (label == 1)").mean() == pytest.approx(
            facts["metrics"][f"model_{letter}"]["accuracy"])


def test_public_data_and_determinism(prepare, tmp_path):
    """The public files do not depend on the hidden draw (they are what participants develop on), and the same
    seed gives the same bytes everywhere."""
    tiny = dict(load_task(ROOT / "bundles" / TASK).scale("tiny").params)
    for copy in ("one", "two"):
        prepare.prepare(None, tmp_path / copy, tiny, 5)
    for path in sorted((tmp_path / "one").rglob("*.*")):
        assert path.read_bytes() == (tmp_path / "two" / path.relative_to(tmp_path / "one")).read_bytes(), path
    rng = np.random.default_rng(5)
    public = prepare.draw_variant(rng, tiny["n_rows"])
    (tmp_path / "alone").mkdir()
    prepare.write_variant(tmp_path / "alone", public, rng)
    for name in ("validation_labels.csv", "predictions_model_A.csv", "priorities.yaml"):
        assert (tmp_path / "alone" / name).read_bytes() == (tmp_path / "one" / "public" / name).read_bytes()


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
    (lambda d: d["metrics"]["model_B"].pop("f1"), "field 'metrics.model_B.f1' is missing"),
    (lambda d: d["metrics"]["model_B"].update(recall="high"), "'metrics.model_B.recall': 'high' is not a number"),
    (lambda d: d["metrics"]["model_B"].update(recall=float("nan")), "'metrics.model_B.recall': nan is not a number"),
    (lambda d: d.update(metrics=[1, 2]), "field 'metrics': expected an object"),
    (lambda d: d.update(disagreements="many"), "field 'disagreements': 'many' is not a count"),
    (lambda d: d["disagreements"].update(count=2.5), "'disagreements.count': 2.5 is not a count"),
    (lambda d: d.update(chosen_model="model_C"), "'chosen_model': 'model_C' is not one of model_A, model_B"),
    (lambda d: d.update(chosen_model="model_A or model_B"), "'chosen_model': 'model_A or model_B' is not one"),
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


def test_comparison_json_is_read_as_a_reviewer_reads_it(rubric):
    """Any spelling of the models and metrics, percentages, numbers as text, a bare count or the list of ids."""
    document = {"Metrics": {"Model A": {"Accuracy": "84%", "Precision": 0.7, "Recall": 0.6, "F1 score": 0.65,
                                        "AUROC": 89.5, "average_precision": 0.8},
                            "model-b": {"acc": "0.8", "PPV": 0.5, "sensitivity": 0.9, "f1": 0.64, "AUC": 0.9}},
                "disagreements": 57, "recommended_model": "Model B (its recall is higher)"}
    parsed = rubric.parse_comparison(document)
    assert parsed["metrics"]["model_A"] == {"accuracy": 0.84, "precision": 0.7, "recall": 0.6, "f1": 0.65,
                                            "roc_auc": 89.5}
    assert parsed["metrics"]["model_B"]["accuracy"] == 0.8 and parsed["metrics"]["model_B"]["roc_auc"] == 0.9
    assert parsed["disagreements"] == 57 and parsed["chosen_model"] == "model_B"
    listed = rubric.parse_comparison({**GOOD, "disagreements": ["r000001", "r000002"], "chosen_model": "a"})
    assert listed["disagreements"] == 2 and listed["chosen_model"] == "model_A"
    assert rubric.parse_comparison({**GOOD, "disagreements": {"count": 7.0}})["disagreements"] == 7


# --- checks against the hidden data -----------------------------------------------------------------

@pytest.fixture(scope="module")
def world(prepare, rubric):
    """Hidden data as the scorer gets it (facts and rows), and a way to report metrics computed at any threshold."""
    rng = np.random.default_rng(3)
    public = prepare.draw_variant(rng, 400)
    hidden = prepare.draw_hidden(rng, 400, public)
    facts = {**prepare.facts_of(hidden), "public": prepare.public_summary(prepare.facts_of(public))}
    rows = rubric.Rows(ids=hidden["ids"], labels=hidden["labels"],
                       probabilities={f"model_{letter}": hidden["by_letter"][letter] for letter in "AB"})

    def reported(threshold=None, chosen=None, count=None, scale=1.0):
        threshold = facts["threshold"] if threshold is None else threshold
        metrics = {model: {name: value * scale for name, value in prepare.metrics(rows.labels, probabilities,
                                                                                  threshold).items()}
                   for model, probabilities in rows.probabilities.items()}
        return {"metrics": metrics, "chosen_model": chosen or facts["favoured_model"],
                "disagreements": len(rows.disagreeing(threshold)) if count is None else count}

    return facts, rows, reported


def test_cuts_are_the_metrics_at_every_threshold(rubric):
    rng = np.random.default_rng(1)
    labels, probabilities = (rng.random(200) < 0.3).astype(int), np.round(rng.random(200), 2)
    curve = rubric.cuts(labels, probabilities)
    for j, (low, high) in enumerate(zip(curve["low"], curve["high"])):
        for threshold in (high, low + 1e-9):
            predicted = probabilities >= threshold
            tp = np.sum(predicted & (labels == 1))
            assert 0 < predicted.sum() < len(labels)  # never "all positive" or "none": those need no model
            assert curve["accuracy"][j] == pytest.approx(np.mean(predicted == (labels == 1)))
            assert curve["precision"][j] == pytest.approx(tp / predicted.sum())
            assert curve["recall"][j] == pytest.approx(tp / labels.sum())


def test_metric_verdicts(rubric, world):
    facts, rows, reported = world
    right = rubric.metric_checks(reported(), facts, rows)
    assert set(right["verdicts"].values()) == {"right"} and right["own_threshold"] is None
    assert rubric.metrics_match_item(right) == 1
    percent = rubric.metric_checks(reported(scale=100), facts, rows)  # 87.5 for 0.875
    assert rubric.metrics_match_item(percent) == 1
    rounded = {**reported(), "metrics": {m: {k: round(v, 3) for k, v in values.items()}
                                         for m, values in reported()["metrics"].items()}}
    assert rubric.metrics_match_item(rubric.metric_checks(rounded, facts, rows)) == 1
    other = next(t for t in (0.4, 0.5, 0.6) if t != facts["threshold"])
    shifted = rubric.metric_checks(reported(threshold=other), facts, rows)
    assert shifted["own_threshold"] is not None
    assert {shifted["verdicts"][f"{m}.roc_auc"] for m in rubric.MODELS} == {"right"}
    assert "another threshold" in shifted["verdicts"].values() and 0.6 <= rubric.metrics_match_item(shifted) < 1
    pasted = rubric.metric_checks({**reported(), "metrics": facts["public"]["metrics"]}, facts, rows)
    assert set(pasted["verdicts"].values()) == {"public data"} and rubric.metrics_match_item(pasted) == 0
    guessed = {m: {k: 0.7 for k in rubric.METRICS} for m in rubric.MODELS}
    assert rubric.metrics_match_item(rubric.metric_checks({**reported(), "metrics": guessed}, facts, rows)) == 0


def test_label_counts_alone_earn_nothing(rubric, world):
    """"Everything positive" needs only the labels file: it is no threshold at which a model was evaluated."""
    facts, rows, reported = world
    everything = reported(threshold=-1.0)
    for values in everything["metrics"].values():
        values["roc_auc"] = 0.5
    checks = rubric.metric_checks(everything, facts, rows)
    assert "another threshold" not in checks["verdicts"].values() and checks["own_threshold"] is None
    assert rubric.disagreement_item(everything, notebook_of(), rows, facts, None)[0] == 0


def table_of(ids) -> str:
    return "\n".join(f"{row_id}  0.7  0.3" for row_id in sorted(ids))


def test_disagreement_item(rubric, world):
    facts, rows, reported = world
    right = set(facts["disagreeing_ids"])
    other = next(t for t in (0.4, 0.5, 0.6) if t != facts["threshold"])
    own = rows.disagreeing(other)
    agreeing = sorted(set(rows.ids) - right)
    mixed = table_of(sorted(right)[:5] + agreeing[:10])  # 5 of 15 disagree
    cases = [(reported(), [table_of(right)], None, 1.0), (reported(count=3), [table_of(right)], None, 0.5),
             (reported(), [mixed], None, 0.5), (reported(count=3), [mixed, table_of(sorted(right)[:6])], None, 0.5),
             (reported(threshold=other), [table_of(own - right)], other, 0.5),
             (reported(count=facts["public"]["disagreements"]), [table_of(["r999999"] * 5)], None, 0.0)]
    for document, outputs, threshold, expected in cases:
        notebook = notebook_of(*[("code", "x", [output]) for output in outputs])
        assert rubric.disagreement_item(document, notebook, rows, facts, threshold)[0] == expected
    found = rubric.disagreement_item(reported(count=facts["public"]["disagreements"]), notebook_of(), rows, facts,
                                     None)[1]
    assert found["public_count"] and found["count_points"] == 0


@pytest.mark.parametrize("cells,chosen,decisive,expected", [
    ([("markdown", "**Conclusion:** ship model_F, whose recall is higher than model_R's.", [])], "F", "right", 1.0),
    ([("code", "print(...)", ["Conclusion: we ship Model F"]), ("code", "", [])], "F", "right", 1.0),
    ([("markdown", "Ship model_R.", []), ("code", "display(...)", ["Ship model_F"])], "F", "right", 1.0),
    ([("code", "x", ["Ship model_F."]), ("markdown", "Shipping model_R for its accuracy would be worse.", [])],
     "F", "right", 1.0),
    ([("code", "display(...)", ["Ship model_F"]), ("markdown", "We ship model_R.", [])], "F", "right", 0.5),
    ([("markdown", "ship model_R or ship model_F?", [])], "F", "right", 0.5),
    ([("markdown", "model_F is better.", [])], "F", "right", 0.5),
    ([("markdown", "ship model_F", [])], "F", "another threshold", 0.75),
    ([("markdown", "ship model_F", [])], "F", "wrong", 0.0),  # a right guess, the numbers behind it not computed
    ([("markdown", "ship model_F", [])], "F", "public data", 0.0),
    ([("markdown", "ship model_R", [])], "R", "right", 0.0),  # chosen by accuracy
])
def test_conclusion_item(rubric, world, cells, chosen, decisive, expected):
    facts, _, _ = world
    favoured, rival = facts["favoured_model"], next(m for m in rubric.MODELS if m != facts["favoured_model"])
    names = {"model_F": favoured, "model_R": rival, "F": favoured, "R": rival}
    cells = [(kind, re.sub(r"model_[FR]", lambda m: names[m.group(0)], source),
              [re.sub(r"[Mm]odel[ _][FR]", lambda m: names["model_" + m.group(0)[-1]], out) for out in outputs])
             for kind, source, outputs in cells]
    verdicts = {f"{m}.{k}": "right" for m in rubric.MODELS for k in rubric.METRICS}
    verdicts.update({f"{m}.{k}": decisive for m in rubric.MODELS for k in rubric.DECISIVE[facts["priority"]]})
    reported = rubric.parse_comparison({**GOOD, "chosen_model": names[chosen]})
    assert rubric.conclusion_item(reported, notebook_of(*cells), facts, verdicts)[0] == expected
    assert rubric.conclusion_item(None, notebook_of(*cells), facts, verdicts)[0] == 0


# The conclusion in natural words: (text, the models it ships). Synonyms, spellings of the models, labels,
# asides, negations, counterfactuals after the decision, and keyword stuffing (both models: no decision).
PARAPHRASES = [
    ("**Conclusion: ship model_B.** Its recall is 0.91 against 0.84 for model_A.", "B"),
    ("Ship model_B. Shipping model_A for its accuracy would rank the queue worse.", "B"),
    ("We recommend deploying Model B.", "B"),
    ("Recommendation: deploy model-B; model-A has the higher accuracy but misses more takeovers.", "B"),
    ("Decision: model_B", "B"),
    ("Decision: **model_B** (recall 91% vs 84%).", "B"),
    ('{"chosen_model": "model_B", "primary_metric": "recall"}', "B"),
    ("We go with modelB, not modelA.", "B"),
    ("model_B should be shipped.", "B"),
    ("model_B is the model to ship: its average precision (AUPRC) and AUROC are higher.", "B"),
    ("Ship model_B rather than model_A, whose accuracy is higher.", "B"),
    ("model_B, not model_A, should go to production.", "B"),
    ("Although model_A is more accurate (83.0% vs 80.1%), we ship model_B.", "B"),
    ("model_A is more accurate and we still ship model_B.", "B"),
    ("model_A is more accurate, so we ship model_B.", "B"),
    ("Do not ship model_A; ship model_B.", "B"),
    ("We ship model_B and do not ship model_A.", "B"),
    ("If we chose model_A, we would miss 12% more takeovers. Ship model_B.", "B"),
    ("Choosing by accuracy would pick model_A. The priorities say: ship model_B.", "B"),
    ("A naive choice would be model_A. We recommend model_B.", "B"),
    ("I would ship model_B.", "B"),
    ("We'd deploy model B: precision@k (k=750) and P@750 are beside the point, recall is what matters.", "B"),
    ("Final recommendation: model_B. Had we shipped model_A, expected cost would have been 40 higher.", "B"),
    ("Our pick is model_B, even though model_A wins on accuracy.", "B"),
    ("model_B wins on recall and should be shipped.", "B"),
    ("Selecting model_A for its accuracy would be a mistake: ship model_B.", "B"),
    ("Verdict -> model_B", "B"),
    ("Conclusion: model_A has the higher accuracy, but model_B has the higher recall, so ship model_B.", "B"),
    ("We opt for model_B over model_A.", "B"),
    ("Model B is the one we should put in production.", "B"),
    ("Model A outperforms model B on accuracy, but we recommend model B.", "B"),
    ("Go with Model B. Picking Model A for its 2-point accuracy edge would let through more account takeovers.", "B"),
    ("We ship model_B, which has lower accuracy, because the priorities ask for recall.", "B"),
    ("Model A is currently deployed; we recommend replacing it with model B.", "B"),
    ("Bottom line: put model_B into production. Accuracy-wise model_A looks better, yet that is not the goal.", "B"),
    ("model_B is preferred: accuracy prefers model_A, the team's priorities do not.", "B"),
    ("The results were clear, so we ship model_B.", "B"),
    ("model_B had the higher recall and should be shipped.", "B"),
    ("As the previous cell shows, ship model_B.", "B"),
    ("model_B seems the better choice.", "B"),
    ("Were we to ship model_A, more takeovers would get through; model_B it is: ship model_B.", "B"),
    ("We ship model_A.", "A"),
    ("Deploying model_A instead would cost more.", ""),
    ("Shipping model_A would be tempting.", ""),
    ("model_B is better.", ""),
    ("Ship model_A if recall matters, ship model_B if precision matters.", ""),
    ("Ship model_A. Ship model_B.", "AB"),
    ("We ship either model_A or model_B.", "AB"),
    ("ship model_A or ship model_B?", "AB"),
    ("Decision: model_A. Decision: model_B. Recommended: model_A and model_B.", "AB"),
]


@pytest.mark.parametrize("text,ships", PARAPHRASES)
def test_the_conclusion_is_read_in_natural_words(text, ships):
    prose = load_module("model_comparison_prose",
                        ROOT / "scoring_programs" / "model_comparison" / "model_comparison_prose.py")
    assert prose.decisions(text) == {f"model_{letter}" for letter in ships}


def test_executes_item(rubric):
    from programlib.notebooks import Cell, Notebook

    assert rubric.executes_item(notebook_of(("markdown", "# only words", [])))[0] == 0
    assert rubric.executes_item(notebook_of(("code", "x = 1", [])))[0] == 1
    failed = Notebook(path=None, cells=[Cell(kind="code", source="1/0", executed=True, error="ZeroDivisionError: x")])
    assert rubric.executes_item(failed)[0] == 0


# --- the corpus: submissions written from the pages alone, honest and gaming ------------------------------

CORPUS = ROOT / "tests" / "corpus" / TASK
GROUPS = ("gaming", "weak", "competent")  # the order a reviewer ranks them in; paraphrased work is competent
REAL_RUNS = ("competent_sklearn", "weak_wrong_threshold", "gaming_pasted")  # through the real worker too


def group_of(name: str) -> str:
    return "competent" if name.startswith("paraphrased") else name.split("_")[0]


@pytest.fixture(scope="module")
def corpus(tiny_bundle, tmp_path_factory) -> dict[str, tuple[dict, str]]:
    """Each stored run (regenerate.py) scored by the scoring program's score(): name → (scores, report html)."""
    import zipfile

    bundle = tiny_bundle(TASK)
    regenerate = load_module("model_comparison_corpus", CORPUS / "regenerate.py")
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    assert regenerate.reference_digest(bundle) == manifest["reference_digest"], (
        "the hidden data changed since the corpus ran: .venv/bin/python tests/corpus/model-comparison/regenerate.py")
    work = tmp_path_factory.mktemp("corpus")
    with zipfile.ZipFile(bundle) as archive:
        (work / "reference_data.zip").write_bytes(archive.read("reference_data.zip"))
    with zipfile.ZipFile(work / "reference_data.zip") as reference:
        reference.extractall(work / "ref")
    scoring = load_module("model_comparison_scoring", ROOT / "scoring_programs" / "model_comparison" / "scoring.py")
    scored = {}
    for name in regenerate.submissions():
        res = work / name
        (res / "submission").mkdir(parents=True)
        (res / "predictions").mkdir()
        (res / "ingestion_result.json").write_text(json.dumps({"status": "ok", "duration": 1.0}))
        executed = CORPUS / name / "executed"
        (res / "submission" / ENTRY).write_bytes((executed / ENTRY).read_bytes())
        if (executed / "comparison.json").is_file():
            (res / "predictions" / "comparison.json").write_bytes((executed / "comparison.json").read_bytes())
        result = scoring.score(work / "ref", res)
        scored[name] = (result.scores, result.report.render())
    assert set(scored) == set(manifest["scores"])
    return scored


def test_the_corpus_is_ranked_as_a_reviewer_would(corpus):
    """Every gaming submission <= 0.3 < every weak one < every competent one, and competent work >= 0.8."""
    by_group = {group: {name: scores["score"] for name, (scores, _) in corpus.items() if group_of(name) == group}
                for group in GROUPS}
    assert len(by_group["competent"]) >= 3 and len(by_group["weak"]) >= 1 and len(by_group["gaming"]) >= 3
    assert max(by_group["gaming"].values()) <= 0.3 < min(by_group["weak"].values()), by_group
    assert max(by_group["weak"].values()) < min(by_group["competent"].values()), by_group
    assert min(by_group["competent"].values()) >= 0.8, by_group


def test_the_corpus_loses_points_for_the_right_reasons(corpus):
    scores = {name: result[0] for name, result in corpus.items()}
    assert scores["weak_by_accuracy"]["conclusion"] == 0 and scores["weak_by_accuracy"]["metrics_match"] == 1
    assert 0.6 <= scores["weak_wrong_threshold"]["metrics_match"] < 1  # computed, at 0.5: half for those values
    assert scores["weak_wrong_threshold"]["disagreement"] == 0.25  # its count is right for ITS threshold
    for name in ("gaming_pasted", "gaming_handtyped", "gaming_keyword_stuffing"):
        assert scores[name]["metrics_match"] == scores[name]["disagreement"] == scores[name]["conclusion"] == 0
    assert scores["gaming_lower_accuracy"]["conclusion"] == 0  # the right model, but no metric behind it
    html = corpus["gaming_pasted"][1]
    assert "the PUBLIC data&#x27;s value" in html and "the PUBLIC data&#x27;s count" in html


def test_detailed_results_do_not_show_the_hidden_answers(corpus, tiny_bundle, tmp_path):
    """A participant reads detailed_results.html: the hidden data's own metrics and count are not in it."""
    import zipfile

    with zipfile.ZipFile(tiny_bundle(TASK)) as archive:
        (tmp_path / "ref.zip").write_bytes(archive.read("reference_data.zip"))
    with zipfile.ZipFile(tmp_path / "ref.zip") as reference:
        facts = json.loads(reference.read("facts.json"))
    html = corpus["gaming_pasted"][1]
    for values in facts["metrics"].values():
        for metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            assert f"{values[metric]:.4f}" not in html
    assert f">{len(facts['disagreeing_ids'])}<" not in html


@pytest.mark.parametrize("name", REAL_RUNS)
def test_corpus_through_the_real_worker(tiny_bundle, tmp_path, corpus, name):
    """The stored runs are what the real ingestion and scoring give: same scores for these three."""
    scores = scores_of(tiny_bundle(TASK), (CORPUS / name / ENTRY).read_text(), tmp_path, name)
    stored = corpus[name][0]
    assert {key: round(value, 6) for key, value in scores.items() if key != "duration"} == {
        key: round(value, 6) for key, value in stored.items() if key != "duration"}
