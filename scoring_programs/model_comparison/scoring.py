"""Scoring program of the model-comparison task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/facts.json holds the planted facts: each model's metrics at the decision threshold, the ids where the
models disagree, and the model the priorities favour. res/ is the ingestion program's output: the executed
notebook in submission/comparison.ipynb, and comparison.json in predictions/ (the notebook's OUTPUT_DIR).
A comparison.json that was not written scores 0 on the items that need it; a malformed one is an error.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from model_comparison_rubric import (METRICS, MODELS, TOLERANCE, conclusion_item, conclusion_text,
                                     disagreement_item, executes_item, metrics_match_item, parse_comparison)
from programlib import SubmissionError
from programlib.checks import read_json
from programlib.notebooks import read_notebook
from programlib.report import Report
from programlib.results import ingestion_outcome
from programlib.scoring import Scored, overall, run_scoring

ENTRY = "comparison.ipynb"
WEIGHTS = {"executes": 0.1, "metrics_match": 0.35, "disagreement": 0.25, "conclusion": 0.3}


def read_comparison(result_dir: Path) -> dict | None:
    path = result_dir / "predictions" / "comparison.json"
    if not path.is_file():
        return None
    return parse_comparison(read_json(path))


def score(reference_dir: Path, result_dir: Path) -> Scored:
    outcome = ingestion_outcome(result_dir)
    if outcome is None:
        raise SubmissionError(f"this task takes code submissions: a zip with {ENTRY} at its root, which the "
                              "ingestion program executes")
    facts = json.loads((reference_dir / "facts.json").read_text())
    notebook = read_notebook(result_dir / "submission" / ENTRY)
    reported = read_comparison(result_dir)
    executes, executes_note = executes_item(notebook)
    match_points, matches = metrics_match_item(reported, facts["metrics"])
    disagreement, disagreement_facts = disagreement_item(reported, notebook, set(facts["disagreeing_ids"]))
    conclusion, conclusion_facts = conclusion_item(reported, notebook, facts["favoured_model"])
    items = {"executes": executes, "metrics_match": match_points, "disagreement": disagreement,
             "conclusion": conclusion}
    scores = {**items, "score": overall(items, WEIGHTS), "duration": float(outcome.get("duration") or 0.0)}
    report = build_report(scores, facts, reported, executes_note, matches, disagreement_facts, conclusion_facts,
                          conclusion_text(notebook))
    return Scored(scores, report)


def build_report(scores, facts, reported, executes_note, matches, disagreement_facts, conclusion_facts,
                 conclusion) -> Report:
    report = Report("Model A or model B: detailed results")
    report.heading("Scores")
    report.table(["item", "value", "weight"],
                 [[key, scores[key], WEIGHTS.get(key, "")] for key in (*WEIGHTS, "score")])
    report.paragraph(f"Executes: {executes_note}. Run time of the notebook: {scores['duration']:.1f} s.")
    if reported is None:
        report.paragraph("The notebook wrote no comparison.json into OUTPUT_DIR.", "bad")

    report.heading(f"Metrics at the decision threshold {facts['threshold']} (class 1 when probability >= it)")
    rows = []
    for model in MODELS:
        for metric in METRICS:
            key = f"{model}.{metric}"
            yours = "" if reported is None else reported["metrics"][model][metric]
            rows.append([key, yours, facts["metrics"][model][metric], "yes" if matches[key] else "no"])
    report.table(["metric", "comparison.json", "scorer", f"within {TOLERANCE}"], rows)

    report.heading("Disagreements and conclusion")
    count = len(facts["disagreeing_ids"])
    report.table(["check", "result"], [
        ["rows where the thresholded predictions differ (scorer)", count],
        ["disagreements.count in comparison.json", "" if reported is None else reported["disagreements"]],
        ["disagreeing rows listed by the best output", f"{disagreement_facts['disagreeing_shown']} of "
                                                         f"{disagreement_facts['ids_shown']} row ids shown"],
        ["the priorities favour", f"{facts['favoured_model']} ({facts['priority']}); "
                                  f"{facts['accuracy_leader']} has the higher accuracy"],
        ["chosen_model", conclusion_facts["chosen_model"] or "none"],
        ["the conclusion ships", ", ".join(conclusion_facts["conclusion_ships"]) or "no 'ship model_X' found"],
    ])
    report.heading("The notebook's conclusion (its last cell with text)")
    report.pre(conclusion[-2000:] or "(nothing)")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
