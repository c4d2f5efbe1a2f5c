"""The kit's settings, read from a YAML file; unknown or missing keys are errors that name the file."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml


@dataclass
class ModelConfig:
    name: str  # any timm architecture, e.g. resnet101d, convnext_base, resnet18
    pretrained: str | None = None  # a local weights file (.pth / .safetensors); never downloaded
    epochs: int | None = None  # overrides the run's epochs for this model


@dataclass
class LossConfig:
    gamma_neg: float = 4.0
    gamma_pos: float = 0.0
    clip: float = 0.05


@dataclass
class Config:
    name: str
    models: list[ModelConfig]
    image_size: int = 352
    batch_size: int = 48
    epochs: int = 5
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_fraction: float = 0.1  # OneCycle's pct_start
    val_fraction: float = 0.1
    num_workers: int = 2
    seed: int = 42
    amp: bool = True  # mixed precision, on CUDA only
    tta_flip: bool = True
    min_labels_per_image: int = 1  # always predict at least the most likely attribute
    max_train_images: int | None = None  # for quick runs
    device: str = "auto"  # auto | cpu | cuda
    loss: LossConfig = field(default_factory=LossConfig)


def load_config(path: Path) -> Config:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a mapping of settings")
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    try:
        data["models"] = [ModelConfig(**m) for m in data.get("models") or []]
        data["loss"] = LossConfig(**(data.get("loss") or {}))
        config = Config(**data)
    except TypeError as error:
        raise ValueError(f"{path}: {error}") from None
    if not config.models:
        raise ValueError(f"{path}: models: name at least one timm architecture")
    return config
