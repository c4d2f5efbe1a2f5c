"""Data for the tabular-baseline task: a binary classification table with hidden test labels.

Synthetic by default: customer records whose churn label depends non-linearly on the features
(thresholds, an interaction, a ratio), with missing values and categorical columns, so a tuned
tree model beats a plain logistic regression, which beats a constant. With --raw-data DIR, DIR
holds `train.csv` with a `target` column of exactly two distinct labels (any other columns are
features; an `id` column is made if missing), split into train/test like MLE-bench (stratified,
random_state = seed); a scale with `sample_raw: true` (tiny, small) first takes a seeded sample of
n_train + n_test rows. The labels are mapped to 0/1 in sorted order (numbers by value, otherwise as
text: "benign" → 0, "malignant" → 1); anything else is refused with the labels found.

input_data/ (what the program trains and predicts on at submission time) is metamorphic: synthetic data is
another draw from its own random stream (seed, HIDDEN_STREAM) with a stronger signal and another churn rate,
new ids, so cross-validated metrics printed from a run on the public files do not match it; with raw data it
is a seeded subsample of the public train rows and the public test rows. private/test_labels.csv holds the
labels of input_data's test rows, private/reference.json what the scorer compares against (a reference
logistic regression's test AUC and accuracy, the majority-class accuracy, the row counts).

prepare() also writes facts.json next to public/ and private/: the columns, their types, the row
counts, the label mapping and the class balance of the public files, which the pages are rendered from.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TARGET = "target"
TEST_FRACTION = 1 / 3
HIDDEN_STREAM = 1  # the hidden data's own random stream: the public files do not depend on it
HIDDEN_DRAW = "hidden_draw"  # params' key for a later phase's hidden draw (absent: draw 0, the stream as always)
# The hidden churn has a sharper signal and another base rate: honest cross-validation on it gives a clearly
# higher AUC and accuracy than on the public files, so numbers pasted from a public run do not fit.
HIDDEN_SIGNAL, HIDDEN_SHIFT = 3.0, 5.0
RAW_HIDDEN_SHARE = 0.85  # with raw data, the hidden train set is this share of the public one


def synthetic_customers(n: int, rng: np.random.Generator, signal: float = 1.0, shift: float = 0.0) -> pd.DataFrame:
    plan = rng.choice(["basic", "standard", "premium"], size=n, p=[0.5, 0.35, 0.15])
    region = rng.choice(["north", "south", "east", "west", "central"], size=n)
    device = rng.choice(["android", "ios", "web"], size=n, p=[0.45, 0.35, 0.2])
    payment = rng.choice(["card", "paypal", "transfer", "voucher"], size=n, p=[0.5, 0.25, 0.15, 0.1])
    age = rng.integers(18, 80, size=n)
    tenure = rng.gamma(2.0, 12.0, size=n).round(1)
    income = np.exp(rng.normal(10.4, 0.5, size=n)).round(0)
    spend = (rng.gamma(3.0, 15.0, size=n) * np.where(plan == "premium", 2.2, np.where(plan == "standard", 1.4, 1.0))).round(2)
    tickets = rng.poisson(np.where(device == "web", 1.6, 0.9))
    last_login = rng.exponential(9.0, size=n).round(1)
    discount = np.clip(rng.beta(1.2, 6.0, size=n), 0, 0.9).round(3)
    sessions = rng.poisson(np.clip(30 - last_login, 1, None)).astype(float)

    logit = (-1.3
             + 1.6 * (tickets >= 3) + 0.2 * tickets
             + 1.4 * np.tanh((last_login - 10) / 4)
             - 0.025 * np.minimum(tenure, 60)
             - 0.7 * (plan == "premium") + 0.3 * (plan == "basic")
             + 1.2 * np.clip(spend * 12 / income - 0.02, 0, 0.2) * 10  # spend heavy relative to income
             + 0.6 * (payment == "voucher") - 0.3 * (payment == "card")
             + 1.1 * np.sin(age / 7.0)
             + 0.8 * discount * (plan == "basic")
             + rng.normal(0, 0.4, size=n))
    if signal != 1.0 or shift:  # the public draw keeps its exact float values (byte-identical files)
        logit = shift + signal * logit
    target = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame({
        "age": age, "tenure_months": tenure, "plan": plan, "region": region, "device": device,
        "payment_method": payment, "annual_income": income, "monthly_spend": spend,
        "support_tickets": tickets, "days_since_last_login": last_login, "sessions_last_30d": sessions,
        "discount_rate": discount, TARGET: target,
    })
    # Missing values where real systems lose them: unknown income, logins not tracked on old accounts.
    frame.loc[rng.random(n) < 0.08, "annual_income"] = np.nan
    frame.loc[rng.random(n) < 0.05, "days_since_last_login"] = np.nan
    return frame


def write_files(folder: Path, train: pd.DataFrame, test: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.drop(columns=[TARGET]).to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": test["id"], TARGET: 0.5}).to_csv(folder / "sample_submission.csv", index=False)


def write_split(public: tuple[pd.DataFrame, pd.DataFrame], hidden: tuple[pd.DataFrame, pd.DataFrame],
                out_dir: Path) -> None:
    """public/ for participants, input_data/ for their program at submission time, private/ for the scorer."""
    write_files(out_dir / "public", *public)
    write_files(out_dir / "input_data", *hidden)
    private = out_dir / "private"
    private.mkdir(parents=True, exist_ok=True)
    hidden[1][["id", TARGET]].to_csv(private / "test_labels.csv", index=False)
    reference = reference_facts(*hidden)
    (private / "reference.json").write_text(json.dumps(reference, indent=2, sort_keys=True) + "\n")


def reference_model(train: pd.DataFrame):
    """A plain logistic regression: the level of AUC and accuracy a competent baseline reaches."""
    features = [c for c in train.columns if c not in ("id", TARGET)]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(train[c])]
    categorical = [c for c in features if c not in numeric]
    encode = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numeric),
        (make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                       OneHotEncoder(handle_unknown="ignore", max_categories=30)), categorical))
    return make_pipeline(encode, LogisticRegression(max_iter=2000)), features


def reference_facts(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    model, features = reference_model(train)
    model.fit(train[features], train[TARGET])
    probabilities = model.predict_proba(test[features])[:, 1]
    labels = test[TARGET].to_numpy()
    share = float(labels.mean())
    return {"reference_auc": round(float(roc_auc_score(labels, probabilities)), 4),
            "reference_accuracy": round(float(np.mean((probabilities > 0.5) == labels)), 4),
            "majority_accuracy": round(max(share, 1 - share), 4), "n_train": len(train), "n_test": len(test),
            "train_share_1": round(float(train[TARGET].mean()), 4), "test_share_1": round(share, 4)}


def customer_ids(rng: np.random.Generator, n: int, prefix: str) -> list[str]:
    return [f"{prefix}{number:07d}" for number in rng.choice(10**7, size=n, replace=False)]


def synthetic_splits(n_train: int, n_test: int, seed: int, stream: list[int]) -> tuple[tuple, tuple]:
    """The public split (the seed's main stream, as always) and the hidden one (its own stream, other ids)."""
    splits = []
    for rng, knobs, prefix in ((np.random.default_rng(seed), (1.0, 0.0), "c"),
                               (np.random.default_rng(stream), (HIDDEN_SIGNAL, HIDDEN_SHIFT), "h")):
        frame = synthetic_customers(n_train + n_test, rng, *knobs)
        frame.insert(0, "id", customer_ids(rng, len(frame), prefix))
        splits.append((frame.iloc[:n_train].reset_index(drop=True), frame.iloc[n_train:].reset_index(drop=True)))
    return splits[0], splits[1]


def hidden_stream(seed: int, params: Mapping[str, Any]) -> list[int]:
    """The hidden draw's random stream: draw 0's as always, each later draw (a later phase) one of its own."""
    draw = int(params.get(HIDDEN_DRAW, 0))
    return [seed, HIDDEN_STREAM] + ([draw] if draw else [])


def raw_splits(raw_dir: Path, params: Mapping[str, Any], seed: int) -> tuple[tuple, tuple, dict]:
    n_train, n_test = params["n_train"], params["n_test"]
    source = raw_dir / "train.csv"
    if not source.is_file():
        raise FileNotFoundError(f"{source}: not found (the raw folder must hold train.csv with a "
                                f"'{TARGET}' column)")
    frame = pd.read_csv(source)
    if TARGET not in frame.columns:
        raise ValueError(f"{source}: no '{TARGET}' column (columns: {', '.join(map(str, frame.columns))})")
    frame[TARGET], labels = binary_target(frame[TARGET], source)
    if "id" not in frame.columns:
        frame.insert(0, "id", [f"r{i:07d}" for i in range(len(frame))])
    if params["sample_raw"] and len(frame) > n_train + n_test:
        frame = frame.sample(n=n_train + n_test, random_state=seed)
    train, test = train_test_split(frame, test_size=TEST_FRACTION, random_state=seed, stratify=frame[TARGET])
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    # Real data cannot be drawn again: the program trains on a hidden subsample of the public rows instead.
    hidden_rng = np.random.default_rng(hidden_stream(seed, params))
    keep = np.sort(hidden_rng.choice(len(train), size=max(2, int(len(train) * RAW_HIDDEN_SHARE)), replace=False))
    return (train, test), (train.iloc[keep].reset_index(drop=True), test), labels


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    if raw_dir is None:
        public, hidden = synthetic_splits(params["n_train"], params["n_test"], seed, hidden_stream(seed, params))
        labels = {"0": 0, "1": 1}
    else:
        public, hidden, labels = raw_splits(raw_dir, params, seed)
    write_split(public, hidden, out_dir)
    facts = data_facts(*public, labels, "synthetic" if raw_dir is None else "raw")
    (out_dir / "facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")


def sort_key(label) -> tuple:
    """Numbers by value (2 before 10), then everything else as text: a deterministic order of the labels."""
    try:
        return (0, float(label), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(label))


def binary_target(column: pd.Series, source: Path) -> tuple[pd.Series, dict[str, int]]:
    """The target as 0/1 and the mapping {label: 0 or 1}; a ValueError naming the file, the column and the
    labels found for anything but exactly two distinct labels, or a missing label."""
    missing = column.isna().to_numpy().nonzero()[0]
    if len(missing):
        lines = ", ".join(str(row + 2) for row in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"{source}: column '{TARGET}': {len(missing)} row(s) without a label "
                         f"(line {lines}; line 1 is the header)")
    found = sorted(column.unique().tolist(), key=sort_key)
    if len(found) != 2:
        shown = ", ".join(repr(label) for label in found[:10]) + (f", ... ({len(found)} in all)" if len(found) > 10 else "")
        raise ValueError(f"{source}: column '{TARGET}' must hold exactly two distinct labels (a binary task), "
                         f"found {len(found)}: {shown}")
    mapping = {label: value for value, label in enumerate(found)}
    return column.map(mapping).astype(int), {str(label): value for label, value in mapping.items()}


def data_facts(train: pd.DataFrame, test: pd.DataFrame, labels: dict[str, int], source: str) -> dict:
    """What the pages say about the data: exactly what was written."""
    columns = []
    for name in train.columns:
        if name == TARGET:
            continue
        kind = "numeric" if pd.api.types.is_numeric_dtype(train[name]) else "categorical text"
        missing = int(train[name].isna().sum() + (test[name].isna().sum() if name in test else 0))
        columns.append({"name": str(name), "type": kind, "missing": missing, "is_id": name == "id"})
    positives = int(train[TARGET].sum())
    return {"source": source, "target": TARGET, "n_train": len(train), "n_test": len(test),
            "columns": columns, "features": [c["name"] for c in columns if not c["is_id"]],
            "labels": [{"label": label, "value": value} for label, value in sorted(labels.items(), key=lambda i: i[1])],
            "train_balance": {"0": len(train) - positives, "1": positives,
                              "share_1": round(positives / len(train), 4) if len(train) else 0.0}}
