"""Gradient boosting on hand-picked per-user aggregates and the amount / balance ratio.

    python3 train.py --data-dir DATA_DIR --output-dir OUTPUT_DIR
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier


def columns(frame):
    numeric = [c for c in frame.columns if c not in ("id", "user_id", "label") and pd.api.types.is_numeric_dtype(frame[c])]
    money = sorted(numeric, key=lambda c: -frame[c].median())[:2]  # the amount and the balance are the large ones
    amount = min(money, key=lambda c: frame[c].median())
    return numeric, amount, max(money, key=lambda c: frame[c].median())


def features(frame, events, amount, balance, numeric):
    log_amount = np.log(events[amount].clip(lower=0.01))
    per_user = pd.DataFrame({"user_id": events["user_id"], "la": log_amount}).groupby("user_id")["la"].agg(
        ["mean", "std", "size", "median", "max"]).fillna(0.0)
    per_user["log_size"] = np.log(per_user.pop("size"))
    out = frame[numeric].copy()
    out["log_ratio"] = np.log(frame[amount].clip(lower=0.01)) - np.log(frame[balance].clip(lower=0.01))
    joined = per_user.reindex(frame["user_id"]).set_axis(frame.index)
    return pd.concat([out, joined.add_prefix("user_")], axis=1)


def model():
    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_depth=3, random_state=0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args()
    train = pd.read_csv(args.data_dir / "train.csv", dtype={"id": str, "user_id": str})
    test = pd.read_csv(args.data_dir / "test.csv", dtype={"id": str, "user_id": str})
    numeric, amount, balance = columns(train)
    events = pd.concat([train.drop(columns=["label"]), test], ignore_index=True)
    fitted = model().fit(features(train, events, amount, balance, numeric), train["label"])
    args.output_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": test["id"], "probability": fitted.predict_proba(
        features(test, events, amount, balance, numeric))[:, 1]}).to_csv(args.output_dir / "predictions.csv", index=False)
