"""Digitizing a folder of test images: the trace map (network or classical), the page geometry, decoding."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from .calibration import estimate_geometry, ink
from .config import Config
from .decode import decode_page
from .network import TraceNet, predict_map
from .rectify import rectify
from .submission import write_submission


TRACE_PROBABILITY = 0.5  # the network's pixels of trace, whose ink sets the ink's scale
MAX_INK_GAIN = 5.0


def trace_maps(image: np.ndarray, model: TraceNet | None, device) -> np.ndarray:
    """Where the trace is: one map for the whole page (H × W, the classical ink), or one per printed row (4 × H × W).

    The network knows trace from grid, text, stains and mould, and which row a trace belongs to; the ink knows
    exactly where a dark line is. Their geometric mean keeps both: on the synthetic small scale it scored higher
    than either alone. A faint trace (a photo of a monitor, a grey line under noise) has little ink where the
    network sees it clearly: the ink is first scaled so that the median of the network's trace pixels is full."""
    darkness = ink(image)
    if model is None:
        return darkness
    probabilities = predict_map(model, image, device)
    trace = probabilities.max(axis=0) > TRACE_PROBABILITY
    if trace.sum() > 100:
        level = float(np.median(darkness[trace]))
        darkness = np.clip(darkness * min(MAX_INK_GAIN, 1 / max(level, 1e-3)), 0, 1)
    return np.sqrt(darkness[None] * probabilities)


def rotate_map(weights: np.ndarray, angle: float) -> np.ndarray:
    if not angle:
        return weights
    picture = Image.fromarray((np.clip(weights, 0, 1) * 255).astype(np.uint8))
    return np.asarray(picture.rotate(angle, resample=Image.Resampling.BILINEAR), dtype=np.float32) / 255


def digitize_image(image: np.ndarray, fs: int, config: Config, model: TraceNet | None, device) -> dict[str, np.ndarray]:
    maps = trace_maps(image, model, device)
    rows = list(maps) if maps.ndim == 3 else []
    page = maps.max(axis=0) if maps.ndim == 3 else maps  # the whole page's trace, for rotation and layout
    if config.rectify:
        image, page, *rows = rectify(image, page, *rows)
    # The geometry is read from the ink: the pulses, which the network is not trained to see, place the traces' start.
    deskewed, page, geometry = estimate_geometry(image, config.deskew_degrees,
                                                 np.maximum(page, ink(image)) if rows else page)
    weights = np.stack([rotate_map(row, geometry.angle) for row in rows]) if rows else page
    # The steep stretches are fitted to the ink itself: the network's probabilities are not the line's coverage.
    return decode_page(weights, geometry, fs, config.amplitude_clip_mv, config.refine,
                       ink(deskewed) if rows and config.refine else None)


def digitize_folder(data_dir: Path, output_dir: Path, config: Config, model: TraceNet | None, device) -> pd.DataFrame:
    test = pd.read_csv(data_dir / "test.csv")
    records = test.groupby("id", sort=False)["fs"].first()
    signals, started = {}, time.monotonic()
    for record, fs in tqdm(list(records.items()), desc="digitizing", unit="image", mininterval=2.0):
        path = data_dir / "test" / f"{record}.png"
        try:
            image = np.asarray(Image.open(path).convert("RGB"))
            signals[str(record)] = digitize_image(image, int(fs), config, model, device)
        except Exception as error:  # one bad image must not cost the whole submission: zeros for it
            print(f"record {record}: {type(error).__name__}: {error}; writing zeros", flush=True)
    frame = write_submission(test, signals, output_dir / "submission.parquet")
    print(f"wrote {output_dir / 'submission.parquet'}: {len(records)} records, {len(frame)} rows in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    return frame


def pick_device(preference: str) -> torch.device:
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)
