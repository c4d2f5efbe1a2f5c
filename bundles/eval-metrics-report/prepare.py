"""Data for the eval-metrics-report task: a binary classification table, and a hidden evaluation set.

Machine-sensor records whose label (a failure within a week) depends on the features through a logistic
model with a threshold effect and an interaction, so a logistic regression reaches a ROC AUC near 0.85.
The feature names are drawn from a pool for each seed, so a copied program that names columns fails.

public/      train.csv, eval.csv (a development evaluation set, with labels)
input_data/  train.csv, eval.csv: the same train.csv, and a HIDDEN evaluation set, with labels: the
             participant's program must see the labels to evaluate itself; participants never download it.
             It is metamorphic: drawn from its own random stream, it differs from the public one in size,
             class balance and separability, so numbers or curves pasted from a public run do not match
private/     eval_labels.csv: the labels of input_data/eval.csv, which the scorer uses to recompute every
             number the program reports (declared public_reference in bundle.yaml: the program sees them too)
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TARGET = "label"
FEATURE_POOL = ["vibration_rms", "bearing_temp", "motor_current", "oil_pressure", "spindle_speed", "humidity",
                "load_factor", "runtime_hours", "voltage_ripple", "acoustic_db", "coolant_flow", "torque_var",
                "idle_ratio", "shock_events", "dust_index", "belt_tension"]
N_FEATURES = 8


HIDDEN_STREAM = 0xE7A1  # the hidden set's own random stream: drawing it leaves the public data unchanged
HIDDEN_DRAW = "hidden_draw"  # params' key for a later phase's hidden draw (absent: draw 0, the stream as always)
INTERCEPT = -1.1


def sensor_values(n: int, weights: np.ndarray, rng: np.random.Generator, *, intercept: float = INTERCEPT,
                  strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Standardised features and labels; `strength` scales the signal (separability), `intercept` the balance."""
    values = rng.normal(0.0, 1.0, size=(n, len(weights)))
    logit = (intercept + strength * (values @ weights
                                     + 1.2 * (values[:, 0] > 1.0)  # a threshold effect
                                     + 0.5 * values[:, 1] * values[:, 2])  # an interaction
             + rng.normal(0.0, 0.5, size=n))
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return values, labels


def as_frame(values: np.ndarray, labels: np.ndarray, names: list[str], offsets, scales) -> pd.DataFrame:
    frame = pd.DataFrame((values * scales + offsets).round(3), columns=names)
    frame[TARGET] = labels
    return frame


def sensor_records(n: int, names: list[str], weights: np.ndarray, rng: np.random.Generator):
    """The public records, and the units (offsets, scales) the hidden set must share to be the same sensors."""
    values, labels = sensor_values(n, weights, rng)
    # Real-looking units: each feature gets its own offset and scale.
    offsets = rng.uniform(-50, 200, size=len(names)).round(0)
    scales = rng.uniform(0.5, 30, size=len(names)).round(1)
    return as_frame(values, labels, names, offsets, scales), (offsets, scales)


def hidden_records(n_eval: int, names: list[str], weights: np.ndarray, units, used_ids: set[int],
                   stream: list[int]) -> pd.DataFrame:
    """The hidden evaluation set: the same sensors and model, but another size, class balance and separability
    (each pushed away from the public set's, never equal to it), so a pasted public run cannot match it."""
    rng = np.random.default_rng(stream)
    n = int(round(n_eval * rng.uniform(0.6, 1.5)))
    intercept = INTERCEPT + rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.1)  # fewer or more failures
    strength = rng.choice([rng.uniform(0.55, 0.75), rng.uniform(1.4, 1.8)])  # harder or easier to separate
    values, labels = sensor_values(n, weights, rng, intercept=intercept, strength=strength)
    frame = as_frame(values, labels, names, *units)
    free = np.setdiff1d(np.arange(10**6), np.fromiter(used_ids, dtype=np.int64))
    frame.insert(0, "id", [f"m{number:06d}" for number in rng.choice(free, size=n, replace=False)])
    return frame


def hidden_stream(seed: int, params: Mapping[str, Any]) -> list[int]:
    """The hidden draw's random stream: draw 0's as always, each later draw (a later phase) one of its own."""
    draw = int(params.get(HIDDEN_DRAW, 0))
    return [seed, HIDDEN_STREAM] + ([draw] if draw else [])


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    if raw_dir is not None:
        raise ValueError("eval-metrics-report generates its own data: it takes no --raw-data")
    n_train, n_eval = params["n_train"], params["n_eval"]
    rng = np.random.default_rng(seed)
    names = [str(name) for name in rng.choice(FEATURE_POOL, size=N_FEATURES, replace=False)]
    weights = rng.normal(0.0, 0.5, size=N_FEATURES)
    weights[:3] = rng.choice([-1.0, 1.0], size=3) * rng.uniform(1.0, 1.5, size=3)  # a few features that matter
    # The public draws stay as they always were (the last n_eval rows, once the hidden set, go unused).
    frame, units = sensor_records(n_train + 2 * n_eval, names, weights, rng)
    ids = rng.choice(10**6, size=len(frame), replace=False)
    frame.insert(0, "id", [f"m{number:06d}" for number in ids])
    train = frame.iloc[:n_train]
    development = frame.iloc[n_train:n_train + n_eval]
    hidden = hidden_records(n_eval, names, weights, units, set(ids.tolist()), hidden_stream(seed, params))

    public, input_data, private = out_dir / "public", out_dir / "input_data", out_dir / "private"
    for folder in (public, input_data, private):
        folder.mkdir(parents=True, exist_ok=True)
    for folder in (public, input_data):
        train.to_csv(folder / "train.csv", index=False)
    development.to_csv(public / "eval.csv", index=False)
    hidden.to_csv(input_data / "eval.csv", index=False)
    hidden[["id", TARGET]].to_csv(private / "eval_labels.csv", index=False)
