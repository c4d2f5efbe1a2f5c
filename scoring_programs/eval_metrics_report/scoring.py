"""Scoring program of the eval-metrics-report task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/eval_labels.csv holds the labels of the evaluation set the program saw (input_data/eval.csv); res/ is
the ingestion program's output: predictions/ is the participant's --output-dir, where train.py writes
metrics.json, predictions.csv, roc_curve.png, pr_curve.png and report.md. Every number in metrics.json is
recomputed from predictions.csv and the labels; a missing file scores 0 on its items, a malformed one is
an error that names the file, the line and the field.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from eval_metrics_report_checks import (MIN_MODEL_AUC, TOLERANCE, metrics_match_item, parse_metrics,
                                        plots_item, predictions_item, report_item, scorer_metrics)
from programlib import SubmissionError
from programlib.checks import read_json
from programlib.report import Report, new_figure
from programlib.results import ingestion_outcome
from programlib.scoring import Scored, overall, run_scoring
from programlib.tables import check_ids, parse_numbers, read_csv_table

ENTRY = "train.py"
WEIGHTS = {"predictions": 0.1, "metrics_match": 0.4, "plots": 0.25, "report_links": 0.25}


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
    if probabilities is not None and reported is not None:
        expected = scorer_metrics(labels, probabilities, reported["threshold"])
    match_points, matches = metrics_match_item(reported, expected)
    plot_points, plot_problems = plots_item(output_dir)
    report_points, report_checks = report_item(read_report(output_dir), output_dir, reported)
    items = {"predictions": predictions_item(labels, probabilities), "metrics_match": match_points,
             "plots": plot_points, "report_links": report_points}
    scores = {**items, "score": overall(items, WEIGHTS), "duration": float(outcome.get("duration") or 0.0)}
    details = {"reported": reported, "expected": expected, "matches": matches, "plot_problems": plot_problems,
               "report_checks": report_checks, "files": sorted(p.name for p in output_dir.glob("*"))}
    return Scored(scores, build_report(scores, details, labels, probabilities, result_dir))


def build_report(scores: dict, details: dict, labels: np.ndarray, probabilities: np.ndarray | None,
                 result_dir: Path) -> Report:
    report = Report("Evaluation metrics and plots: detailed results")
    report.heading("Scores")
    report.table(["item", "value", "weight"],
                 [[key, scores[key], WEIGHTS.get(key, "")] for key in (*WEIGHTS, "score")])
    report.paragraph(f"Run time of {ENTRY}: {scores['duration']:.1f} s. Files in the output folder: "
                     f"{', '.join(details['files']) or 'none'}.")

    report.heading("metrics.json against the scorer's computation on the hidden labels")
    reported, expected = details["reported"], details["expected"]
    if reported is None or expected is None:
        missing = [name for name, value in (("metrics.json", reported), ("predictions.csv", probabilities))
                   if value is None]
        report.paragraph(f"Not checked: {' and '.join(missing)} not written.", "bad")
    else:
        report.paragraph(f"At your threshold {reported['threshold']}: class 1 when probability >= threshold; "
                         f"accuracy and ROC AUC must agree within {TOLERANCE}, the matrix exactly.")
        report.table(["metric", "metrics.json", "scorer", "match"], [
            [key, str(reported[key]), str(expected[key]), "yes" if details["matches"][key] else "no"]
            for key in ("accuracy", "roc_auc", "confusion_matrix")])
    if probabilities is not None and scores["predictions"] == 0:
        report.paragraph(f"predictions.csv has a ROC AUC under {MIN_MODEL_AUC} on the hidden labels: these are "
                         "not the trained model's probabilities.", "bad")

    report.heading("Plots and report")
    rows = [[name, problem or "a valid plot"] for name, problem in details["plot_problems"].items()]
    rows += [[f"report.md {check}", "yes" if passed else "no"] for check, passed in details["report_checks"].items()]
    report.table(["check", "result"], rows)

    if probabilities is not None:
        report.heading("ROC curve of predictions.csv on the hidden labels")
        figure, axes = new_figure()
        false_positive, true_positive, _ = roc_curve(labels, probabilities)
        axes.plot(false_positive, true_positive, label="predictions.csv")
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
        axes.set_xlabel("false positive rate")
        axes.set_ylabel("true positive rate")
        axes.legend(loc="lower right")
        report.figure(figure, "ROC curve")
    report.log_tail(ENTRY, result_dir / "logs" / "stdout.txt", lines=30)
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
