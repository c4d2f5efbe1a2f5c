"""Training the trace network on the training images and their trace masks, one target per printed row (random
crops, BCE with a high weight on the few trace pixels), within a time budget; a progress bar over steps."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F
from tqdm import tqdm

from .config import Config
from .masks import row_targets
from .network import TraceNet, to_tensor


def training_pairs(data_dir: Path, limit: int | None, seed: int) -> list[tuple[Path, Path]]:
    pairs = [(image, image.with_name(image.stem + "_mask.png")) for image in sorted((data_dir / "train").glob("*/*.png"))
             if not image.stem.endswith("_mask") and image.with_name(image.stem + "_mask.png").is_file()]
    if not pairs:
        raise FileNotFoundError(f"{data_dir / 'train'}: no training image with its _mask.png (the public data has them)")
    if limit:
        order = np.random.default_rng(seed).permutation(len(pairs))[:limit]
        pairs = [pairs[i] for i in sorted(order)]
    return pairs


def random_crop(image: np.ndarray, mask: np.ndarray, size: int, rng: np.random.Generator):
    """A crop (half of them around trace) and its top row, for the height channel."""
    h, w = mask.shape
    if h < size or w < size:
        pad = ((0, max(0, size - h)), (0, max(0, size - w)))
        image = np.pad(image, pad + ((0, 0),), mode="edge")
        mask = np.pad(mask, pad)
        h, w = mask.shape
    # Half the crops centred on trace: it is a small part of the page.
    trace = np.argwhere(mask > 0)
    if len(trace) and rng.random() < 0.7:
        cy, cx = trace[rng.integers(len(trace))]
        top = int(np.clip(cy - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, h - size))
        left = int(np.clip(cx - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, w - size))
    else:
        top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return image[top:top + size, left:left + size], mask[top:top + size, left:left + size], top


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    image = image.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-25, 25)
    if rng.random() < 0.3:
        image = image.mean(axis=2, keepdims=True).repeat(3, axis=2)
    return np.clip(image, 0, 255).astype(np.uint8)


def train_network(config: Config, data_dir: Path, device: torch.device, log=print) -> TraceNet:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    pairs = training_pairs(data_dir, config.max_train_images, config.seed)
    images = [(np.asarray(Image.open(a).convert("RGB")), np.asarray(Image.open(b))) for a, b in pairs]
    log(f"training {config.encoder} trace network on {len(images)} images, {config.crop}-px crops, "
        f"at most {config.max_steps} steps or {config.train_seconds:.0f} s")
    model = TraceNet(config.encoder).to(device)
    if config.pretrained:
        state = torch.load(config.pretrained, map_location="cpu", weights_only=True)
        missing = model.encoder.load_state_dict(state.get("state_dict", state), strict=False)
        log(f"encoder weights from {config.pretrained} ({len(missing.missing_keys)} tensors left as initialised)")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.max_steps,
                                                    pct_start=0.1)
    weight = torch.tensor([config.positive_weight], device=device)
    started, running = time.monotonic(), None
    model.train()
    bar = tqdm(range(config.max_steps), desc="training", unit="step", mininterval=2.0)
    for step in bar:
        batch_x, batch_y = [], []
        for _ in range(config.batch_size):
            image, mask = images[int(rng.integers(len(images)))]
            crop, target, top = random_crop(image, mask, config.crop, rng)
            batch_x.append(to_tensor(augment(crop, rng), top, max(image.shape[0], config.crop)))
            batch_y.append(torch.from_numpy(row_targets(target)))
        x, y = torch.stack(batch_x).to(device), torch.stack(batch_y).to(device)
        loss = F.binary_cross_entropy_with_logits(model(x), y, pos_weight=weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        bar.set_postfix(loss=f"{running:.4f}")
        if time.monotonic() - started > config.train_seconds:
            log(f"stopped at the time budget after {step + 1} steps")
            break
    log(f"trained in {time.monotonic() - started:.0f} s; loss {running:.4f}")
    return model.eval()
