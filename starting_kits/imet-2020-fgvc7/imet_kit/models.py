"""timm backbones with a fresh multi-label head; pretrained weights only from a local file."""
from __future__ import annotations

from pathlib import Path

import timm
import torch


def create_model(name: str, n_classes: int, pretrained: str | None = None) -> torch.nn.Module:
    model = timm.create_model(name, pretrained=False, num_classes=n_classes)  # never a download
    if pretrained:
        load_backbone(model, Path(pretrained))
    return model


def load_backbone(model: torch.nn.Module, path: Path) -> None:
    """Load ImageNet (or any) weights from `path`, keeping our classifier head (its shape differs)."""
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights {path} not found (the kit never downloads weights)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state.get("model", state))
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in usable]
    model.load_state_dict(usable, strict=False)
    print(f"loaded {len(usable)} tensors from {path}; left {len(missing)} to initialise (the head)")
