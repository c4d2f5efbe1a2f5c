"""Train the configured backbones on the iMet data and write submission.csv.

    python3 run.py --data-dir DATA_DIR --output-dir OUTPUT_DIR [--config configs/default.yaml] [--work-dir DIR]

DATA_DIR holds train.csv, labels.csv, sample_submission.csv, train/ and test/ (the phase's public data).
Uses the GPU when there is one. Checkpoints go to --work-dir (a temporary folder unless given).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from imet_kit.config import load_config
from imet_kit.data import KaggleData
from imet_kit.engine import pick_device, train_model
from imet_kit.inference import write_submission

HERE = Path(__file__).resolve().parent


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", "data")))
    parser.add_argument("--output-dir", type=Path, default=Path(os.environ.get("OUTPUT_DIR", "output")))
    parser.add_argument("--config", type=Path, default=HERE / "configs" / "default.yaml")
    parser.add_argument("--work-dir", type=Path, help="where checkpoints go (default: a temporary folder)")
    args = parser.parse_args()

    config = load_config(args.config)
    seed_everything(config.seed)
    device = pick_device(config.device)
    print(f"config {config.name} ({args.config}); device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""), flush=True)
    started = time.time()
    data = KaggleData(args.data_dir, config.val_fraction, config.seed, config.max_train_images)
    print(f"{len(data.train)} training images, {len(data.val)} for validation, {len(data.test_ids)} to predict, "
          f"{data.n_classes} attributes", flush=True)
    with tempfile.TemporaryDirectory(prefix="imet-kit-") as scratch:
        work_dir = args.work_dir or Path(scratch)
        work_dir.mkdir(parents=True, exist_ok=True)
        checkpoints = [train_model(spec, config, data, device, work_dir) for spec in config.models]
        summary = write_submission(checkpoints, config, data, device, args.output_dir)
    summary.update(config=config.name, device=str(device), seconds=round(time.time() - started, 1))
    (args.output_dir / "run_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"done in {summary['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
