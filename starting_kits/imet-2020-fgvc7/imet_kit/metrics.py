"""Micro-F1 on probability matrices, and the one global threshold that maximises it."""
from __future__ import annotations

import numpy as np


def micro_f1(targets: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.logical_and(targets > 0.5, predicted).sum())
    denominator = 2 * tp + float(np.logical_xor(targets > 0.5, predicted).sum())
    return 2 * tp / denominator if denominator else 0.0


def binarise(probabilities: np.ndarray, threshold: float, min_labels: int = 0) -> np.ndarray:
    predicted = probabilities > threshold
    if min_labels > 0:  # the most likely attributes of images left (nearly) empty
        top = np.argsort(-probabilities, axis=1)[:, :min_labels]
        predicted[np.arange(len(predicted))[:, None], top] = True
    return predicted


def best_threshold(targets: np.ndarray, probabilities: np.ndarray, low: float = 0.01, high: float = 0.99,
                   steps: int = 99, min_labels: int = 0) -> tuple[float, float]:
    """Search a global threshold on [low, high]; returns (threshold, micro-F1)."""
    best = (0.5, -1.0)
    for threshold in np.linspace(low, high, steps):
        score = micro_f1(targets, binarise(probabilities, float(threshold), min_labels))
        if score > best[1]:
            best = (float(threshold), score)
    return best
