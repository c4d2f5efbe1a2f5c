"""Data for the feature-engineering task: card transactions whose label lives in per-user aggregates and a ratio.

Each user has a typical amount, a spread of amounts and an activity level; each event has an amount and the
account balance at that moment. The probability that an event is flagged (label 1) grows with the user's typical
amount, the spread of the user's amounts, falls with the user's number of events, and grows with the amount
relative to the balance. None of that is a raw column: a model on the raw columns of one event (the baseline
train.py) sees little of it; per-user aggregates over all of a user's events (train and test: they hold no
labels) and the amount / balance ratio recover most of it.

The column names of the amount, the balance and two noise columns are drawn per seed from pools of synonyms.
private/ holds the test labels and facts.json: the baseline's hidden-test ROC AUC (measured by running the
baseline train.py itself on this data) and the AUC of the true probabilities (the best any model can do).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

TASK_FOLDER = Path(__file__).resolve().parent
BASELINE = TASK_FOLDER / "baseline_train.py"
TEST_FRACTION = 1 / 3
HIDDEN_STREAM = 1  # the hidden data's own random stream: the public files do not depend on it
HIDDEN_DRAW = "hidden_draw"  # params' key for a later phase's hidden draw (absent: draw 0, the stream as always)
DISTINCT = 0.1  # the hidden baseline AUCs and achievable gain differ from the public ones by at least this
MIN_HIDDEN_GAIN = 0.15  # on the hidden data, the right features are worth at least this much AUC
NAME_POOLS = {
    "amount": ["amount", "txn_amount", "payment_value", "charge_amount", "spend"],
    "balance": ["balance", "account_balance", "available_funds", "wallet_balance", "funds_before"],
    "hour": ["hour", "hour_of_day", "local_hour", "txn_hour"],
    "score": ["merchant_score", "merchant_rating", "shop_score", "vendor_score"],
    "channel": ["channel", "entry_mode", "pos_channel", "source"],
}


# The public data's logit; the hidden data draws its own (draw_hidden_weights).
PUBLIC_WEIGHTS = {"intercept": -1.0, "typical": 0.8, "spread": 1.1, "count": -0.8, "share": 1.3}


def column_names(rng: np.random.Generator) -> dict[str, str]:
    return {role: str(rng.choice(pool)) for role, pool in NAME_POOLS.items()}


def standardized(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / values.std()


def synthetic_events(n_users: int, rng: np.random.Generator, names: dict[str, str],
                     weights: Mapping[str, float] = PUBLIC_WEIGHTS) -> tuple[pd.DataFrame, np.ndarray]:
    """Events of n_users users, and each event's true probability of label 1 (a logit with these weights)."""
    typical = rng.normal(3.5, 0.7, n_users)  # log of the user's typical amount
    spread = rng.uniform(0.15, 1.0, n_users)  # std of the user's log amounts
    counts = 3 + rng.poisson(np.exp(rng.normal(1.8, 0.5, n_users)))
    user = np.repeat(np.arange(n_users), counts)
    log_amount = typical[user] + spread[user] * rng.normal(size=len(user))
    # The balance follows the amount (people spend in proportion to their means); what matters is the share.
    log_share = rng.normal(-1.5, 0.7, len(user))  # log(amount / balance)
    log_balance = log_amount - log_share
    logit = (weights["intercept"] + weights["typical"] * standardized(typical)[user]
             + weights["spread"] * standardized(spread)[user]
             + weights["count"] * standardized(np.log(counts))[user] + weights["share"] * standardized(log_share))
    probability = 1 / (1 + np.exp(-logit))
    label = (rng.random(len(user)) < probability).astype(int)
    user_ids = np.array([f"u{number:05d}" for number in rng.choice(10**5, size=n_users, replace=False)])
    frame = pd.DataFrame({
        "user_id": user_ids[user],
        names["amount"]: np.exp(log_amount).round(2),
        names["balance"]: np.exp(log_balance).round(2),
        names["hour"]: rng.integers(0, 24, len(user)),
        names["score"]: rng.uniform(0, 5, len(user)).round(2),
        names["channel"]: rng.choice(["online", "chip", "contactless", "swipe"], len(user)),
        "label": label,
    })
    return frame, probability


def data_dictionary(names: dict[str, str]) -> str:
    return "\n".join([
        "# Columns of train.csv and test.csv", "",
        "| column | meaning |", "| --- | --- |",
        "| `id` | the event (a card transaction) |",
        "| `user_id` | the card holder; every user has events in both train.csv and test.csv |",
        f"| `{names['amount']}` | amount of the transaction |",
        f"| `{names['balance']}` | balance of the account just before the transaction |",
        f"| `{names['hour']}` | local hour of the transaction |",
        f"| `{names['score']}` | the merchant's rating (0 to 5) |",
        f"| `{names['channel']}` | how the card was used (text) |",
        "| `label` | 1 if the transaction was flagged for review (train.csv only) |", ""])


