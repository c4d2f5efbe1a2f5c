"""Data for the eda-notebook task: a labelled table with planted problems for an EDA notebook to find.

Feature names are generated (a business word and a random suffix), so a notebook must compute what it
reports. Planted: a severe class imbalance (2-6 % positives), a constant column, a column with heavy
missingness (55-85 %), one with light missingness (about 3-10 %), and a near-duplicate of another column
(a linear copy with a little noise, correlation > 0.995). Values have three decimals and means far from
round numbers, so the statistics a notebook prints can be recognised.

public/train.csv is what participants develop on. input_data/train.csv, the file their notebook runs on at
submission time, is a table of the same kind drawn from a random stream of its own: other rows, other column
names and count, another positive rate, missing fractions and planted columns. Outputs pasted from a run on the
public file therefore match nothing; only a notebook that computes gets credit. private/facts.json holds the
hidden table's planted facts and true statistics; private/columns.json its values (NaN as null), from which
the scorer recomputes the histograms a notebook plotted.
"""
from __future__ import annotations

import json
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

LABEL = "label"
WORDS = ["tenure", "spend", "visits", "balance", "clicks", "latency", "income", "orders", "refunds", "sessions",
         "basket", "discount", "distance", "rating", "pageviews", "tickets", "credit", "usage"]
N_FEATURES = 10  # including the planted ones
HIDDEN_STREAM = 13  # the hidden table's own random stream: the public table's draws stay as they were
HIDDEN_DRAW = "hidden_draw"  # params' key for a later phase's hidden draw (absent: draw 0, the stream as always)
HIDDEN_FEATURES = (9, 12)  # the hidden table has 9 to 12 feature columns (make_table needs at least 9)


def column_names(rng: np.random.Generator, n_features: int = N_FEATURES) -> list[str]:
    alphabet = list(string.ascii_lowercase + string.digits)
    words = rng.choice(WORDS, size=n_features, replace=False)
    return [f"{word}_{rng.choice(list(string.ascii_lowercase))}{rng.choice(alphabet)}" for word in words]


def make_table(n: int, rng: np.random.Generator, n_features: int = N_FEATURES) -> tuple[pd.DataFrame, dict]:
    names = column_names(rng, n_features)
    constant, heavy, light, original, duplicate = names[:5]
    frame = pd.DataFrame(index=range(n))
    for name in names:
        if name in (constant, duplicate):
            continue
        location, spread = rng.uniform(15, 900), rng.uniform(0.15, 0.6)  # means well away from 0 and 1
        frame[name] = (location * np.exp(rng.normal(0, spread, size=n))).round(3)
    constant_value = float(rng.integers(1, 10))
    frame[constant] = constant_value
    factor, offset = rng.uniform(0.8, 3.0), rng.uniform(-5, 5)
    noise = rng.normal(0, 0.02 * frame[original].std(), size=n)
    frame[duplicate] = (frame[original] * factor + offset + noise).round(3)
    frame = frame[names[5:7] + [original, heavy] + names[7:9] + [duplicate, constant, light] + names[9:]]

    # The label depends on a few features; exactly round(rate × n) positives, the riskiest rows.
    rate = float(rng.uniform(0.02, 0.06))
    standardised = (np.log(frame[names[5:9]]) - np.log(frame[names[5:9]]).mean()) / np.log(frame[names[5:9]]).std()
    risk = standardised.to_numpy() @ rng.normal(0, 1, size=4) + rng.normal(0, 1, size=n)
    positives = max(2, int(round(rate * n)))
    label = np.zeros(n, dtype=int)
    label[np.argsort(-risk)[:positives]] = 1
    frame[LABEL] = label

    heavy_fraction, light_fraction = rng.uniform(0.55, 0.85), rng.uniform(0.03, 0.10)
    frame.loc[rng.random(n) < heavy_fraction, heavy] = np.nan
    frame.loc[rng.random(n) < light_fraction, light] = np.nan
    roles = {"constant": constant, "constant_value": constant_value, "heavy_missing": heavy,
             "light_missing": light, "duplicate": [original, duplicate]}
    return frame, roles


