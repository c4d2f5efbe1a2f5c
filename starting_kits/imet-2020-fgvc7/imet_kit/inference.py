"""Ensemble the trained backbones with flip TTA, search one threshold on validation, write submission.csv."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .config import Config
from .engine import load_trained, predict
from .metrics import best_threshold, binarise, micro_f1


def ensemble(checkpoints: list[Path], split: str, config: Config, data, device: torch.device) -> np.ndarray:
    loader = data.loader(split, config.image_size, config.batch_size, config.num_workers)
    use_amp = config.amp and device.type == "cuda"
    total = None
    for checkpoint in checkpoints:
        model = load_trained(checkpoint, device)
        probabilities = predict(model, loader, device, use_amp, flip=config.tta_flip)
        total = probabilities if total is None else total + probabilities
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return total / len(checkpoints)


def write_submission(checkpoints: list[Path], config: Config, data, device: torch.device, output_dir: Path,
                     threshold: float | None = None) -> dict:
    """Predict the test images; the threshold is searched on validation unless given (shipped weights bring theirs)."""
    val_probabilities = ensemble(checkpoints, "val", config, data, device)
    val_targets = data.targets(data.val)
    if threshold is None:
        threshold, val_f1 = best_threshold(val_targets, val_probabilities, min_labels=config.min_labels_per_image)
    else:
        val_f1 = micro_f1(val_targets, binarise(val_probabilities, threshold, config.min_labels_per_image))
    print(f"ensemble of {len(checkpoints)}: val micro-F1 {val_f1:.4f} at threshold {threshold:.2f}", flush=True)
    predicted = binarise(ensemble(checkpoints, "test", config, data, device), threshold, config.min_labels_per_image)
    rows = [" ".join(map(str, np.flatnonzero(row))) for row in predicted]
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "submission.csv"
    pd.DataFrame({"id": data.test_ids, "attribute_ids": rows}).to_csv(path, index=False)
    print(f"wrote {path}: {len(rows)} images, {predicted.sum() / max(1, len(rows)):.2f} attributes per image", flush=True)
    return {"threshold": threshold, "val_micro_f1": val_f1}
