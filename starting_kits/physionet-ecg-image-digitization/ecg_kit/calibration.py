"""Where the page is and at what scale: rotation, pixels per mm, the rows' baselines, the traces' start.

px/mm comes from the grid's periodicity (the autocorrelation of the grid's profile, at the 1 mm or 5 mm period),
cross-checked with the 1 mV calibration pulse (10 mm high); without a usable grid, from the page width.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import MM_PER_MV, PAGE_MM


@dataclass
class PageGeometry:
    angle: float  # degrees the image was turned by (undone before decoding)
    px_per_mm: float
    baselines: list[float]  # y of the 4 rows' baselines (in the deskewed image)
    x_start: float  # x where the traces start (after the calibration pulse)
    source: str  # what px/mm came from: grid | pulse | page


def to_grey(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def ink(image: np.ndarray) -> np.ndarray:
    """How much a pixel looks like printed trace: dark and unsaturated (grid lines are light or coloured)."""
    rgb = image.astype(np.float32)
    darkness = 255 - rgb.max(axis=2)
    saturation = rgb.max(axis=2) - rgb.min(axis=2)
    background = np.percentile(darkness, 50)
    return np.clip((darkness - background - 0.6 * saturation) / 150, 0, 1)


def estimate_rotation(weights: np.ndarray, degrees: float) -> float:
    """The angle whose rotation makes horizontal structure (traces, grid) sharpest: max variance of row sums."""
    small = Image.fromarray((weights * 255).astype(np.uint8))
    scale = 600 / max(small.size)
    small = small.resize((max(1, int(small.width * scale)), max(1, int(small.height * scale))), Image.Resampling.BILINEAR)
    best, best_score = 0.0, -1.0
    for angle in np.arange(-degrees, degrees + 1e-9, 0.25):
        rows = np.asarray(small.rotate(angle, resample=Image.Resampling.BILINEAR), dtype=np.float32).sum(axis=1)
        score = float(np.var(rows))
        if score > best_score:
            best, best_score = float(angle), score
    return best


def grid_period(image: np.ndarray, axis: int = 0) -> float | None:
    """The grid's period in pixels (1 mm or 5 mm) along the image's width (axis 0: the profile of columns).

    A coarse period from the first strong autocorrelation peak, refined on a peak many periods away (an error of a
    pixel there is an error of a fraction of a percent in the period, which over 10 s is what places a segment)."""
    rgb = image.astype(np.float32)
    gridness = (rgb.max(axis=2) - rgb.min(axis=2)) + np.clip(230 - rgb.mean(axis=2), 0, 80) * 0.3
    profile = gridness.mean(axis=axis)
    profile = profile - np.convolve(profile, np.ones(25) / 25, mode="same")
    profile = profile[25:-25]
    if len(profile) < 100 or profile.std() < 1e-3:
        return None
    spectrum = np.abs(np.fft.rfft(profile * np.hanning(len(profile)), 2 * len(profile))) ** 2
    auto = np.fft.irfft(spectrum)[: len(profile) // 2]
    auto /= auto[0]
    peaks = [k for k in range(3, len(auto) - 1) if auto[k] > auto[k - 1] and auto[k] >= auto[k + 1] and auto[k] > 0.2]
    if not peaks:
        return None
    period = refine_peak(auto, peaks[0])
    multiple = 1
    while (2 * multiple + 1) * period < len(auto) - 3:  # double the distance while the peak stays clear
        multiple *= 2
        k = int(round(multiple * period))
        window = range(max(1, k - 2), min(len(auto) - 1, k + 3))
        best = max(window, key=lambda i: auto[i])
        if not (auto[best] > 0.1 and auto[best] >= auto[best - 1] and auto[best] >= auto[best + 1]):
            break
        period = refine_peak(auto, best) / multiple
    return period


def refine_peak(values: np.ndarray, k: int) -> float:
    denominator = values[k - 1] - 2 * values[k] + values[k + 1]
    return k + (0.5 * (values[k - 1] - values[k + 1]) / denominator if denominator != 0 else 0.0)


def find_rows(weights: np.ndarray, px_per_mm: float) -> list[float]:
    """The four baselines: the strongest rows of trace ink, about 36 mm apart (median ink row in each band)."""
    profile = weights.sum(axis=1)
    width = max(3, int(px_per_mm * 3))
    smooth = np.convolve(profile, np.ones(width) / width, mode="same")
    picked = []
    for index in np.argsort(-smooth):
        if all(abs(index - p) > 25 * px_per_mm for p in picked):
            picked.append(int(index))
        if len(picked) == 4:
            break
    picked.sort()
    baselines = []
    for centre in picked:  # refine: the median y of ink within ±6 mm (the isoelectric line dominates)
        low, high = max(0, int(centre - 6 * px_per_mm)), min(len(profile), int(centre + 6 * px_per_mm))
        band = profile[low:high]
        cumulative = np.cumsum(band)
        baselines.append(low + float(np.searchsorted(cumulative, cumulative[-1] / 2)) if cumulative[-1] > 0 else centre)
    while len(baselines) < 4:
        baselines.append(baselines[-1] + 36 * px_per_mm if baselines else weights.shape[0] / 2)
    return baselines


def find_trace_start(weights: np.ndarray, baselines: list[float], px_per_mm: float) -> float:
    """x where the traces start: 8 mm after the left edge of the calibration pulses (the leftmost ink of the rows)."""
    columns = np.zeros(weights.shape[1])
    for baseline in baselines:
        low, high = max(0, int(baseline - 12 * px_per_mm)), min(weights.shape[0], int(baseline + 2 * px_per_mm))
        columns += weights[low:high].sum(axis=0)
    threshold = 0.15 * np.percentile(columns[columns > 0], 90) if (columns > 0).any() else 0
    left = int(np.argmax(columns > threshold))
    return left + 8.0 * px_per_mm


def pulse_height(weights: np.ndarray, baseline: float, x_start: float, px_per_mm: float) -> float | None:
    """The calibration pulse's height in pixels (1 mV = 10 mm): the ink just before the traces start."""
    x0, x1 = int(x_start - 6 * px_per_mm), int(x_start - 2 * px_per_mm)
    low, high = max(0, int(baseline - 14 * px_per_mm)), int(baseline - 3 * px_per_mm)
    if x0 < 0 or low >= high:
        return None
    region = weights[low:high, x0:x1].mean(axis=1)
    if region.max() < 0.2:
        return None
    top = low + int(np.argmax(region > 0.5 * region.max()))
    return baseline - top


