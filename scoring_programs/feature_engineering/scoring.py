"""Scoring program of the feature-engineering task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/ holds test_labels.csv (the hidden answers) and facts.json (the baseline's hidden-test AUC, measured by
running the baseline train.py on this data, and the AUC of the true probabilities). res/ is the ingestion
program's output: the main run's predictions/ (predictions.csv, comparison.csv) and runs/rerun/, the same
program run again in a fresh copy.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from feature_engineering_rubric import (COMPARISON, ENTRY, PREDICTIONS, TOLERANCE, WEIGHTS, comparison_item,
                                        improvement_item, read_comparison, reproducible_item,
                                        test_auc_item)
from programlib import SubmissionError
from programlib.report import Report
from programlib.results import ingestion_outcome, output_file
from programlib.scoring import Scored, overall, run_scoring
from programlib.tables import check_ids, parse_numbers, read_csv_table

RERUN = "rerun"


def read_predictions(result_dir: Path, ids: list[str]) -> np.ndarray:
    path = output_file(result_dir, PREDICTIONS, ENTRY)
    frame = read_csv_table(path, ["id", "probability"], name=PREDICTIONS)
    order = check_ids(frame, "id", ids, name=PREDICTIONS)
    return parse_numbers(frame, "probability", name=PREDICTIONS, low=0.0, high=1.0)[order]


def rerun_table(result_dir: Path, outcome: dict) -> tuple[dict | None, str]:
    """The rerun's comparison table, or None and why not."""
    run = (outcome.get("runs") or {}).get(RERUN)
    if run is None:
        return None, "the second run did not happen"
    if run.get("status") != "ok":
        return None, f"the second run failed: {run.get('message')}"
    path = result_dir / "runs" / RERUN / "predictions" / COMPARISON
    if not path.is_file():
        return None, f"the second run wrote no {COMPARISON}"
    return read_comparison(path, f"{COMPARISON} (second run)"), "compared"


def score(reference_dir: Path, result_dir: Path) -> Scored:
    outcome = ingestion_outcome(result_dir)
    if outcome is None or outcome.get("status") != "ok":
        raise SubmissionError(f"this task takes code submissions: a zip with {ENTRY} at its root, which the "
                              f"ingestion program runs")
    answers = pd.read_csv(reference_dir / "test_labels.csv", dtype={"id": str})
    facts = json.loads((reference_dir / "facts.json").read_text())
    probabilities = read_predictions(result_dir, answers["id"].tolist())
    auc = float(roc_auc_score(answers["label"].to_numpy(dtype=int), probabilities))
    table_path = result_dir / "predictions" / COMPARISON
    table = read_comparison(table_path, COMPARISON) if table_path.is_file() else None
    rerun, rerun_note = rerun_table(result_dir, outcome)

    items, checks = {}, {}
    items["test_auc"], checks["test_auc"] = test_auc_item(auc, facts["oracle_test_auc"])
    items["improvement"], checks["improvement"] = improvement_item(auc, facts["baseline_test_auc"])
    items["comparison_table"], checks["comparison_table"] = comparison_item(table, auc, facts["baseline_test_auc"])
    items["reproducible"], checks["reproducible"] = reproducible_item(table, rerun, rerun_note)
    scores = {**items, "score": overall(items, WEIGHTS), "roc_auc": auc,
              "duration": float(outcome.get("duration") or 0.0)}
    return Scored(scores, build_report(scores, checks, facts, table, rerun, result_dir))


def build_report(scores, checks, facts, table, rerun, result_dir: Path) -> Report:
    report = Report("Feature engineering: detailed results")
    report.heading("Scores")
    report.table(["item", "points", "weight", "why"],
                 [[key, scores[key], WEIGHTS[key], checks[key]] for key in WEIGHTS] + [["score", scores["score"], "", ""]])
    report.paragraph(f"Hidden-test ROC AUC of {PREDICTIONS}: {scores['roc_auc']:.4f}; the baseline train.py gets "
                     f"{facts['baseline_test_auc']:.4f}; the true probabilities get {facts['oracle_test_auc']:.4f}.")
    report.paragraph(f"Run time of {ENTRY}: {scores['duration']:.1f} s")
    for title, rows in (("Your comparison table", table), ("The same table from the second run", rerun)):
        report.heading(title)
        if rows is None:
            report.paragraph("(none)")
        else:
            report.table(["model", "valid_auc"], [[model, value] for model, value in rows.items()])
    report.paragraph(f"Tables of the two runs must agree within {TOLERANCE:g}.")
    report.log_tail(ENTRY, result_dir / "logs" / "stdout.txt", lines=40)
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
