"""Micro-averaged F1 over all (image, attribute) pairs: 2·TP / (2·TP + FP + FN), the iMet 2020 metric.

Labels are compared as Kaggle's metric compares them: space-separated tokens, as text. A token that spells an
attribute id (0..N-1, written plainly) is that attribute; any other token ('-1', '3474', '007', '4.0', 'nan', 'x')
names no attribute, so it can only be a false positive, and is counted as one (Kaggle's metric refuses none of
them). Pairs are encoded as row · n_attributes + attribute, so one sorted search counts every true positive at once;
nothing dense is built.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain
from typing import Sequence

import numpy as np

# Every token a plain attribute id below 10^9 (the common case, checked in one pass over the joined text).
PLAIN_IDS = re.compile(r"(?:(?:0|[1-9][0-9]{0,8})(?: |\Z))*", re.ASCII)
PLAIN_ID = re.compile(r"0|[1-9][0-9]*", re.ASCII)


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


@dataclass
class Labels:
    """The (image, attribute) pairs of a table: sorted unique keys row · n_attributes + attribute, plus how many
    distinct (image, token) pairs name no attribute (they can only be false positives)."""
    keys: np.ndarray
    unmatched: int = 0


def parse_labels(cells: Sequence[str], n_attributes: int, *, rows: np.ndarray | None = None) -> Labels:
    """Cells in file order ('12 7 300', '' for an empty prediction); `rows[i]` is the image of cell i (default i).

    A repeated token in a cell counts once. Nothing is refused: a token naming no attribute is a false positive.
    """
    rows = np.arange(len(cells), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    tokens = [cell.split() for cell in cells]
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    flat = list(chain.from_iterable(tokens))
    if PLAIN_IDS.fullmatch(" ".join(flat)):  # fast path: one regex, one conversion
        values = np.array(flat, dtype=np.int64) if flat else np.empty(0, dtype=np.int64)
        unmatched_at = np.flatnonzero(values >= n_attributes)
    else:
        values, unmatched_at = _classify(flat, n_attributes)
    owner = np.repeat(rows, lengths)
    unmatched = len({(int(owner[i]), flat[i]) for i in unmatched_at})  # as text: '007' and '7' differ, as on Kaggle
    known = np.ones(len(flat), dtype=bool)
    known[unmatched_at] = False
    return Labels(np.unique(owner[known] * n_attributes + values[known]), unmatched)


def _classify(flat: list[str], n_attributes: int) -> tuple[np.ndarray, np.ndarray]:
    """The slow path, token by token: values (0 where no attribute) and the positions naming no attribute."""
    values = np.zeros(len(flat), dtype=np.int64)
    unmatched_at = []
    for position, token in enumerate(flat):
        if PLAIN_ID.fullmatch(token) and int(token) < n_attributes:
            values[position] = int(token)
        else:
            unmatched_at.append(position)
    return values, np.array(unmatched_at, dtype=np.int64)


def true_positives(truth: Labels, predicted: Labels) -> np.ndarray:
    """The keys in both (both sorted and unique: one binary search per prediction)."""
    if truth.keys.size == 0:
        return truth.keys
    at = np.minimum(np.searchsorted(truth.keys, predicted.keys), truth.keys.size - 1)
    return predicted.keys[truth.keys[at] == predicted.keys]


def micro_counts(truth: Labels, predicted: Labels) -> Counts:
    tp = int(true_positives(truth, predicted).size)
    return Counts(tp=tp, fp=int(predicted.keys.size) - tp + predicted.unmatched, fn=int(truth.keys.size) - tp)


def per_attribute_counts(truth: Labels, predicted: Labels, n_attributes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP, FP and FN of every attribute (arrays of length n_attributes; tokens naming no attribute are left out)."""
    tp = np.bincount(true_positives(truth, predicted) % n_attributes, minlength=n_attributes)
    fp = np.bincount(predicted.keys % n_attributes, minlength=n_attributes) - tp
    fn = np.bincount(truth.keys % n_attributes, minlength=n_attributes) - tp
    return tp, fp, fn
