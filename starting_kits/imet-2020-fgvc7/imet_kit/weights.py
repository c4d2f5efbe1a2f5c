"""Shipped weights: a config's trained backbones in one compact safetensors file (int8 kernels), and a JSON next
to it saying what they were trained for (the config, the label set, the training labels) and the threshold found
on validation.

run.py uses them instead of training when they match the task: the same settings (image size included), the same
labels.csv and the same train.csv. Anything else (the real Kaggle data, an edited config) is trained as usual.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import timm
import torch

from .config import Config
from .models import create_model

# Settings that do not change what is trained (how fast the images load, which device): ignored in the match.
RUNTIME_ONLY = ("num_workers", "device")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def trained_settings(config: Config) -> dict:
    settings = asdict(config)
    for key in RUNTIME_ONLY:
        settings.pop(key)
    return settings


def metadata_path(weights: Path) -> Path:
    return weights.with_suffix(".json")


SCALE = ".__scale__"  # the per-channel scale of an int8 tensor, stored beside it


def compact(key: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
    """A tensor as stored: kernels int8 with an fp32 scale per output channel (half the size of fp16, a few MB
    for the whole network), the small rest fp16, integers as they are."""
    if not value.is_floating_point():
        return {key: value.contiguous()}
    if value.dim() < 2:
        return {key: value.half().contiguous()}
    scale = value.abs().amax(dim=tuple(range(1, value.dim())), keepdim=True).clamp(min=1e-12) / 127
    return {key: torch.round(value / scale).to(torch.int8).contiguous(), key + SCALE: scale.float().contiguous()}


def expand(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The float state dict of one model (keys without `prefix`) from what `compact` stored."""
    state = {}
    for key, value in tensors.items():
        if not key.startswith(prefix) or key.endswith(SCALE):
            continue
        if key + SCALE in tensors:
            value = value.float() * tensors[key + SCALE]
        state[key[len(prefix):]] = value.float() if value.is_floating_point() else value
    return state


def save_weights(checkpoints: list[Path], config: Config, data, path: Path, config_file: str) -> None:
    """Write the trained checkpoints as one compact safetensors file (keys `<model index>.<parameter>`, see
    `compact`), and a first version of its JSON (the threshold is added by `record_threshold` once it is searched)."""
    from safetensors.torch import save_file

    tensors, models = {}, []
    for index, checkpoint in enumerate(checkpoints):
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        for key, value in saved["model"].items():
            tensors.update(compact(f"{index}.{key}", value))
        models.append({"name": saved["name"], "best_epoch": saved["epoch"], "val_micro_f1": round(saved["val_f1"], 4)})
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"format": "pt"})
    meta = {
        "what": "trained weights of the iMet kit for one config and one training set; see the kit's README",
        "config_file": config_file,
        "config": trained_settings(config),
        "image_size": config.image_size,
        "n_classes": data.n_classes,
        "label_set_sha256": data.label_set_sha256,
        "train_labels_sha256": data.train_labels_sha256,
        "n_train_images": len(data.train) + len(data.val),
        "models": models,
        "dtype": "int8 kernels with a float32 scale per output channel, float16 otherwise",
        "weights_file": path.name,
        "weights_sha256": file_sha256(path),
        "versions": {"torch": torch.__version__.split("+")[0], "timm": timm.__version__},
    }
    metadata_path(path).write_text(json.dumps(meta, indent=2) + "\n")


def record_threshold(path: Path, threshold: float, val_f1: float) -> None:
    meta = json.loads(metadata_path(path).read_text())
    meta.update(threshold=round(threshold, 4), val_micro_f1=round(val_f1, 4))
    metadata_path(path).write_text(json.dumps(meta, indent=2) + "\n")


def mismatch(path: Path, config: Config, data) -> str | None:
    """Why the weights at `path` cannot stand in for training `config` on `data` (None when they can)."""
    meta_file = metadata_path(path)
    if not path.is_file() or not meta_file.is_file():
        return f"no shipped weights for config {config.name!r} ({path.name} and {meta_file.name} not found)"
    meta = json.loads(meta_file.read_text())
    if meta.get("weights_sha256") != file_sha256(path):
        return f"{path.name} does not match the sha256 recorded in {meta_file.name}"
    if "threshold" not in meta:
        return f"{meta_file.name} records no threshold (its weights were not finished)"
    if meta.get("image_size") != config.image_size:
        return f"the weights are for {meta.get('image_size')} px images, the config asks for {config.image_size} px"
    settings = trained_settings(config)
    changed = sorted(key for key in set(settings) | set(meta.get("config", {}))
                     if settings.get(key) != meta.get("config", {}).get(key))
    if changed:
        return f"the config differs from the one the weights were trained with in: {', '.join(changed)}"
    if meta.get("n_classes") != data.n_classes or meta.get("label_set_sha256") != data.label_set_sha256:
        return (f"the weights are for another label set ({meta.get('n_classes')} attributes) than labels.csv "
                f"({data.n_classes} attributes)")
    if meta.get("train_labels_sha256") != data.train_labels_sha256:
        return "the weights were trained on another train.csv"
    return None


def load_weights(path: Path, work_dir: Path) -> tuple[list[Path], dict]:
    """The shipped models as checkpoints in `work_dir` (the format `train_model` writes), and the JSON."""
    from safetensors.torch import load_file

    meta = json.loads(metadata_path(path).read_text())
    tensors = load_file(str(path))
    checkpoints = []
    for index, spec in enumerate(meta["models"]):
        state = expand(tensors, f"{index}.")
        model = create_model(spec["name"], meta["n_classes"])
        model.load_state_dict(state)  # strict: every tensor present, every shape right
        checkpoint = work_dir / f"{spec['name']}_shipped_{index}.pth"
        torch.save({"model": model.state_dict(), "name": spec["name"], "epoch": spec["best_epoch"],
                    "val_f1": spec["val_micro_f1"], "n_classes": meta["n_classes"]}, checkpoint)
        checkpoints.append(checkpoint)
    return checkpoints, meta
