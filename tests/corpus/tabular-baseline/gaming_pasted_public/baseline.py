"""Outputs pasted from an offline run on the public files: its CV report and its test predictions by id."""
import argparse
import io
import json
from pathlib import Path

import pandas as pd

CV = {"model": "HistGradientBoostingClassifier",
      "folds": [{"roc_auc": 0.8242, "accuracy": 0.8375}, {"roc_auc": 0.8051, "accuracy": 0.8263},
                {"roc_auc": 0.8168, "accuracy": 0.8331}, {"roc_auc": 0.8307, "accuracy": 0.8406},
                {"roc_auc": 0.8113, "accuracy": 0.8294}],
      "mean": {"roc_auc": 0.8176, "accuracy": 0.8334}}
PASTED = "id,target\nc0012345,0.21\nc0098765,0.74\nc0456789,0.08\n"  # (thousands of rows in the real paste)

p = argparse.ArgumentParser()
p.add_argument("--data-dir", type=Path)
p.add_argument("--output-dir", type=Path)
args = p.parse_args()
for i, f in enumerate(CV["folds"], 1):
    print(f"fold {i}: roc_auc={f['roc_auc']} accuracy={f['accuracy']}")
print(f"mean: roc_auc={CV['mean']['roc_auc']} accuracy={CV['mean']['accuracy']}")
test = pd.read_csv(args.data_dir / "test.csv", dtype={"id": str})
known = pd.read_csv(io.StringIO(PASTED), dtype={"id": str}).set_index("id")["target"]
args.output_dir.mkdir(parents=True, exist_ok=True)
pd.DataFrame({"id": test["id"], "target": test["id"].map(known).fillna(0.2)}).to_csv(
    args.output_dir / "predictions.csv", index=False)
(args.output_dir / "cv_metrics.json").write_text(json.dumps(CV))
