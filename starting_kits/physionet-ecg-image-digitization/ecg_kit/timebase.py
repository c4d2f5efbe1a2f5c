"""When each printed column's data starts: the separator ticks between columns mark it exactly.

A tick (three trace widths, centred on the baseline) is printed where one lead ends and the next begins, every
2.5 s from the data's start. The pulses' falling edge only approximates that start: ECG-Image-Kit draws the pulse
from 0.2 s before the data to 3 samples after it (its falling stroke 1-2 samples into the data: 15 ms at 100 Hz),
this task's own pages end it with a flat lead-out. The nine ticks of rows I-III, summed at their expected places,
give the start to a fraction of a pixel; without them the falling edge stands.
"""
from __future__ import annotations

import numpy as np

from . import COLUMN_SECONDS, MM_PER_SECOND

SEARCH_MM = 2.0  # how far from the falling edge the ticks are looked for
BAND_MM = 1.2  # a tick covers at least this far above and below the baseline
PULSE_START_MM = 0.75  # a data start this close to the pulses' falling edge is ECG-Image-Kit's


def tick_xs(x_start: float, px_per_mm: float) -> list[float]:
    """x of the three ticks of a row: the boundaries between its four columns, 2.5 s apart from the data's start."""
    return [x_start + boundary * COLUMN_SECONDS * MM_PER_SECOND * px_per_mm for boundary in (1, 2, 3)]


def column_fill(weights: np.ndarray, baseline: float, x0: int, x1: int, px_per_mm: float) -> np.ndarray:
    """For columns x0..x1-1, the share of the rows within BAND_MM of the baseline that have strong ink."""
    low, high = max(0, int(baseline - BAND_MM * px_per_mm)), int(baseline + BAND_MM * px_per_mm) + 1
    x0, x1 = max(0, x0), min(weights.shape[1], x1)
    if high <= low or x1 <= x0:
        return np.zeros(0)
    return (weights[low:high, x0:x1] > 0.5).mean(axis=0)


def tick_profile(weights: np.ndarray, baselines: list[float], x_start: float,
                 px_per_mm: float) -> tuple[np.ndarray, float]:
    """The ticks' fill summed over rows I-III and the 3 column boundaries, at offsets −SEARCH_MM..+SEARCH_MM px
    from where a data start at `x_start` puts them, and how far the pixels' centres lie from the expected places
    (on average). A QRS crossing the baseline fills a column too, but at its own place in each row: only the ticks
    line up."""
    reach = int(np.ceil(SEARCH_MM * px_per_mm))
    total = np.zeros(2 * reach + 1)
    expected = tick_xs(x_start, px_per_mm)
    for baseline in baselines[:3]:
        for x in expected:
            centre = int(np.floor(x))
            fill = column_fill(weights, baseline, centre - reach, centre + reach + 1, px_per_mm)
            if len(fill) == len(total):
                total += fill
    # pixel column `centre` covers [centre, centre + 1): its middle is centre + 0.5
    phase = float(np.mean([np.floor(x) + 0.5 - x for x in expected]))
    return total, phase


def tick_offset(weights: np.ndarray, baselines: list[float], x_start: float,
                px_per_mm: float) -> tuple[float, float] | None:
    """(offset, half width) in px of the ticks from where `x_start` expects them, or None when most of the 9 ticks
    are not there (or what lines up is wider than a tick)."""
    if len(baselines) < 3:
        return None
    profile, phase = tick_profile(weights, baselines, x_start, px_per_mm)
    if profile.size == 0 or profile.max() < 5:
        return None
    peak = int(np.argmax(profile))
    strong = profile > 0.5 * profile[peak]
    left, right = peak, peak
    while left > 0 and strong[left - 1]:
        left -= 1
    while right < len(profile) - 1 and strong[right + 1]:
        right += 1
    if (right - left + 1) > 1.5 * px_per_mm:  # no tick is that wide
        return None
    xs = np.arange(left, right + 1)
    centre = float(np.average(xs, weights=profile[left:right + 1]))
    reach = (len(profile) - 1) // 2
    return centre - reach + phase, (right - left + 1) / 2


def tick_spans(weights: np.ndarray, baselines: list[float], x_start: float,
               px_per_mm: float) -> list[tuple[float, float]] | None:
    """The rows (top, bottom) the separator ticks of rows I-III cover, from the run of ink through the baseline in
    each tick's middle column. A trace crossing there lengthens a run: the ticks' height is the median run's, and
    a row's ticks stand where its runs of that height stand (None when fewer than five of the nine are found)."""
    runs: list[list[tuple[int, int]]] = []
    for baseline in baselines[:3]:
        runs.append([])
        for tick_x in tick_xs(x_start, px_per_mm):
            x, y = int(np.floor(tick_x)), int(round(baseline))
            if not (0 <= x < weights.shape[1] and 0 <= y < weights.shape[0]) or weights[y, x] <= 0.5:
                continue
            inked = weights[:, x] > 0.5
            top, bottom = y, y
            while top > 0 and inked[top - 1]:
                top -= 1
            while bottom < len(inked) - 1 and inked[bottom + 1]:
                bottom += 1
            runs[-1].append((top, bottom))
    heights = [bottom - top for row in runs for top, bottom in row]
    if len(heights) < 5:
        return None
    height = float(np.median(heights))
    spans = []
    for baseline, row in zip(baselines, runs):
        middles = [(top + bottom) / 2 for top, bottom in row if abs(bottom - top - height) <= 2]
        middle = float(np.median(middles)) if middles else float(baseline)
        spans.append((middle - height / 2, middle + height / 2))
    return spans


def data_start(geometry, fs: int) -> float:
    """x of the data's time 0. Ticks are drawn snapped to whole pixels (±0.5 px, a third of a sample at 100 Hz and
    100 dpi, which costs dB), the pulse's slanted falling stroke is not: when the data starts at the falling edge
    (ECG-Image-Kit: its middle is 1.5 samples into the data), it is placed from the stroke."""
    x, fall = geometry.x_start, geometry.pulse_fall
    px_per_second = MM_PER_SECOND * geometry.px_per_mm
    if fall is not None and abs(x - fall) < PULSE_START_MM * geometry.px_per_mm:
        return fall - 1.5 * px_per_second / fs
    return x
