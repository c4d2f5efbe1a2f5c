"""Scoring program of the eval-metrics-report task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/eval_labels.csv holds the labels of the evaluation set the program saw (input_data/eval.csv); res/ is
the ingestion program's output: predictions/ is the participant's --output-dir, where train.py writes
metrics.json, predictions.csv, roc_curve.png, pr_curve.png and report.md; res/plot_record.jsonl is what the
ingestion program recorded of each matplotlib figure the program saved (its lines' data, the file's hash).
Every number in metrics.json and report.md is recomputed from predictions.csv and the labels, and each plot
must be a recorded figure whose line is that curve; a missing file scores 0 on its items, a malformed one is
an error that names the file, the line and the field. The detailed results never show the hidden numbers.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from eval_metrics_report_checks import (MIN_MODEL_AUC, metrics_match_item, parse_metrics, plots_item,
                                        predictions_item, read_plot_record, report_item, scorer_metrics,
                                        true_curves)
from programlib import SubmissionError
from programlib.checks import read_json
from programlib.report import Report
from programlib.results import ingestion_outcome
from programlib.scoring import Scored, overall, run_scoring
from programlib.tables import check_ids, parse_numbers, read_csv_table

ENTRY = "train.py"
WEIGHTS = {"predictions": 0.1, "metrics_match": 0.4, "plots": 0.25, "report_links": 0.25}
NOT_THE_MODEL_CAP = 0.25  # an evaluation of numbers that are not the trained model's is not the task's work
PLOT_RECORD = "plot_record.jsonl"


# --- reading what the program wrote ----------------------------------------------------------------

def read_predictions(output_dir: Path, ids: list[str]) -> np.ndarray | None:
    path = output_dir / "predictions.csv"
    if not path.is_file():
        return None
    frame = read_csv_table(path, ["id", "probability"], name="predictions.csv")
    order = check_ids(frame, "id", ids, name="predictions.csv")
    return parse_numbers(frame, "probability", name="predictions.csv", low=0.0, high=1.0)[order]


def read_metrics(output_dir: Path) -> dict | None:
    path = output_dir / "metrics.json"
    if not path.is_file():
        return None
    return parse_metrics(read_json(path))


def read_report(output_dir: Path) -> str | None:
    path = output_dir / "report.md"
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None


# --- the score and its report ----------------------------------------------------------------------

def score(reference_dir: Path, result_dir: Path) -> Scored:
    outcome = ingestion_outcome(result_dir)
    if outcome is None:
        raise SubmissionError(f"this task takes code submissions: a zip with {ENTRY} at its root, which the "
                              "ingestion program runs")
    answers = pd.read_csv(reference_dir / "eval_labels.csv", dtype={"id": str})
    labels = answers["label"].to_numpy(dtype=int)
    output_dir = result_dir / "predictions"
    probabilities = read_predictions(output_dir, answers["id"].tolist())
    reported = read_metrics(output_dir)
    expected = None
    if probabilities is not None:
        expected = scorer_metrics(labels, probabilities, reported["threshold"] if reported else 0.5)
    match_points, matches = metrics_match_item(reported, expected)
    curves = true_curves(labels, probabilities) if probabilities is not None else None
    plot_points, plot_problems = plots_item(output_dir, read_plot_record(result_dir / PLOT_RECORD), curves)
    plots_ok = {name: problem is None for name, problem in plot_problems.items()}
    report_points, report_checks = report_item(read_report(output_dir), output_dir, expected, plots_ok)
    items = {"predictions": predictions_item(labels, probabilities), "metrics_match": match_points,
             "plots": plot_points, "report_links": report_points}
    total = overall(items, WEIGHTS)
    capped = probabilities is not None and items["predictions"] == 0 and total > NOT_THE_MODEL_CAP
    scores = {**items, "score": min(total, NOT_THE_MODEL_CAP) if capped else total,
              "duration": float(outcome.get("duration") or 0.0)}
    details = {"reported": reported, "matches": matches, "plot_problems": plot_problems, "capped": capped,
               "report_checks": report_checks, "files": sorted(p.name for p in output_dir.glob("*"))}
    return Scored(scores, build_report(scores, details, probabilities, result_dir))


def _shown(value) -> str:
    """A metrics.json value as the participant wrote it (rates are (value, precision) pairs here)."""
    return f"{value[0]:.6g}" if isinstance(value, tuple) else str(value)


def build_report(scores: dict, details: dict, probabilities: np.ndarray | None, result_dir: Path) -> Report:
    """Per item, what was checked and why points were lost; never a number of the hidden set itself."""
    report = Report("Evaluation metrics and plots: detailed results")
    report.heading("Scores")
    report.table(["item", "value", "weight"],
                 [[key, scores[key], WEIGHTS.get(key, "")] for key in (*WEIGHTS, "score")])
    report.paragraph(f"Run time of {ENTRY}: {scores['duration']:.1f} s. Files in the output folder: "
                     f"{', '.join(details['files']) or 'none'}.")
    if probabilities is not None and scores["predictions"] == 0:
        report.paragraph(f"predictions.csv has a ROC AUC under {MIN_MODEL_AUC} on the hidden labels: these are "
                         "not the trained model's probabilities, so the evaluation of them counts for at most "
                         f"{NOT_THE_MODEL_CAP} in all.", "bad")

    report.heading("metrics.json against the scorer's computation on the hidden labels")
    reported = details["reported"]
    if reported is None or probabilities is None:
        missing = [name for name, value in (("metrics.json", reported), ("predictions.csv", probabilities))
                   if value is None]
        report.paragraph(f"Not checked: {' and '.join(missing)} not written.", "bad")
    else:
        report.paragraph(f"At your threshold {reported['threshold']} (class 1 when probability >= threshold), each "
                         "number must be the scorer's, computed from your predictions.csv and the hidden labels, to "
                         "the decimals you wrote (at least 3) or a percentage to 0.1%; the matrix exactly. A number "
                         "that does not match was not computed from this run's predictions on this evaluation set.")
        report.table(["metric", "metrics.json", "equals the scorer's"], [
            [key, _shown(reported[key]), "yes" if passed else "no"] for key, passed in details["matches"].items()])

    report.heading("Plots and report")
    report.paragraph("A plot counts when the PNG is a matplotlib figure saved by your program during this run "
                     "(recorded by the runner) with a line that is the curve of your predictions on the hidden "
                     "labels: monotone, from end to end, its points on the curve and its area the metric's.")
    rows = [[name, problem or "the verified curve"] for name, problem in details["plot_problems"].items()]
    rows += [[f"report.md {check}", "yes" if passed else "no"] for check, passed in details["report_checks"].items()]
    report.table(["check", "result"], rows)
    report.log_tail(ENTRY, result_dir / "logs" / "stdout.txt", lines=30)
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
