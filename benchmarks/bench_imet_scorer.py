"""The iMet micro-F1 scorer at the real test scale (21,318 images × 3,474 attributes), on one core.

Baseline, in the same run: the same two files read with pandas, then scikit-learn's sparse MultiLabelBinarizer and
f1_score(average="micro"); both must give the same micro-F1 (to 1e-12). The whole score() is also timed by stage
(read, match, compute, report) so the output says where the time goes.
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
    load("micro_f1", PROGRAM / "micro_f1.py")
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

    # The whole score: read both files, check every row, compute everything the leaderboard shows, the report.
    whole, scored = best_of(3, lambda: scoring.score(ref, res))
    stages = time_stages(scoring, ref, res)
    print("   score() by stage: " + ", ".join(f"{stage} {seconds:.3f} s" for stage, seconds in stages.items()))
    theirs, sklearn_f1 = best_of(3, lambda: sklearn_sparse_f1(ref, res))
    assert abs(sklearn_f1 - scored.scores["micro_f1"]) < 1e-12, (sklearn_f1, scored.scores["micro_f1"])
    return [
        Measure("imet: whole score() at full test scale", whole, "s", "sklearn sparse MLB + f1_score", theirs,
                "< 0.5 s on one core, same micro-F1", whole < 0.5),
    ]


def time_stages(scoring, ref: Path, res: Path) -> dict[str, float]:
    """The best of 3 of each stage of score(), in order."""
    best: dict[str, float] = {}
    for _ in range(3):
        clock = time.perf_counter()
        laps = {}
        n, groups, answers, submission = scoring.read(ref, res)
        laps["read"], clock = time.perf_counter() - clock, time.perf_counter()
        truth, predicted = scoring.match(answers, submission, n)
        laps["match"], clock = time.perf_counter() - clock, time.perf_counter()
        result = scoring.compute(truth, predicted, n, groups)
        laps["compute"], clock = time.perf_counter() - clock, time.perf_counter()
        scoring.build_report(result, groups, len(answers.ids), predicted.unmatched).render()
        laps["report"] = time.perf_counter() - clock
        best = {stage: min(seconds, best.get(stage, seconds)) for stage, seconds in laps.items()}
    return best


def sklearn_sparse_f1(ref: Path, res: Path) -> float:
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    answers = pd.read_csv(ref / "test_labels.csv", dtype=str, keep_default_na=False)
    submission = pd.read_csv(res / "submission.csv", dtype=str, keep_default_na=False).set_index("id")
    predicted = submission.loc[answers["id"], "attribute_ids"]
    binarizer = MultiLabelBinarizer(classes=[str(i) for i in range(N_ATTRIBUTES)], sparse_output=True)
    truth = binarizer.fit_transform(answers["attribute_ids"].str.split())
    return float(f1_score(truth, binarizer.transform(predicted.str.split()), average="micro"))
