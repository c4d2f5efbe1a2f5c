"""The trivial baselines the kit must beat, measured on the same validation split as run.py.

    python3 baselines.py --data-dir DATA_DIR [--config configs/default.yaml] [--write-submission OUTPUT_DIR]

- nothing: predict no attribute for any image;
- most frequent: predict the k most frequent training attributes for every image (k chosen on validation).
With --write-submission, writes the most-frequent baseline as OUTPUT_DIR/submission.csv.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from imet_kit.config import load_config
from imet_kit.data import KaggleData
from imet_kit.metrics import micro_f1

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=HERE / "configs" / "default.yaml")
    parser.add_argument("--write-submission", type=Path)
    args = parser.parse_args()
    config = load_config(args.config)
    data = KaggleData(args.data_dir, config.val_fraction, config.seed, config.max_train_images)
    train, val = data.targets(data.train), data.targets(data.val)
    by_frequency = np.argsort(-train.sum(axis=0), kind="stable")
    nothing = micro_f1(val, np.zeros_like(val, dtype=bool))
    scores = []
    for k in range(1, 21):
        predicted = np.zeros_like(val, dtype=bool)
        predicted[:, by_frequency[:k]] = True
        scores.append((micro_f1(val, predicted), k))
    best, k = max(scores)
    print(f"validation micro-F1: nothing {nothing:.4f}; the {k} most frequent attributes {best:.4f}")
    if args.write_submission:
        args.write_submission.mkdir(parents=True, exist_ok=True)
        row = " ".join(map(str, sorted(by_frequency[:k])))
        pd.DataFrame({"id": data.test_ids, "attribute_ids": row}).to_csv(args.write_submission / "submission.csv",
                                                                        index=False)


if __name__ == "__main__":
    main()
