"""The baseline's logistic regression, with per-user aggregates and ratios added to the raw columns.

    python3 train.py --data-dir DATA_DIR --output-dir OUTPUT_DIR

New features, computed for every event:
- skewed positive columns (amounts, balances) on a log scale;
- per-user aggregates over all of the user's events in train.csv and test.csv (they hold no labels, so this
  uses no answer): mean and standard deviation of every numeric column, and the user's number of events;
- ratios of every pair of log-scaled columns (a difference of logs: log(a / b)).
Both models are scored on the same held-out quarter of train.csv; OUTPUT_DIR/comparison.csv holds the table
(model, features, valid_auc) and OUTPUT_DIR/predictions.csv the new model's test predictions.
"""
import argparse
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir", type=Path, required=True)
parser.add_argument("--output-dir", type=Path, required=True)
args = parser.parse_args()

train = pd.read_csv(args.data_dir / "train.csv", dtype={"id": str, "user_id": str})
test = pd.read_csv(args.data_dir / "test.csv", dtype={"id": str, "user_id": str})
raw = [c for c in train.columns if c not in ("id", "user_id", "label") and pd.api.types.is_numeric_dtype(train[c])]


def engineered(frame: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Raw columns plus aggregates of each user's events and pairwise log-ratios."""
    skewed = [c for c in raw if events[c].min() >= 0 and events[c].skew() > 1]
    logged = {c: np.log1p(events[c]) if c in skewed else events[c] for c in raw}
    table = pd.DataFrame({**{f"{c}_t": v for c, v in logged.items()}, "user_id": events["user_id"]})
    per_user = table.groupby("user_id").agg(["mean", "std"])
    per_user.columns = [f"user_{column}_{stat}" for column, stat in per_user.columns]
    per_user["user_log_events"] = np.log(events.groupby("user_id").size())
    out = pd.DataFrame({f"{c}_t": (np.log1p(frame[c]) if c in skewed else frame[c]) for c in raw}, index=frame.index)
    for a, b in combinations(skewed, 2):
        out[f"log_{a}_over_{b}"] = np.log1p(frame[a]) - np.log1p(frame[b])
    aggregates = per_user.fillna(0.0).reindex(frame["user_id"]).set_axis(frame.index)
    return pd.concat([out, aggregates], axis=1)


def make_model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


every_event = pd.concat([train.drop(columns=["label"]), test], ignore_index=True)
new_train, new_test = engineered(train, every_event), engineered(test, every_event)
fit_rows, valid_rows = train_test_split(train.index, test_size=0.25, random_state=0, stratify=train["label"])
rows = []
for name, X in (("baseline", train[raw]), ("new", new_train)):
    model = make_model().fit(X.loc[fit_rows], train.loc[fit_rows, "label"])
    auc = roc_auc_score(train.loc[valid_rows, "label"], model.predict_proba(X.loc[valid_rows])[:, 1])
    rows.append({"model": name, "features": len(X.columns), "valid_auc": round(float(auc), 6)})
comparison = pd.DataFrame(rows)
print(comparison.to_string(index=False))

model = make_model().fit(new_train, train["label"])
args.output_dir.mkdir(parents=True, exist_ok=True)
comparison.to_csv(args.output_dir / "comparison.csv", index=False)
pd.DataFrame({"id": test["id"], "probability": model.predict_proba(new_test)[:, 1]}).to_csv(
    args.output_dir / "predictions.csv", index=False)
