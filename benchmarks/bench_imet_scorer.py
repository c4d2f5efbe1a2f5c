"""The iMet micro-F1 scorer at the real test scale (21,318 images × 3,474 attributes), on one core.

Baseline, in the same run: scikit-learn's f1_score(average="micro") on dense multi-hot matrices of the same labels.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from run import Measure

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "scoring_programs" / "imet_micro_f1"
N_IMAGES, N_ATTRIBUTES = 21_318, 3_474


def load(name: str, path: Path):
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def label_rows(rng: np.random.Generator, weights: np.ndarray) -> list[str]:
    counts = rng.integers(1, 11, N_IMAGES)
    return [" ".join(map(str, np.sort(rng.choice(N_ATTRIBUTES, size=k, replace=False, p=weights)))) for k in counts]


def best_of(repeats: int, function) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - started)
    return min(times), value


def bench(workdir: Path) -> list[Measure]:
    os.environ["OMP_NUM_THREADS"] = "1"  # one core, as the target says
    metric = load("imet_metric", PROGRAM / "micro_f1.py")
    scoring = load("imet_scoring", PROGRAM / "scoring.py")
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, N_ATTRIBUTES + 1) ** 1.05
    weights = rng.permutation(weights / weights.sum())
    ids = [rng.bytes(16).hex() for _ in range(N_IMAGES)]
    ref, res = workdir / "ref", workdir / "res"
    ref.mkdir()
    res.mkdir()
    pd.DataFrame({"attribute_id": range(N_ATTRIBUTES),
                  "attribute_name": [f"{g}::a{i}" for i, g in enumerate(np.repeat(
                      ["country", "culture", "dimension", "medium", "tags"], [100, 681, 5, 1920, 768]))]}
                 ).to_csv(ref / "labels.csv", index=False)
    pd.DataFrame({"id": ids, "attribute_ids": label_rows(rng, weights)}).to_csv(ref / "test_labels.csv", index=False)
    pd.DataFrame({"id": ids, "attribute_ids": label_rows(rng, weights)}).to_csv(res / "submission.csv", index=False)

    # The whole score: read both files, check every row, compute everything the leaderboard shows.
    whole, scored = best_of(3, lambda: scoring.score(ref, res))

    truth = metric.parse_label_sets(pd.read_csv(ref / "test_labels.csv")["attribute_ids"], N_ATTRIBUTES, name="t")
    predicted = metric.parse_label_sets(pd.read_csv(res / "submission.csv")["attribute_ids"], N_ATTRIBUTES, name="s")
    ours, counts = best_of(5, lambda: metric.micro_counts(truth, predicted, N_ATTRIBUTES))

    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    binarizer = MultiLabelBinarizer(classes=range(N_ATTRIBUTES))
    dense_truth, dense_predicted = binarizer.fit_transform(truth), binarizer.transform(predicted)
    theirs, sklearn_f1 = best_of(3, lambda: f1_score(dense_truth, dense_predicted, average="micro"))
    assert abs(sklearn_f1 - counts.f1) < 1e-12 and abs(scored.scores["micro_f1"] - counts.f1) < 1e-12
    return [
        Measure("imet: whole score() at full test scale", whole, "s", "sklearn f1_score, dense", theirs,
                "< 2 s on one core", whole < 2.0),
        Measure("imet: micro-F1 from label sets", ours, "s", "sklearn f1_score, dense", theirs,
                ">= 20x faster than sklearn", theirs / ours >= 20),
    ]
