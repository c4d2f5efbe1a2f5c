"""Scoring program of the tabular-baseline task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

The program ran on hidden data (the bundle's input_data: another draw than the public files). ref/test_labels.csv
holds the hidden test labels, ref/reference.json the level a reference logistic regression reaches on them; res/
is the ingestion program's output (the participant's files, its predictions and cv_metrics.json, its logs and
ingestion_result.json). The rubric is tabular_baseline_rubric.py.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from programlib import SubmissionError
from programlib.report import Report, new_figure
from programlib.results import ingestion_outcome, output_file
from programlib.scoring import Scored, overall, run_scoring
from programlib.tables import check_ids, parse_numbers, read_csv_table
from tabular_baseline_rubric import (CV_FILE, WEIGHTS, binary_metrics, cv_metrics_item, json_metrics,
                                     model_family_item, prediction_points, printed_metrics, readme_snippet_item)

ENTRY = "baseline.py"
PREDICTIONS = "predictions.csv"


# --- reading the submission ------------------------------------------------------------------------
def read_ingestion(result_dir: Path) -> dict:
    outcome = ingestion_outcome(result_dir)
    if outcome is None or outcome.get("status") != "ok":
        raise SubmissionError(f"this task takes code submissions: a zip with {ENTRY} at its root, which the "
                              f"ingestion program runs")
    return outcome


def read_predictions(result_dir: Path, ids: list[str]) -> np.ndarray:
    path = output_file(result_dir, PREDICTIONS, ENTRY)
    frame = read_csv_table(path, ["id", "target"], name=PREDICTIONS)
    order = check_ids(frame, "id", ids, name=PREDICTIONS)
    return parse_numbers(frame, "target", name=PREDICTIONS, low=0.0, high=1.0)[order]


def read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None


def find_readme(folder: Path) -> str | None:
    for path in sorted(folder.glob("*")):
        if path.is_file() and path.name.lower() in ("readme.md", "readme.txt", "readme"):
            return read_text(path)
    return None


def reported_cv(result_dir: Path, stdout: str) -> dict:
    """cv_metrics.json when the program wrote one (the brief asks for it), else what it printed."""
    for path in (result_dir / "predictions" / CV_FILE, result_dir / "submission" / CV_FILE):
        if path.is_file():
            return json_metrics(path.read_text(encoding="utf-8", errors="replace"))
    return printed_metrics(stdout)


# --- the score and its report ----------------------------------------------------------------------

def score(reference_dir: Path, result_dir: Path) -> Scored:
    answers = pd.read_csv(reference_dir / "test_labels.csv", dtype={"id": str})
    reference = json.loads((reference_dir / "reference.json").read_text())
    ingestion = read_ingestion(result_dir)
    probabilities = read_predictions(result_dir, answers["id"].tolist())
    labels = answers["target"].to_numpy(dtype=int)
    metrics = binary_metrics(labels, probabilities)
    points = prediction_points(metrics, reference)
    stdout = read_text(result_dir / "logs" / "stdout.txt") or ""
    reported = reported_cv(result_dir, stdout)
    cv_points, cv_facts = cv_metrics_item(reported, metrics, reference)
    script = read_text(result_dir / "submission" / ENTRY) or ""
    model_points, model_facts = model_family_item(reported["model"], script, points["roc_auc_points"])
    readme_points, readme_facts = readme_snippet_item(find_readme(result_dir / "submission"), script)
    items = {**points, "cv_metrics": cv_points, "model_family": model_points, "readme_snippet": readme_points}
    scores = {**metrics, **items, "score": round(overall(items, WEIGHTS), 6), "duration": float(ingestion.get("duration") or 0.0)}
    facts = {"cv": cv_facts, "model": model_facts, "readme": readme_facts}
    return Scored(scores, build_report(scores, labels, probabilities, facts, stdout))


def fmt(value) -> str:
    return "not found" if value is None else f"{value:.4f}"


def why_rows(scores: dict, facts: dict) -> list[list[str]]:
    """Per rubric item: what was checked and why points were lost (hidden values only where the submission's
    own predictions give them)."""
    cv, model, readme = facts["cv"], facts["model"], facts["readme"]
    means = cv["means"]
    return [
        ["roc_auc_points", f"ROC AUC of your predictions on the hidden test set: {scores['roc_auc']:.4f}; full "
         f"points at the level of a plain logistic regression, none at chance (0.5)"],
        ["accuracy_points", f"accuracy at 0.5: {scores['accuracy']:.4f}; full points at the level of a plain "
         f"logistic regression, none at the majority-class accuracy"],
        ["cv_metrics", f"read from {cv['source']}: {cv['folds']} fold(s) with an AUC "
         f"({'per-fold AUC and accuracy found' if cv['per_fold'] else 'fewer than 3 folds with AUC and accuracy'}"
         f"{'' if cv['distinct_folds'] or not cv['per_fold'] else '; every fold reports the same AUC'}); "
         f"mean AUC {fmt(means['roc_auc'])} {'agrees' if cv['agrees']['roc_auc'] else 'does not agree'} and mean "
         f"accuracy {fmt(means['accuracy'])} {'agrees' if cv['agrees']['accuracy'] else 'does not agree'} with "
         f"what your predictions score on the hidden test set (honest cross-validation on the data the program "
         f"ran on does)"],
        ["model_family", f"logistic regression / tree model built in {ENTRY}: {', '.join(model['built']) or 'none'};"
         f" named in {CV_FILE}: {model['named'] or 'no'}; predictions above chance: "
         f"{'yes' if model['predicts'] else 'no'}"],
        ["readme_snippet", f"command: {readme['command'] or 'none found'}; options {ENTRY} does not define: "
         f"{', '.join(readme['unknown_options']) or 'none'}"],
    ]


def build_report(scores, labels, probabilities, facts, stdout) -> Report:
    report = Report("Tabular baseline: detailed results")
    report.paragraph(f"Your program ran on hidden data (another draw than the public files), so every check "
                     f"below is about what it computed there.")
    report.heading("Scores")
    report.table(["item", "value", "weight"], [[key, scores[key], WEIGHTS.get(key, "")] for key in
                                                (*WEIGHTS, "score", "roc_auc", "accuracy")])
    report.paragraph(f"Run time of {ENTRY}: {scores['duration']:.1f} s")
    report.heading("What was checked, and why points were lost")
    report.table(["item", "check"], why_rows(scores, facts))
    report.heading("ROC curve on the hidden test set")
    figure, axes = new_figure()
    false_positive, true_positive, _ = roc_curve(labels, probabilities)
    axes.plot(false_positive, true_positive, label=f"your model (AUC {scores['roc_auc']:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.legend(loc="lower right")
    report.figure(figure, "ROC curve")
    report.heading(f"End of what {ENTRY} printed")
    report.pre("\n".join(stdout.splitlines()[-40:]) or "(nothing)")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