def run_baseline(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Run the baseline train.py itself: its test predictions and the validation AUC it prints."""
    with tempfile.TemporaryDirectory(prefix="feature-engineering-baseline-") as work:
        work = Path(work)
        train.to_csv(work / "train.csv", index=False)
        test.to_csv(work / "test.csv", index=False)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        done = subprocess.run([sys.executable, str(BASELINE), "--data-dir", str(work), "--output-dir",
                               str(work / "out")], capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, f"the baseline failed:\n{done.stderr}"
        printed = [line for line in done.stdout.splitlines() if line.startswith("validation ROC AUC:")]
        predictions = pd.read_csv(work / "out" / "predictions.csv", dtype={"id": str})
    return predictions, float(printed[-1].split(":")[1])


def split_events(frame: pd.DataFrame, probability: np.ndarray, rng: np.random.Generator):
    """Give each event an id, shuffle, and cut off the test third: (train, test, the test rows' true probability)."""
    frame = frame.copy()
    frame.insert(0, "id", [f"e{number:07d}" for number in rng.choice(10**7, size=len(frame), replace=False)])
    order = rng.permutation(len(frame))
    frame, probability = frame.iloc[order].reset_index(drop=True), probability[order]
    n_test = int(round(len(frame) * TEST_FRACTION))
    return frame.iloc[n_test:].reset_index(drop=True), frame.iloc[:n_test].reset_index(drop=True), probability[:n_test]


def facts_of(train: pd.DataFrame, test: pd.DataFrame, test_probability: np.ndarray) -> dict:
    """What the scorer needs of one variant, the baseline train.py's AUCs measured by running it."""
    predictions, baseline_valid_auc = run_baseline(train, test.drop(columns=["label"]))
    aligned = predictions.set_index("id").loc[test["id"], "probability"].to_numpy()
    return {"baseline_test_auc": float(roc_auc_score(test["label"], aligned)),
            "baseline_valid_auc": baseline_valid_auc,
            "oracle_test_auc": float(roc_auc_score(test["label"], test_probability)),
            "n_train": len(train), "n_test": len(test), "train_positive_rate": float(train["label"].mean())}


def draw_hidden_weights(rng: np.random.Generator) -> dict[str, float]:
    """The hidden logit: the signal moves to the spread and the number of events (which no raw column shows),
    with signs of their own; the typical amount and the ratio, which the baseline partly sees, are faint."""
    sign = lambda: float(rng.choice([-1.0, 1.0]))  # noqa: E731
    return {"intercept": float(rng.uniform(-1.6, -0.2)), "typical": sign() * float(rng.uniform(0.0, 0.4)),
            "spread": sign() * float(rng.uniform(1.4, 2.0)), "count": sign() * float(rng.uniform(1.0, 1.6)),
            "share": float(rng.uniform(0.1, 0.4))}


def distinct(hidden: dict, public: dict) -> bool:
    """A table typed from a public run must not fit the hidden data: baseline and gain both move."""
    gain = lambda facts: facts["oracle_test_auc"] - facts["baseline_test_auc"]  # noqa: E731
    return (abs(hidden["baseline_valid_auc"] - public["baseline_valid_auc"]) >= DISTINCT
            and abs(hidden["baseline_test_auc"] - public["baseline_test_auc"]) >= DISTINCT
            and abs(gain(hidden) - gain(public)) >= DISTINCT and gain(hidden) >= MIN_HIDDEN_GAIN)


def draw_hidden(n_users: int, stream: list[int], names: dict[str, str], public: dict):
    """Hidden train/test from the hidden stream (the public files do not depend on it), redrawn until distinct."""
    rng = np.random.default_rng(stream)
    for _ in range(20):
        weights = draw_hidden_weights(rng)
        train, test, test_probability = split_events(*synthetic_events(n_users, rng, names, weights), rng)
        facts = facts_of(train, test, test_probability)
        if distinct(facts, public):
            return train, test, facts
    raise AssertionError("could not draw hidden data that differs enough from the public data")


def hidden_stream(seed: int, params: Mapping[str, Any]) -> list[int]:
    """The hidden draw's random stream: draw 0's as always, each later draw (a later phase) one of its own."""
    draw = int(params.get(HIDDEN_DRAW, 0))
    return [seed, HIDDEN_STREAM] + ([draw] if draw else [])


def write_variant(folder: Path, train: pd.DataFrame, test: pd.DataFrame, names: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.drop(columns=["label"]).to_csv(folder / "test.csv", index=False)
    (folder / "columns.md").write_text(data_dictionary(names))
    shutil.copyfile(BASELINE, folder / "train.py")


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    if raw_dir is not None:
        raise ValueError("this task's data is synthetic: its label is planted in per-user aggregates and a "
                         "ratio, which real data would not guarantee")
    n_users = params["n_users"]
    rng = np.random.default_rng(seed)
    names = column_names(rng)
    train, test, test_probability = split_events(*synthetic_events(n_users, rng, names), rng)
    public_facts = facts_of(train, test, test_probability)
    hidden_train, hidden_test, facts = draw_hidden(n_users, hidden_stream(seed, params), names, public_facts)

    public, private, input_data = (out_dir / name for name in ("public", "private", "input_data"))
    write_variant(public, train, test, names)
    write_variant(input_data, hidden_train, hidden_test, names)
    private.mkdir(parents=True, exist_ok=True)
    hidden_test[["id", "label"]].to_csv(private / "test_labels.csv", index=False)
    facts = {**facts, "columns": names}
    (private / "facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
