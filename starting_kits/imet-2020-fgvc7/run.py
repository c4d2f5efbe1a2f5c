"""Predict the iMet test images with the config's shipped weights when they fit the data, or train and predict.

    python3 run.py --data-dir DATA_DIR --output-dir OUTPUT_DIR [--config configs/default.yaml] [--work-dir DIR]
                   [--train] [--weights FILE] [--save-weights FILE]

DATA_DIR holds train.csv, labels.csv, sample_submission.csv, train/ and test/ (the phase's public data).
Uses the GPU when there is one. Checkpoints go to --work-dir (a temporary folder unless given).

weights/<config name>.safetensors (and its .json) are used instead of training when they were trained with the same
settings (image size included) on the same labels.csv and train.csv: inference only, seconds. Otherwise, or with
--train, the configured backbones are trained. --save-weights FILE trains and writes FILE and FILE's .json (the
threshold searched on validation with the weights as stored included): how weights/default.safetensors was made.
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
from imet_kit.weights import load_weights, mismatch, record_threshold, save_weights

HERE = Path(__file__).resolve().parent


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(HERE))
    except ValueError:
        return path.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", "data")))
    parser.add_argument("--output-dir", type=Path, default=Path(os.environ.get("OUTPUT_DIR", "output")))
    parser.add_argument("--config", type=Path, default=HERE / "configs" / "default.yaml")
    parser.add_argument("--work-dir", type=Path, help="where checkpoints go (default: a temporary folder)")
    parser.add_argument("--train", action="store_true", help="train even when shipped weights fit the data")
    parser.add_argument("--weights", type=Path, help="shipped weights to use when they fit the data "
                        "(default: weights/<config name>.safetensors in the kit)")
    parser.add_argument("--save-weights", type=Path, metavar="FILE",
                        help="train, then write the weights (compact safetensors) to FILE and what they fit to FILE's .json")
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
        weights = args.weights or HERE / "weights" / f"{config.name}.safetensors"
        reason = "--train" if args.train or args.save_weights else mismatch(weights, config, data)
        if reason is None:
            checkpoints, meta = load_weights(weights, work_dir)
            print(f"inference only: loaded the shipped weights {weights.name} (trained with this config on this "
                  f"train.csv and labels.csv; threshold {meta['threshold']:.2f}); no training", flush=True)
            summary = write_submission(checkpoints, config, data, device, args.output_dir, meta["threshold"])
            summary.update(mode="inference-only", weights=weights.name)
        else:
            print(f"training: {reason}", flush=True)
            checkpoints = [train_model(spec, config, data, device, work_dir) for spec in config.models]
            if args.save_weights:  # predict with the weights as saved: the threshold recorded is theirs
                save_weights(checkpoints, config, data, args.save_weights, config_file=_relative(args.config))
                checkpoints, _ = load_weights(args.save_weights, work_dir)
            summary = write_submission(checkpoints, config, data, device, args.output_dir)
            if args.save_weights:
                record_threshold(args.save_weights, summary["threshold"], summary["val_micro_f1"])
                print(f"saved {args.save_weights} ({args.save_weights.stat().st_size / 1e6:.1f} MB) and "
                      f"{args.save_weights.with_suffix('.json')}", flush=True)
            summary.update(mode="trained")
    summary.update(config=config.name, device=str(device), seconds=round(time.time() - started, 1))
    (args.output_dir / "run_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"done in {summary['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
