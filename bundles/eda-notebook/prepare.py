"""Data for the eda-notebook task: a labelled table with planted problems for an EDA notebook to find.

Feature names are generated (a business word and a random suffix), so a notebook must compute what it
reports. Planted: a severe class imbalance (2-6 % positives), a constant column, a column with heavy
missingness (55-85 %), one with light missingness (about 3-10 %), and a near-duplicate of another column
(a linear copy with a little noise, correlation > 0.995). Values have three decimals and means far from
round numbers, so the statistics a notebook prints can be recognised. private/facts.json holds the planted
facts and the true statistics the scorer compares the notebook's outputs with.
"""
from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pandas as pd

from bundlegen.definition import scale_parameters

LABEL = "label"
WORDS = ["tenure", "spend", "visits", "balance", "clicks", "latency", "income", "orders", "refunds", "sessions",
         "basket", "discount", "distance", "rating", "pageviews", "tickets", "credit", "usage"]
N_FEATURES = 10  # including the planted ones


def column_names(rng: np.random.Generator) -> list[str]:
    alphabet = list(string.ascii_lowercase + string.digits)
    words = rng.choice(WORDS, size=N_FEATURES, replace=False)
    return [f"{word}_{rng.choice(list(string.ascii_lowercase))}{rng.choice(alphabet)}" for word in words]


def make_table(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    names = column_names(rng)
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
        "positive_rate": float(frame[LABEL].mean()), **roles,
        "missing": missing, "duplicate_correlation": float(frame[a].corr(frame[b])),
        "features": [c for c in frame.columns if c != LABEL],
        "stats": {name: {"mean": float(frame[name].mean()), "std": float(frame[name].std())} for name in features},
    }


def prepare(raw_dir: Path | None, out_dir: Path, scale: str, seed: int) -> None:
    if raw_dir is not None:
        raise ValueError("the eda-notebook task plants its problems in generated data; it takes no raw data")
    n_rows = scale_parameters(scale, Path(__file__).parent)["n_rows"]
    rng = np.random.default_rng(seed)
    frame, roles = make_table(n_rows, rng)
    public, input_data, private = (out_dir / name for name in ("public", "input_data", "private"))
    for folder in (public, input_data, private):
        folder.mkdir(parents=True, exist_ok=True)
    for folder in (public, input_data):  # what participants download is what their notebook reads
        frame.to_csv(folder / "train.csv", index=False)
    written = pd.read_csv(public / "train.csv")
    facts = planted_facts(written, roles)
    (private / "facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n", encoding="utf-8")
