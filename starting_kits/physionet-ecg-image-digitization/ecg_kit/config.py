"""Settings from a YAML file; unknown keys are errors that name the file."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from .calibration import MAX_TILT_DEGREES


@dataclass
class Config:
    name: str
    method: str = "learned"  # learned (a trace-segmentation network) | classical (no network)
    encoder: str = "resnet18"  # any timm model with features_only
    pretrained: str | None = None  # local encoder weights; never downloaded
    crop: int = 256  # training crops (pixels)
    batch_size: int = 8
    lr: float = 2e-3
    train_seconds: float = 120.0  # training stops at this budget (or after max_steps)
    max_steps: int = 2000
    positive_weight: float = 8.0  # BCE weight of trace pixels (they are few)
    max_train_images: int | None = None
    num_workers: int = 2
    seed: int = 0
    device: str = "auto"
    deskew_degrees: float = MAX_TILT_DEGREES  # search range of the rotation estimate
    rectify: bool = True  # undo a photo's perspective (the page's corners → a flat page)
    amplitude_clip_mv: float = 5.0
    refine: bool = True  # fit the steep stretches (QRS) to the ink by rendering (refine.py)


def load_config(path: Path) -> Config:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a mapping of settings")
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    config = Config(**data)
    if config.method not in ("learned", "classical"):
        raise ValueError(f"{path}: method must be learned or classical, not {config.method!r}")
    return config
