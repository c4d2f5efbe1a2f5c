"""Micro-averaged F1 over all (image, attribute) pairs: 2·TP / (2·TP + FP + FN), the iMet 2020 metric.

Labels are sets of attribute ids per image. Pairs are encoded as row · n_attributes + attribute, so
one sorted intersection counts every true positive at once; nothing dense is ever built.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from programlib import SubmissionError
from programlib.tables import line_of


@dataclass
class Counts:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """0 when there is nothing to find and nothing predicted, as scikit-learn's default."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0


def parse_label_sets(texts: Sequence[str], n_attributes: int, *, name: str, column: str = "attribute_ids") -> list[np.ndarray]:
    """'12 7 300' → array([7, 12, 300]) per row; an empty cell is an empty prediction (legal).

    A repeated id in one row counts once. Anything but ids 0..n_attributes-1 is the participant's error.
    """
    parsed = []
    for row, text in enumerate(texts):
        tokens = str(text).split()
        for token in tokens:
            if not (token.isascii() and token.isdigit()):
                raise SubmissionError(f"{name}, line {line_of(row)}, column '{column}': {token!r} is not an attribute "
                                      f"id (whole numbers separated by spaces)")
            if len(token) > 9:  # would overflow; no label space is that large
                raise SubmissionError(f"{name}, line {line_of(row)}, column '{column}': attribute id {token} does not "
                                      f"exist (the ids are 0 to {n_attributes - 1}, see labels.csv)")
        values = np.unique(np.array(tokens, dtype=np.int64)) if tokens else np.empty(0, dtype=np.int64)
        if values.size and values[-1] >= n_attributes:
            raise SubmissionError(f"{name}, line {line_of(row)}, column '{column}': attribute id {int(values[-1])} "
                                  f"does not exist (the ids are 0 to {n_attributes - 1}, see labels.csv)")
        parsed.append(values)
    return parsed


def pair_keys(label_sets: Sequence[np.ndarray], n_attributes: int) -> np.ndarray:
    """Sorted unique row · n_attributes + attribute for every (row, attribute) pair."""
    lengths = np.fromiter((len(s) for s in label_sets), dtype=np.int64, count=len(label_sets))
    if lengths.sum() == 0:
        return np.empty(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(label_sets), dtype=np.int64), lengths)
    return rows * n_attributes + np.concatenate(label_sets)  # rows ascending, ids sorted within a row


def micro_counts(truth: Sequence[np.ndarray], predicted: Sequence[np.ndarray], n_attributes: int) -> Counts:
    assert len(truth) == len(predicted)
    true_keys, predicted_keys = pair_keys(truth, n_attributes), pair_keys(predicted, n_attributes)
    tp = int(np.intersect1d(true_keys, predicted_keys, assume_unique=True).size)
    return Counts(tp=tp, fp=int(predicted_keys.size) - tp, fn=int(true_keys.size) - tp)


def per_attribute_counts(truth: Sequence[np.ndarray], predicted: Sequence[np.ndarray],
                         n_attributes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP, FP and FN of every attribute (arrays of length n_attributes)."""
    true_keys, predicted_keys = pair_keys(truth, n_attributes), pair_keys(predicted, n_attributes)
    hits = np.intersect1d(true_keys, predicted_keys, assume_unique=True)
    tp = np.bincount(hits % n_attributes, minlength=n_attributes)
    fp = np.bincount(predicted_keys % n_attributes, minlength=n_attributes) - tp
    fn = np.bincount(true_keys % n_attributes, minlength=n_attributes) - tp
    return tp, fp, fn
