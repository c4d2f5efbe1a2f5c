"""Quick baseline: logistic regression on the numeric columns, one hold-out split."""
import argparse
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

p = argparse.ArgumentParser()
p.add_argument("--data-dir", type=Path, required=True)
p.add_argument("--output-dir", type=Path, required=True)
args = p.parse_args()

train = pd.read_csv(args.data_dir / "train.csv")
test = pd.read_csv(args.data_dir / "test.csv")
cols = ["age", "tenure_months", "support_tickets", "sessions_last_30d"]
X, y = train[cols].fillna(0), train["target"]
X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.25, random_state=0)
clf = LogisticRegression(max_iter=500).fit(X_fit, y_fit)
proba = clf.predict_proba(X_val)[:, 1]
print("validation auc", round(roc_auc_score(y_val, proba), 3), "accuracy", round(accuracy_score(y_val, proba > 0.5), 3))
clf.fit(X, y)
args.output_dir.mkdir(parents=True, exist_ok=True)
pd.DataFrame({"id": test["id"], "target": clf.predict_proba(test[cols].fillna(0))[:, 1]}).to_csv(
    args.output_dir / "predictions.csv", index=False)
