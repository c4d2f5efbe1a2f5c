"""Data for the tabular-baseline task: a binary classification table with hidden test labels.

Synthetic by default: customer records whose churn label depends non-linearly on the features
(thresholds, an interaction, a ratio), with missing values and categorical columns, so a tuned
tree model beats a plain logistic regression, which beats a constant. With --raw-data DIR, DIR
holds `train.csv` with a `target` column of exactly two distinct labels (any other columns are
features; an `id` column is made if missing), split into train/test like MLE-bench (stratified,
random_state = seed); a scale with `sample_raw: true` (tiny, small) first takes a seeded sample of
n_train + n_test rows. The labels are mapped to 0/1 in sorted order (numbers by value, otherwise as
text: "benign" → 0, "malignant" → 1); anything else is refused with the labels found.

prepare() also writes facts.json next to public/ and private/: the columns, their types, the row
counts, the label mapping and the class balance of what it wrote, which the pages are rendered from.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

TARGET = "target"
TEST_FRACTION = 1 / 3


def synthetic_customers(n: int, rng: np.random.Generator) -> pd.DataFrame:
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


def write_split(train: pd.DataFrame, test: pd.DataFrame, out_dir: Path) -> None:
    public, private, input_data = out_dir / "public", out_dir / "private", out_dir / "input_data"
    for folder in (public, private, input_data):
        folder.mkdir(parents=True, exist_ok=True)
    test_inputs = test.drop(columns=[TARGET])
    sample = pd.DataFrame({"id": test["id"], TARGET: 0.5})
    for folder in (public, input_data):  # participants get what their program will get
        train.to_csv(folder / "train.csv", index=False)
        test_inputs.to_csv(folder / "test.csv", index=False)
        sample.to_csv(folder / "sample_submission.csv", index=False)
    test[["id", TARGET]].to_csv(private / "test_labels.csv", index=False)


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    n_train, n_test = params["n_train"], params["n_test"]
    rng = np.random.default_rng(seed)
    if raw_dir is None:
        frame = synthetic_customers(n_train + n_test, rng)
        frame.insert(0, "id", [f"c{number:07d}" for number in rng.choice(10**7, size=len(frame), replace=False)])
        train, test = frame.iloc[:n_train], frame.iloc[n_train:]
        labels = {"0": 0, "1": 1}
    else:
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
    write_split(train, test, out_dir)
    facts = data_facts(train, test, labels, "synthetic" if raw_dir is None else "raw")
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
