"""Scoring program of the model-comparison task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/ holds what the notebook's hidden input data gives: facts.json (each model's metrics at the decision
threshold, the disagreeing ids, the favoured model, and the public data's answers) and hidden_rows.csv (the
hidden rows joined by id). res/ is the ingestion program's output: the executed notebook in
submission/comparison.ipynb, and comparison.json in predictions/ (the notebook's OUTPUT_DIR).
A comparison.json that was not written scores 0 on the items that need it; a malformed one is an error.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from model_comparison_report import build_report
from model_comparison_rubric import (MODELS, Rows, conclusion_item, disagreement_item, executes_item, metric_checks,
                                     metrics_match_item, parse_comparison)
from programlib import SubmissionError
from programlib.checks import read_json
from programlib.notebooks import read_notebook
from programlib.results import ingestion_outcome
from programlib.scoring import Scored, overall, run_scoring

ENTRY = "comparison.ipynb"
WEIGHTS = {"executes": 0.1, "metrics_match": 0.35, "disagreement": 0.25, "conclusion": 0.3}


def read_comparison(result_dir: Path) -> dict | None:
    path = result_dir / "predictions" / "comparison.json"
    if not path.is_file():
        return None
    return parse_comparison(read_json(path))


def read_rows(reference_dir: Path) -> Rows:
    table = pd.read_csv(reference_dir / "hidden_rows.csv", dtype={"id": str})
    return Rows(ids=table["id"].to_numpy(), labels=table["label"].to_numpy(dtype=int),
                probabilities={model: table[model].to_numpy(dtype=float) for model in MODELS})


def score(reference_dir: Path, result_dir: Path) -> Scored:
    outcome = ingestion_outcome(result_dir)
    if outcome is None:
        raise SubmissionError(f"this task takes code submissions: a zip with {ENTRY} at its root, which the "
                              "ingestion program executes")
    facts = json.loads((reference_dir / "facts.json").read_text())
    rows = read_rows(reference_dir)
    notebook = read_notebook(result_dir / "submission" / ENTRY)
    reported = read_comparison(result_dir)
    executes, executes_note = executes_item(notebook)
    checks = metric_checks(reported, facts, rows)
    disagreement, disagreement_found = disagreement_item(reported, notebook, rows, facts, checks["own_threshold"])
    conclusion, conclusion_found = conclusion_item(reported, notebook, facts, checks["verdicts"])
    items = {"executes": executes, "metrics_match": metrics_match_item(checks), "disagreement": disagreement,
             "conclusion": conclusion}
    scores = {**items, "score": overall(items, WEIGHTS), "duration": float(outcome.get("duration") or 0.0)}
    found = {"executes": executes_note, "reported": reported, "checks": checks, "disagreement": disagreement_found,
             "conclusion": conclusion_found}
    return Scored(scores, build_report(scores, WEIGHTS, found))


if __name__ == "__main__":
    sys.exit(run_scoring(score))
