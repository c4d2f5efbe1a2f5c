"""A solid baseline for the churn table: gradient-boosted trees, 5-fold stratified cross-validation.

    python3 baseline.py --data-dir DATA_DIR --output-dir OUTPUT_DIR [--folds 5] [--seed 0] [--model hgb|logreg]

Reads DATA_DIR/train.csv and DATA_DIR/test.csv, prints ROC AUC and accuracy per fold and their mean,
refits on all training rows and writes OUTPUT_DIR/predictions.csv (id, target = P(class 1)) and
OUTPUT_DIR/cv_metrics.json (the model's name, the metrics of each fold and their mean).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TARGET = "target"


def load(data_dir: Path) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    train = pd.read_csv(data_dir / "train.csv", dtype={"id": str})
    test = pd.read_csv(data_dir / "test.csv", dtype={"id": str})
    features = [c for c in train.columns if c not in ("id", TARGET)]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(train[c])]
    for frame in (train, test):
        for column in categorical:
            frame[column] = pd.Categorical(frame[column], categories=sorted(train[column].dropna().unique()))
    return train[features], train[TARGET], test[features], test["id"]


def make_model(kind: str, X: pd.DataFrame, seed: int):
    if kind == "hgb":
        return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=400, max_leaf_nodes=15,
                                              l2_regularization=1.0, early_stopping=True, validation_fraction=0.1,
                                              n_iter_no_change=30, categorical_features="from_dtype",
                                              random_state=seed)
    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in X.columns if c not in categorical]
    encode = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numeric),
        (OneHotEncoder(handle_unknown="ignore"), categorical))
    return make_pipeline(encode, LogisticRegression(max_iter=2000, C=1.0))


def cross_validate(kind: str, X: pd.DataFrame, y: pd.Series, folds: int, seed: int) -> dict:
    aucs, accuracies = [], []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (fit_rows, valid_rows) in enumerate(splitter.split(X, y), start=1):
        model = make_model(kind, X, seed).fit(X.iloc[fit_rows], y.iloc[fit_rows])
        probabilities = model.predict_proba(X.iloc[valid_rows])[:, 1]
        aucs.append(roc_auc_score(y.iloc[valid_rows], probabilities))
        accuracies.append(accuracy_score(y.iloc[valid_rows], probabilities > 0.5))
        print(f"fold {fold}/{folds}: roc_auc={aucs[-1]:.4f} accuracy={accuracies[-1]:.4f}", flush=True)
    print(f"cross-validation ({folds} folds): roc_auc={np.mean(aucs):.4f} ± {np.std(aucs):.4f} "
          f"accuracy={np.mean(accuracies):.4f} ± {np.std(accuracies):.4f}")
    return {"model": {"hgb": "HistGradientBoostingClassifier", "logreg": "LogisticRegression"}[kind],
            "folds": [{"fold": i, "roc_auc": a, "accuracy": c} for i, (a, c) in enumerate(zip(aucs, accuracies), 1)],
            "mean": {"roc_auc": float(np.mean(aucs)), "accuracy": float(np.mean(accuracies))}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", "data")))
    parser.add_argument("--output-dir", type=Path, default=Path(os.environ.get("OUTPUT_DIR", "output")))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=["hgb", "logreg"], default="hgb")
    args = parser.parse_args()

    started = time.time()
    X, y, X_test, test_ids = load(args.data_dir)
    print(f"train: {len(X)} rows, {X.shape[1]} features, positive rate {y.mean():.3f}; test: {len(X_test)} rows")
    summary = cross_validate(args.model, X, y, args.folds, args.seed)
    model = make_model(args.model, X, args.seed).fit(X, y)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "cv_metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    predictions = pd.DataFrame({"id": test_ids, TARGET: model.predict_proba(X_test)[:, 1]})
    predictions.to_csv(args.output_dir / "predictions.csv", index=False)
    print(f"wrote {args.output_dir / 'predictions.csv'} in {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
