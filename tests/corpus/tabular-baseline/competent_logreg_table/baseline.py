"""Logistic regression baseline: one-hot + scaling, manual stratified 5-fold loop, prints a results table."""
import argparse
import os

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR"))
parser.add_argument("--output-dir", default=os.environ.get("OUTPUT_DIR"))
args = parser.parse_args()

train = pd.read_csv(os.path.join(args.data_dir, "train.csv"))
test = pd.read_csv(os.path.join(args.data_dir, "test.csv"))
features = [c for c in train.columns if c not in ("id", "target")]
cats = [c for c in features if not pd.api.types.is_numeric_dtype(train[c])]
nums = [c for c in features if c not in cats]


def pipeline():
    prep = ColumnTransformer([
        ("num", Pipeline([("imp", SimpleImputer(strategy="median")), ("sc", StandardScaler())]), nums),
        ("cat", OneHotEncoder(handle_unknown="ignore"), cats)])
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))])


X, y = train[features], train["target"].values
rows = []
for k, (a, b) in enumerate(StratifiedKFold(n_splits=5, shuffle=True, random_state=42).split(X, y)):
    proba = pipeline().fit(X.iloc[a], y[a]).predict_proba(X.iloc[b])[:, 1]
    rows.append({"fold": k + 1, "roc_auc": roc_auc_score(y[b], proba), "accuracy": accuracy_score(y[b], proba > 0.5)})
table = pd.DataFrame(rows)
print(table.to_string(index=False))
print("mean roc_auc %.4f, mean accuracy %.4f" % (table.roc_auc.mean(), table.accuracy.mean()))

final = pipeline().fit(X, y)
os.makedirs(args.output_dir, exist_ok=True)
pd.DataFrame({"id": test["id"], "target": final.predict_proba(test[features])[:, 1]}).to_csv(
    os.path.join(args.output_dir, "predictions.csv"), index=False)
