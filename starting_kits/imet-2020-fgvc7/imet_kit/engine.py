"""Training one backbone: AdamW + OneCycle, AMP on CUDA, a progress bar per epoch, the best checkpoint kept."""
from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from .config import Config, ModelConfig
from .losses import AsymmetricLoss
from .metrics import best_threshold, binarise, micro_f1
from .models import create_model


def pick_device(preference: str) -> torch.device:
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda, but no GPU is visible")
    return torch.device(preference)


def autocast(device: torch.device, enabled: bool):
    return torch.autocast(device_type="cuda", dtype=torch.float16) if enabled and device.type == "cuda" else nullcontext()


@torch.no_grad()
def predict(model: torch.nn.Module, loader: DataLoader, device: torch.device, amp: bool, flip: bool) -> np.ndarray:
    """Sigmoid probabilities, averaged with the horizontally flipped image when `flip` (test-time augmentation)."""
    model.eval()
    outputs = []
    for images, _ in loader:
        images = images.to(device, non_blocking=True)
        with autocast(device, amp):
            probabilities = torch.sigmoid(model(images).float())
            if flip:
                probabilities = (probabilities + torch.sigmoid(model(torch.flip(images, dims=[3])).float())) / 2
        outputs.append(probabilities.cpu().numpy())
    return np.concatenate(outputs)


def train_model(spec: ModelConfig, config: Config, data, device: torch.device, work_dir: Path) -> Path:
    """Train one backbone; return the path of its best checkpoint (by validation micro-F1 at the best threshold)."""
    torch.manual_seed(config.seed)
    model = create_model(spec.name, data.n_classes, spec.pretrained).to(device)
    train_loader = data.loader("train", config.image_size, config.batch_size, config.num_workers)
    val_loader = data.loader("val", config.image_size, config.batch_size, config.num_workers)
    val_targets = data.targets(data.val)
    epochs = spec.epochs or config.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=epochs,
                                                    steps_per_epoch=max(1, len(train_loader)),
                                                    pct_start=config.warmup_fraction)
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    criterion = AsymmetricLoss(config.loss.gamma_neg, config.loss.gamma_pos, config.loss.clip)
    checkpoint, best = work_dir / f"{spec.name}_best.pth", -1.0
    for epoch in range(1, epochs + 1):
        model.train()
        started, total = time.time(), 0.0
        bar = tqdm(train_loader, desc=f"{spec.name} epoch {epoch}/{epochs}", unit="batch", mininterval=2.0)
        for step, (images, targets) in enumerate(bar, start=1):
            images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, use_amp):
                loss = criterion(model(images), targets)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total += loss.item()
            bar.set_postfix(loss=f"{total / step:.4f}")
        probabilities = predict(model, val_loader, device, use_amp, flip=False)
        threshold, f1 = best_threshold(val_targets, probabilities, min_labels=config.min_labels_per_image)
        at_half = micro_f1(val_targets, binarise(probabilities, 0.5, config.min_labels_per_image))
        print(f"{spec.name} epoch {epoch}/{epochs}: train loss {total / max(1, len(train_loader)):.4f}, "
              f"val micro-F1 {at_half:.4f} at 0.5, {f1:.4f} at {threshold:.2f} ({time.time() - started:.0f} s)",
              flush=True)
        if f1 > best:
            best = f1
            torch.save({"model": model.state_dict(), "name": spec.name, "epoch": epoch, "val_f1": f1,
                        "n_classes": data.n_classes}, checkpoint)
    print(f"{spec.name}: best val micro-F1 {best:.4f}, checkpoint {checkpoint}", flush=True)
    return checkpoint


def load_trained(checkpoint: Path, device: torch.device) -> torch.nn.Module:
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = create_model(saved["name"], saved["n_classes"])
    model.load_state_dict(saved["model"])
    return model.to(device)
