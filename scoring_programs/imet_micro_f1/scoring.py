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

from micro_f1 import Counts, micro_counts, parse_label_sets, per_attribute_counts
from programlib.report import Report, new_figure
from programlib.results import ingestion_outcome, output_file
from programlib.scoring import Scored, run_scoring
from programlib.tables import check_ids, read_csv_table

SUBMISSION = "submission.csv"
GROUPS = ("country", "culture", "dimension", "medium", "tags")


def read_labels(reference_dir: Path) -> tuple[int, np.ndarray]:
    labels = pd.read_csv(reference_dir / "labels.csv")
    assert labels["attribute_id"].tolist() == list(range(len(labels))), "labels.csv ids must be 0..N-1 in order"
    groups = labels["attribute_name"].str.split("::").str[0].to_numpy()
    return len(labels), groups


def score(reference_dir: Path, result_dir: Path) -> Scored:
    n_attributes, groups = read_labels(reference_dir)
    answers = pd.read_csv(reference_dir / "test_labels.csv", dtype=str, keep_default_na=False)
    truth = parse_label_sets(answers["attribute_ids"], n_attributes, name="test_labels.csv")
    outcome = ingestion_outcome(result_dir)
    frame = read_csv_table(output_file(result_dir, SUBMISSION, "your program"), ["id", "attribute_ids"], name=SUBMISSION)
    order = check_ids(frame, "id", answers["id"].tolist(), name=SUBMISSION)
    parsed = parse_label_sets(frame["attribute_ids"], n_attributes, name=SUBMISSION)  # file order: line numbers
    predicted = [parsed[i] for i in order]

    total = micro_counts(truth, predicted, n_attributes)
    tp, fp, fn = per_attribute_counts(truth, predicted, n_attributes)
    scores = {"micro_f1": total.f1, "precision": total.precision, "recall": total.recall}
    for group in GROUPS:
        members = groups == group
        scores[f"f1_{group}"] = Counts(int(tp[members].sum()), int(fp[members].sum()), int(fn[members].sum())).f1
    scores["duration"] = float((outcome or {}).get("duration") or 0.0)
    return Scored(scores, build_report(scores, total, tp, fp, fn, groups, len(answers)))


def build_report(scores, total: Counts, tp, fp, fn, groups, n_images: int) -> Report:
    report = Report("iMet 2020: detailed results")
    report.heading("Micro-averaged over all (image, attribute) pairs")
    report.table(["micro-F1", "precision", "recall", "true positives", "false positives", "false negatives"],
                 [[total.f1, total.precision, total.recall, total.tp, total.fp, total.fn]])
    report.paragraph(f"{n_images} test images; {int((tp + fn).sum())} true labels; {int((tp + fp).sum())} predicted.")
    report.heading("F1 per attribute group")
    rows = []
    for group in GROUPS:
        members = groups == group
        counts = Counts(int(tp[members].sum()), int(fp[members].sum()), int(fn[members].sum()))
        rows.append([group, int(members.sum()), counts.f1, counts.precision, counts.recall, int((tp + fn)[members].sum())])
    report.table(["group", "attributes", "F1", "precision", "recall", "true labels"], rows)
    report.heading("Per-attribute F1 against label frequency")
    frequency = tp + fn
    seen = frequency > 0
    per_attribute = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(len(tp)), where=(2 * tp + fp + fn) > 0)
    figure, axes = new_figure(6, 3.8)
    for group in GROUPS:
        members = seen & (groups == group)
        axes.scatter(frequency[members], per_attribute[members], s=9, alpha=0.6, label=group)
    axes.set_xscale("log")
    axes.set_xlabel("true labels of the attribute in the test set (log)")
    axes.set_ylabel("F1 of the attribute")
    axes.set_ylim(-0.03, 1.03)
    axes.legend(fontsize=8, markerscale=1.5)
    report.figure(figure, "Each point is an attribute present in the test answers; rare attributes are the hard ones.")
    never = int(((tp + fp) > 0).sum() - ((tp + fp) > 0)[seen].sum())
    report.paragraph(f"{never} predicted attribute(s) never occur in the test answers: each of their predictions is a "
                     f"false positive.")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
