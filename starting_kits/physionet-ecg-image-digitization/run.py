"""Digitize the test images and write submission.parquet.

    python3 run.py --data-dir DATA_DIR --output-dir OUTPUT_DIR [--config configs/default.yaml] [--weights FILE]

With method `learned` the trace network's weights come from --weights, else from weights/<config name>.pt beside
this file (train.py writes it), else, when DATA_DIR has the training set, it is trained first within the config's
time budget. With method `classical` no network is used. Uses the GPU when there is one.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from ecg_kit.config import load_config
from ecg_kit.network import load, save
from ecg_kit.pipeline import digitize_folder, pick_device
from ecg_kit.training import train_network

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", "data")))
    parser.add_argument("--output-dir", type=Path, default=Path(os.environ.get("OUTPUT_DIR", "output")))
    parser.add_argument("--config", type=Path, default=HERE / "configs" / "default.yaml")
    parser.add_argument("--weights", type=Path, help="trace network weights (default: weights/<config name>.pt)")
    args = parser.parse_args()

    config = load_config(args.config)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    device = pick_device(config.device)
    print(f"config {config.name} ({config.method}); device {device}", flush=True)
    started = time.time()
    model = None
    if config.method == "learned":
        weights = args.weights or HERE / "weights" / f"{config.name}.pt"
        if weights.is_file():
            model = load(weights, device)
            print(f"trace network from {weights}", flush=True)
        elif (args.data_dir / "train").is_dir():
            model = train_network(config, args.data_dir, device)
            save(model, weights, {"config": config.name})
            print(f"saved the trained network to {weights}", flush=True)
        else:
            print(f"no weights at {weights} and no training data in {args.data_dir}: using the classical "
                  f"trace map", flush=True)
    digitize_folder(args.data_dir, args.output_dir, config, model, device)
    summary = {"config": config.name, "method": config.method if model is not None or config.method == "classical"
               else "classical (fallback)", "device": str(device), "seconds": round(time.time() - started, 1)}
    (args.output_dir / "run_summary.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