def estimate_geometry(image: np.ndarray, deskew_degrees: float, trace_map: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, PageGeometry]:
    """Deskew the image (and the trace map) and find the page's scale and layout."""
    weights = ink(image) if trace_map is None else trace_map
    angle = estimate_rotation(weights, deskew_degrees) if deskew_degrees > 0 else 0.0
    if angle:
        image = np.asarray(Image.fromarray(image).rotate(angle, resample=Image.Resampling.BILINEAR,
                                                        fillcolor=(255, 255, 255)))
        weights = np.asarray(Image.fromarray((weights * 255).astype(np.uint8)).rotate(
            angle, resample=Image.Resampling.BILINEAR), dtype=np.float32) / 255
    page_scale = image.shape[1] / PAGE_MM[0]
    period = grid_period(image)
    px_per_mm, source = page_scale, "page"
    if period is not None:
        for mm in (1.0, 5.0):  # which grid period is it? the one near the page's own scale
            candidate = period / mm
            if 0.7 * page_scale < candidate < 1.4 * page_scale:
                px_per_mm, source = candidate, "grid"
                break
    baselines = find_rows(weights, px_per_mm)
    x_start = find_trace_start(weights, baselines, px_per_mm)
    # Cross-check with the calibration pulses (1 mV = 10 mm): when their heights agree with each other but not with
    # the grid (a grid too faint, or its period mistaken), or when there was no grid at all, the pulses win.
    heights = [h for h in (pulse_height(weights, b, x_start, px_per_mm) for b in baselines) if h]
    if len(heights) >= 2:
        pulse_scale = float(np.median(heights)) / MM_PER_MV
        consistent = (max(heights) - min(heights)) < 0.06 * np.median(heights)
        if source == "page" or (consistent and abs(pulse_scale / px_per_mm - 1) > 0.1):
            px_per_mm, source = pulse_scale, "pulse"
            baselines = find_rows(weights, px_per_mm)
            x_start = find_trace_start(weights, baselines, px_per_mm)
    return image, weights, PageGeometry(angle, px_per_mm, baselines, x_start, source)
