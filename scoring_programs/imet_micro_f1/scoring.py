"""Scoring program of the iMet 2020 (FGVC7) task: micro-F1 over all (image, attribute) pairs.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/ holds test_labels.csv (id, attribute_ids) and labels.csv; res/ holds submission.csv, either at
its root (a results submission) or in predictions/ (written by a code submission run by ingestion).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from micro_f1 import Counts, Labels, micro_counts, parse_labels, per_attribute_counts
from programlib.report import Report, new_figure
from programlib.results import ingestion_outcome, output_file
from programlib.scoring import Scored, run_scoring
from submission_table import Table, match_ids, read_table

SUBMISSION = "submission.csv"
GROUPS = ("country", "culture", "dimension", "medium", "tags")


def read_labels(reference_dir: Path) -> tuple[int, np.ndarray]:
    labels = pd.read_csv(reference_dir / "labels.csv")
    assert labels["attribute_id"].tolist() == list(range(len(labels))), "labels.csv ids must be 0..N-1 in order"
    groups = labels["attribute_name"].str.split("::").str[0].to_numpy()
    return len(labels), groups


def read(reference_dir: Path, result_dir: Path) -> tuple[int, np.ndarray, Table, Table]:
    n_attributes, groups = read_labels(reference_dir)
    answers = read_table(reference_dir / "test_labels.csv", name="test_labels.csv")
    submission = read_table(output_file(result_dir, SUBMISSION, "your program"), name=SUBMISSION)
    return n_attributes, groups, answers, submission


def match(answers: Table, submission: Table, n_attributes: int) -> tuple[Labels, Labels]:
    """Both tables as (image, attribute) pairs, the submission's rows put on the answers' images."""
    truth = parse_labels(answers.labels, n_attributes)
    rows = match_ids(submission, answers.ids, name=SUBMISSION)
    return truth, parse_labels(submission.labels, n_attributes, rows=rows)


def compute(truth: Labels, predicted: Labels, n_attributes: int, groups: np.ndarray) -> dict:
    total = micro_counts(truth, predicted)
    tp, fp, fn = per_attribute_counts(truth, predicted, n_attributes)
    scores = {"micro_f1": total.f1, "precision": total.precision, "recall": total.recall}
    for group in GROUPS:
        members = groups == group
        scores[f"f1_{group}"] = Counts(int(tp[members].sum()), int(fp[members].sum()), int(fn[members].sum())).f1
    return {"scores": scores, "total": total, "tp": tp, "fp": fp, "fn": fn}


def score(reference_dir: Path, result_dir: Path) -> Scored:
    n_attributes, groups, answers, submission = read(reference_dir, result_dir)
    truth, predicted = match(answers, submission, n_attributes)
    result = compute(truth, predicted, n_attributes, groups)
    result["scores"]["duration"] = float((ingestion_outcome(result_dir) or {}).get("duration") or 0.0)
    return Scored(result["scores"], build_report(result, groups, len(answers.ids), predicted.unmatched))


def build_report(result: dict, groups: np.ndarray, n_images: int, unmatched: int) -> Report:
    total, tp, fp, fn = result["total"], result["tp"], result["fp"], result["fn"]
    report = Report("iMet 2020: detailed results")
    report.heading("Micro-averaged over all (image, attribute) pairs")
    report.table(["micro-F1", "precision", "recall", "true positives", "false positives", "false negatives"],
                 [[total.f1, total.precision, total.recall, total.tp, total.fp, total.fn]])
    report.paragraph(f"{n_images} test images; {total.tp + total.fn} true labels; {total.tp + total.fp} predicted.")
    if unmatched:
        report.paragraph(f"{unmatched} predicted label(s) name no attribute of labels.csv (an id outside 0 to "
                         f"{len(groups) - 1}, or text such as 'nan'): each is a false positive.")
    report.heading("F1 per attribute group")
    rows = []
    for group in GROUPS:
        members = groups == group
        counts = Counts(int(tp[members].sum()), int(fp[members].sum()), int(fn[members].sum()))
        rows.append([group, int(members.sum()), counts.f1, counts.precision, counts.recall, int((tp + fn)[members].sum())])
    report.table(["group", "attributes", "F1", "precision", "recall", "true labels"], rows)
    report.heading("Per-attribute F1 against label frequency")
    report.figure(frequency_figure(tp, fp, fn, groups),
                  "Each point is an attribute present in the test answers; rare attributes are the hard ones.")
    seen = (tp + fn) > 0
    never = int(((tp + fp) > 0)[~seen].sum())
    report.paragraph(f"{never} predicted attribute(s) never occur in the test answers: each of their predictions is a "
                     f"false positive.")
    return report


def frequency_figure(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, groups: np.ndarray):
    frequency = tp + fn
    seen = frequency > 0
    per_attribute = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(len(tp)), where=(2 * tp + fp + fn) > 0)
    figure, axes = new_figure(6, 3.8)
    for group in GROUPS:
        members = seen & (groups == group)
        axes.scatter(np.log10(frequency[members]), per_attribute[members], s=9, alpha=0.6, label=group)
    # log10 on a linear axis with whole-decade ticks: matplotlib's log axis (minor ticks) doubles the drawing time
    decades = np.arange(0, int(np.log10(max(int(frequency.max()), 1))) + 2)
    axes.set_xticks(decades, [f"{10 ** int(d):,}" for d in decades])
    axes.set_xlabel("true labels of the attribute in the test set (log scale)")
    axes.set_ylabel("F1 of the attribute")
    axes.set_ylim(-0.03, 1.03)
    axes.legend(fontsize=8, markerscale=1.5)
    return figure


if __name__ == "__main__":
    sys.exit(run_scoring(score))
