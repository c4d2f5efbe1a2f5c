"""The smallest valid submission: it shows the contract, and scores like a constant guess.

Replace the constant with a real model, cross-validate it, print its metrics and add a README.md.
"""
import argparse
from pathlib import Path

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir", type=Path, required=True)
parser.add_argument("--output-dir", type=Path, required=True)
args = parser.parse_args()

test = pd.read_csv(args.data_dir / "test.csv", dtype={"id": str})
args.output_dir.mkdir(parents=True, exist_ok=True)
pd.DataFrame({"id": test["id"], "target": 0.5}).to_csv(args.output_dir / "predictions.csv", index=False)
