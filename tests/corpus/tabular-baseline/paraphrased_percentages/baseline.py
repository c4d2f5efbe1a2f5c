"""Gradient boosting (scikit-learn) with k-fold validation; metrics reported in percent."""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import KFold

ap = argparse.ArgumentParser()
ap.add_argument("--data-dir", type=Path)
ap.add_argument("--output-dir", type=Path)
ap.add_argument("--k", type=int, default=4)
a = ap.parse_args()

tr = pd.read_csv(a.data_dir / "train.csv")
te = pd.read_csv(a.data_dir / "test.csv")
cols = [c for c in tr.columns if c not in ("id", "target")]
for c in cols:
    if not pd.api.types.is_numeric_dtype(tr[c]):
        cats = sorted(tr[c].dropna().unique())
        tr[c] = pd.Categorical(tr[c], categories=cats)
        te[c] = pd.Categorical(te[c], categories=cats)


def model():
    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, categorical_features="from_dtype",
                                          random_state=1)


aucs, accs = [], []
for i, (fit, hold) in enumerate(KFold(a.k, shuffle=True, random_state=7).split(tr), 1):
    m = model().fit(tr.loc[fit, cols], tr.loc[fit, "target"])
    p = m.predict_proba(tr.loc[hold, cols])[:, 1]
    aucs.append(roc_auc_score(tr.loc[hold, "target"], p))
    accs.append(accuracy_score(tr.loc[hold, "target"], p > 0.5))
    print(f"Split #{i} -> area under the ROC curve {100 * aucs[-1]:.1f}% | acc {100 * accs[-1]:.1f}%")
print(f"Averaged over {a.k} splits: AUC-ROC {100 * np.mean(aucs):.1f}%, Acc. {100 * np.mean(accs):.1f}%")

a.output_dir.mkdir(parents=True, exist_ok=True)
final = model().fit(tr[cols], tr["target"])
pd.DataFrame({"id": te["id"], "target": final.predict_proba(te[cols])[:, 1]}).to_csv(
    a.output_dir / "predictions.csv", index=False)
