"""Baseline: a logistic regression on the raw numeric columns of each event.

    python3 train.py --data-dir DATA_DIR --output-dir OUTPUT_DIR

Holds out a quarter of train.csv to print a validation ROC AUC, refits on all of train.csv and writes
OUTPUT_DIR/predictions.csv (id, probability = P(label = 1)).
"""
import argparse
from pathlib import Path

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
features = [c for c in train.columns
            if c not in ("id", "user_id", "label") and pd.api.types.is_numeric_dtype(train[c])]


def make_model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


fit_part, valid_part = train_test_split(train, test_size=0.25, random_state=0, stratify=train["label"])
model = make_model().fit(fit_part[features], fit_part["label"])
valid_auc = roc_auc_score(valid_part["label"], model.predict_proba(valid_part[features])[:, 1])
print(f"baseline features: {', '.join(features)}")
print(f"validation ROC AUC: {valid_auc:.4f}")

model = make_model().fit(train[features], train["label"])
args.output_dir.mkdir(parents=True, exist_ok=True)
pd.DataFrame({"id": test["id"], "probability": model.predict_proba(test[features])[:, 1]}).to_csv(
    args.output_dir / "predictions.csv", index=False)
