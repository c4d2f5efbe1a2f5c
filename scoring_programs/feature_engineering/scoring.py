"""Scoring program of the feature-engineering task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/ holds test_labels.csv (the hidden answers) and facts.json (the baseline train.py's holdout and hidden-test
AUCs, measured by running it on the hidden data, and the AUC of the true probabilities). res/ is the ingestion
program's output: the main run's predictions/predictions.csv (train.py), and runs/experiment/ and runs/rerun/,
the submission's experiment.ipynb executed twice in fresh copies: the comparison.csv each wrote.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from feature_engineering_rubric import (COMPARISON, ENTRY, NOTEBOOK, PREDICTIONS, TOLERANCE, WEIGHTS,
                                        agreement_gap, comparison_item, improvement_item, read_comparison,
                                        reproducible_item, test_auc_item, trusted)
from programlib import SubmissionError
from programlib.report import Report
from programlib.results import ingestion_outcome, output_file
from programlib.scoring import Scored, overall, run_scoring
from programlib.tables import check_ids, parse_numbers, read_csv_table

EXPERIMENT, RERUN = "experiment", "rerun"


def read_predictions(result_dir: Path, ids: list[str]) -> np.ndarray:
    path = output_file(result_dir, PREDICTIONS, ENTRY)
    frame = read_csv_table(path, ["id", "probability"], name=PREDICTIONS)
    order = check_ids(frame, "id", ids, name=PREDICTIONS)
    return parse_numbers(frame, "probability", name=PREDICTIONS, low=0.0, high=1.0)[order]


def run_table(result_dir: Path, outcome: dict, run_name: str, label: str) -> tuple[dict | None, str]:
    """The comparison table the notebook wrote in one extra run, or None and why not."""
    run = (outcome.get("runs") or {}).get(run_name)
    if run is None:
        return None, f"the {label} did not happen"
    if run.get("status") != "ok":
        return None, f"the {label} failed: {run.get('message')}"
    path = result_dir / "runs" / run_name / "predictions" / COMPARISON
    if not path.is_file():
        return None, f"the {label} ({NOTEBOOK}) wrote no {COMPARISON} to OUTPUT_DIR"
    return read_comparison(path, f"{COMPARISON} ({label})"), "compared"


def score(reference_dir: Path, result_dir: Path) -> Scored:
    outcome = ingestion_outcome(result_dir)
    if outcome is None or outcome.get("status") != "ok":
        raise SubmissionError(f"this task takes code submissions: a zip with {ENTRY} and {NOTEBOOK} at its "
                              f"root, which the ingestion program runs")
    answers = pd.read_csv(reference_dir / "test_labels.csv", dtype={"id": str})
    facts = json.loads((reference_dir / "facts.json").read_text())
    labels = answers["label"].to_numpy(dtype=int)
    auc = float(roc_auc_score(labels, read_predictions(result_dir, answers["id"].tolist())))
    table, table_note = run_table(result_dir, outcome, EXPERIMENT, "experiment run")
    rerun, rerun_note = run_table(result_dir, outcome, RERUN, "second run of the notebook")
    gap = agreement_gap(auc, facts["n_train"], facts["train_positive_rate"], int(labels.sum()),
                        int(len(labels) - labels.sum()))
    baseline = {"valid": facts["baseline_valid_auc"], "test": facts["baseline_test_auc"]}

    items, checks = {}, {}
    table_points, checks["comparison_table"] = comparison_item(table, auc, baseline, gap)
    if table is None:
        checks["comparison_table"] = table_note
    items["comparison_table"] = table_points
    items["test_auc"], checks["test_auc"] = trusted(*test_auc_item(auc, facts["oracle_test_auc"]), table_points)
    items["improvement"], checks["improvement"] = trusted(*improvement_item(auc, baseline["test"]), table_points)
    items["reproducible"], checks["reproducible"] = reproducible_item(table, rerun, rerun_note, table_points >= 1)
    scores = {**items, "score": overall(items, WEIGHTS), "roc_auc": auc,
              "duration": float(outcome.get("duration") or 0.0)}
    return Scored(scores, build_report(scores, checks, table, rerun, result_dir))


def build_report(scores, checks, table, rerun, result_dir: Path) -> Report:
    # The hidden data's own numbers (the baseline's AUCs, the best possible AUC) stay hidden: only verdicts.
    report = Report("Feature engineering: detailed results")
    report.heading("Scores")
    report.table(["item", "points", "weight", "what was checked"],
                 [[key, scores[key], WEIGHTS[key], checks[key]] for key in WEIGHTS] + [["score", scores["score"], "", ""]])
    report.paragraph(f"Hidden-test ROC AUC of {PREDICTIONS}: {scores['roc_auc']:.4f}. {ENTRY} and {NOTEBOOK} ran on "
                     f"hidden data of the same kind as the public data (other users, other rates, other aggregates "
                     f"carrying the signal): a table typed from a run on the public files does not agree with it.")
    report.paragraph(f"Run time of {ENTRY}: {scores['duration']:.1f} s")
    for title, rows in (("The table your notebook wrote", table), ("The same table from its second run", rerun)):
        report.heading(title)
        if rows is None:
            report.paragraph("(none)")
        else:
            report.table(["model", "valid_auc"], [[model, value] for model, value in rows.items()])
    report.paragraph(f"Tables of the two runs must agree within {TOLERANCE:g}.")
    report.log_tail(ENTRY, result_dir / "logs" / "stdout.txt", lines=40)
    report.log_tail(NOTEBOOK, result_dir / "runs" / EXPERIMENT / "logs" / "stdout.txt", lines=40)
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