def planted_facts(frame: pd.DataFrame, roles: dict) -> dict:
    """What the scorer compares with: computed from the table as written (the same numbers pandas shows)."""
    features = [c for c in frame.columns if c not in (LABEL, roles["constant"])]
    missing = {name: {"count": int(frame[name].isna().sum()), "fraction": float(frame[name].isna().mean())}
               for name in (roles["heavy_missing"], roles["light_missing"])}
    a, b = roles["duplicate"]
    return {
        "n_rows": len(frame), "n_columns": frame.shape[1], "label": LABEL,
        "positive_rate": float(frame[LABEL].mean()), "positives": int(frame[LABEL].sum()), **roles,
        "missing": missing, "duplicate_correlation": float(frame[a].corr(frame[b])),
        "features": [c for c in frame.columns if c != LABEL],
        "stats": {name: {"mean": float(frame[name].mean()), "std": float(frame[name].std())} for name in features},
    }


def differs(hidden: pd.DataFrame, public: pd.DataFrame, hidden_roles: dict, roles: dict) -> bool:
    """Nothing a notebook could copy from the public table holds for the hidden one: row count, column names,
    positive rate (by more than a rounding), heavy missing fraction."""
    shared = (set(hidden.columns) & set(public.columns)) - {LABEL}
    heavy = hidden[hidden_roles["heavy_missing"]].isna().mean() - public[roles["heavy_missing"]].isna().mean()
    return (len(hidden) != len(public) and not shared and abs(hidden[LABEL].mean() - public[LABEL].mean()) >= 0.01
            and abs(heavy) >= 0.05)


def hidden_table(public: pd.DataFrame, roles: dict, n_rows: int, stream: list[int]) -> tuple[pd.DataFrame, dict]:
    """The table the notebook reads at submission time: the public table's kind, from a random stream of its own,
    with other rows, columns (names, count, order), positive rate, missing fractions and planted columns."""
    rng = np.random.default_rng(stream)
    for _ in range(1000):  # a draw rarely fails the checks; 1000 failures would be a bug
        n = int(round(n_rows * rng.uniform(0.8, 1.25)))
        frame, hidden_roles = make_table(n, rng, int(rng.integers(HIDDEN_FEATURES[0], HIDDEN_FEATURES[1] + 1)))
        if differs(frame, public, hidden_roles, roles):
            features = [name for name in frame.columns if name != LABEL]
            return frame[[str(name) for name in rng.permutation(features)] + [LABEL]], hidden_roles
    raise RuntimeError("no hidden table differs from the public one: check make_table")


def hidden_stream(seed: int, params: Mapping[str, Any]) -> list[int]:
    """The hidden draw's random stream: draw 0's as always, each later draw (a later phase) one of its own."""
    draw = int(params.get(HIDDEN_DRAW, 0))
    return [HIDDEN_STREAM, seed] + ([draw] if draw else [])


def column_values(frame: pd.DataFrame) -> dict:
    """Every column's values (NaN as null), for the scorer to recompute the histograms a notebook plotted."""
    return {name: [None if pd.isna(value) else float(value) for value in frame[name]] for name in frame.columns}


def write_json(path: Path, data: dict, indent: int | None = 2) -> None:
    path.write_text(json.dumps(data, indent=indent, sort_keys=True) + "\n", encoding="utf-8")


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    if raw_dir is not None:
        raise ValueError("the eda-notebook task plants its problems in generated data; it takes no raw data")
    n_rows = params["n_rows"]
    rng = np.random.default_rng(seed)
    frame, roles = make_table(n_rows, rng)
    hidden, hidden_roles = hidden_table(frame, roles, n_rows, hidden_stream(seed, params))
    public, input_data, private = (out_dir / name for name in ("public", "input_data", "private"))
    for folder in (public, input_data, private):
        folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(public / "train.csv", index=False)  # what participants develop on
    hidden.to_csv(input_data / "train.csv", index=False)  # what their notebook reads when it is scored
    written = pd.read_csv(input_data / "train.csv")  # the facts of the file as written: what pandas shows
    write_json(private / "facts.json", planted_facts(written, hidden_roles))
    write_json(private / "columns.json", column_values(written), indent=None)
