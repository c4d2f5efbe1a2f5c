"""An aliased line's points: every pixel of it fully inked or not at all (this task's own clean pages).

Such a line says nothing inside a pixel, but a column's run is exactly the range of heights the trace covers
across the column's width (less half the line's thickness). Where the trace crosses from one column into the next
it lies in both ranges: in the gap between two ranges that do not meet (a steep stroke), anywhere in the overlap of
two that do. The crossings are chosen to make the trace vary least, so a peak spread over two columns is read at
their boundary, not halfway down its slope; a column whose range reaches beyond both its crossings holds a peak or a
trough. Column centroids (decode.column_points) are exact only on straight stretches: on a QRS they are 0.1 mV off,
and the fit by rendering (refine.py) models anti-aliasing, which such a line has none of.
"""
from __future__ import annotations

import numpy as np

MIDDLE = 0.01  # per pixel a crossing lies off its overlap's middle: ties (a flat stretch) are broken there
BEYOND_PX = 0.5  # a range reaching this far beyond a column's crossings holds an extreme


def range_points(centre: np.ndarray, top: np.ndarray, bottom: np.ndarray,
                 spans: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Points (x relative to the window's first column, y) of an aliased trace from its columns' runs: the
    crossings at the columns' boundaries and the extremes inside the columns (a lone column: its centroid).
    `spans`: where the stretches of followed columns start and end (exclusive)."""
    if not len(spans[0]):
        return np.empty(0), np.empty(0)
    half = float(np.nanmedian(bottom - top)) / 2
    low, high = top + half, bottom - half
    thin = ~(low <= high)  # a run shorter than the line is thick: its centroid is all it says
    low[thin], high[thin] = centre[thin], centre[thin]
    xs, ys = [], []
    for start, stop in zip(*spans):
        heights = crossings(low[start:stop], high[start:stop])
        if not len(heights):
            xs.append(start + 0.5)
            ys.append(centre[start])
            continue
        # a stretch's first and last column are entered or left at a crossing only: their far end is taken flat
        ends = np.concatenate([[heights[0]], heights, [heights[-1]]])
        for i in range(stop - start):
            if i:
                xs.append(start + i + 0.0)
                ys.append(ends[i])
            for offset, extreme in extremes(ends[i], ends[i + 1], low[start + i], high[start + i]):
                xs.append(start + i + offset)
                ys.append(extreme)
    return np.array(xs), np.array(ys)


def crossings(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The heights at which a stretch of columns' trace crosses each boundary between two of them, the choice that
    varies least (Viterbi over each boundary's options: the gap's middle, or the overlap's ends and middle)."""
    options = []
    for left in range(len(low) - 1):
        a, b = max(low[left], low[left + 1]), min(high[left], high[left + 1])
        options.append(np.array([(a + b) / 2]) if a >= b else np.array([a, (a + b) / 2, b]))
    if not options:
        return np.empty(0)
    cost = MIDDLE * np.abs(options[0] - options[0].mean())
    back = []
    for k in range(1, len(options)):
        before, after = options[k - 1][None, :], options[k][:, None]
        total = cost[None, :] + variation(before, after, low[k], high[k])
        back.append(total.argmin(axis=1))
        cost = total.min(axis=1) + MIDDLE * np.abs(options[k] - options[k].mean())
    choice = [int(cost.argmin())]
    for k in range(len(options) - 1, 0, -1):
        choice.append(int(back[k - 1][choice[-1]]))
    return np.array([options[k][i] for k, i in enumerate(reversed(choice))])


def variation(enter, leave, low: float, high: float):
    """The least a trace varies inside a column it enters at `enter` and leaves at `leave`, covering low..high."""
    low, high = np.minimum(np.minimum(enter, leave), low), np.maximum(np.maximum(enter, leave), high)
    return (high - low) + np.minimum(np.abs(enter - low) + np.abs(high - leave),
                                     np.abs(enter - high) + np.abs(leave - low))


def extremes(enter: float, leave: float, low: float, high: float) -> list[tuple[float, float]]:
    """(x offset in the column, y) of the peak and/or trough inside a column, in the order the trace meets them."""
    found = []
    if min(enter, leave) - low > BEYOND_PX:
        found.append(low)
    if high - max(enter, leave) > BEYOND_PX:
        found.append(high)
    if len(found) == 2 and abs(enter - high) + abs(leave - low) < abs(enter - low) + abs(leave - high):
        found.reverse()  # the trough first: the trace enters nearer it
    return [((i + 1) / (len(found) + 1), y) for i, y in enumerate(found)]
