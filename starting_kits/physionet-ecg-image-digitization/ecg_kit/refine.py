"""Steep stretches (QRS complexes) refined by rendering: the polyline whose anti-aliased stroke best reproduces
the ink there.

A column's centroid is exact where the trace is flat, but a near-vertical stroke is as wide as the line (2 px at
200 dpi) and spreads over two or three columns, each holding most of its height: the centroids halve a complex's
height and the run's ends do not say which column the peak is in. So around every column where the trace spans
more than its thickness, the trace is a polyline with a knot every STEP_MM, drawn as a stroke of the line's width
(a pixel's coverage is how much of it lies within half a width of the line, the usual anti-aliasing), and the
knots are moved (Adam) until the drawing matches the ink (a little stiffness keeps an aliased line's staircase
from being followed): the heights of the peaks and the time of each stroke come out to a fraction of a pixel.
Knots outside these stretches keep the centroids.
"""
from __future__ import annotations

import numpy as np
import torch

STEP_MM = 0.0635  # knot spacing: a quarter pixel at 100 dpi
REACH_PX = 2  # a pixel is drawn by the segments within this many pixels of it
MARGIN_PX = 3  # rows above and below a column's run that are compared too (where the line must not be)
GROW = 3  # columns added on each side of a steep column
STEEP_PX = 2.0  # a column is steep when its run is this much taller than the line is thick
ITERATIONS = 80
CHAMFER = 0.05  # pull towards ink the drawing does not reach yet (a peak's tip)
SMOOTH = 0.002  # against wiggles along an aliased line's staircase (this task's own pages); more flattens peaks


def steep_columns(centre: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> tuple[np.ndarray, float]:
    """Which columns to refine (steep ones, widened by GROW), and the line's thickness in pixels."""
    finite = np.isfinite(centre)
    thickness = float(np.nanmedian(bottom - top)) + 1
    steep = finite & ((bottom - top + 1) > thickness + STEEP_PX)
    near = np.convolve(steep.astype(np.float64), np.ones(2 * GROW + 1), mode="same") > 0
    return near & finite, thickness


def distance_to_polyline(px, py, kx, ky, segments):
    """Each pixel centre's distance to the nearest of its candidate segments (knot i to knot i + 1)."""
    ax, ay, bx, by = kx[segments], ky[segments], kx[segments + 1], ky[segments + 1]
    vx, vy, wx, wy = bx - ax, by - ay, px[:, None] - ax, py[:, None] - ay
    t = ((wx * vx + wy * vy) / (vx * vx + vy * vy + 1e-9)).clamp(0, 1)
    dx, dy = wx - t * vx, wy - t * vy
    return torch.sqrt(dx * dx + dy * dy + 1e-6).min(dim=1).values


def observed_pixels(weights, x0, columns, top, bottom):
    """Pixel centres (x relative to x0, y) and their ink, MARGIN_PX around each refined column's run."""
    xs, ys, ink = [], [], []
    for i in columns:
        low, high = max(0, int(top[i]) - MARGIN_PX), min(weights.shape[0], int(bottom[i]) + MARGIN_PX + 1)
        xs.append(np.full(high - low, i + 0.5, dtype=np.float32))
        ys.append(np.arange(low, high, dtype=np.float32))
        ink.append(weights[low:high, x0 + i].astype(np.float32))
    xs, ys, ink = (np.concatenate(a) for a in (xs, ys, ink))
    seen = np.isfinite(ink)  # NaN: hidden (a separator tick), neither ink nor paper
    return (torch.from_numpy(a[seen]) for a in (xs, ys, ink))


def refine_steep(weights: np.ndarray, x0: int, centre: np.ndarray, top: np.ndarray, bottom: np.ndarray,
                 xs: np.ndarray, ys: np.ndarray, px_per_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The points (x relative to x0, y) of one window's trace, steep stretches fitted to the ink."""
    refine, thickness = steep_columns(centre, top, bottom)
    if not refine.any() or len(xs) < 2:
        return xs, ys
    n = len(centre)
    step = STEP_MM * px_per_mm
    knots_x = np.arange(0.0, n + 1e-9, step)
    inside = refine[np.clip(np.floor(knots_x - 1e-9), 0, n - 1).astype(int)] & refine[np.clip(
        np.floor(knots_x), 0, n - 1).astype(int)]
    px, py, ink = observed_pixels(weights, x0, np.flatnonzero(refine), top, bottom)
    span = int(np.ceil((2 * REACH_PX + 1) / step)) + 1
    first = torch.clamp(((px - 0.5 - REACH_PX) / step).floor().long(), 0, len(knots_x) - 2)
    segments = torch.clamp(first[:, None] + torch.arange(span)[None, :], 0, len(knots_x) - 2)
    start = np.interp(knots_x, xs, ys).astype(np.float32)
    fitted = fit_knots(px, py, ink, torch.from_numpy(knots_x.astype(np.float32)), torch.from_numpy(start),
                       torch.from_numpy(inside), segments, thickness)
    outside = ~refine[np.clip(xs.astype(int), 0, n - 1)]
    points_x = np.concatenate([xs[outside], knots_x[inside]])
    order = np.argsort(points_x, kind="stable")
    return points_x[order], np.concatenate([ys[outside], fitted[inside]])[order]


def fit_knots(px, py, ink, kx, start, free, segments, thickness: float) -> np.ndarray:
    """The knots' heights (the free ones moved) whose drawing best matches the ink."""
    ky = start.clone().requires_grad_(True)
    width = torch.tensor(thickness - 1.0, requires_grad=True)
    gain = torch.tensor(1.5, requires_grad=True)  # the ink map saturates below full cover
    optimiser = torch.optim.Adam([{"params": [ky], "lr": 0.4}, {"params": [width, gain], "lr": 0.02}])
    for _ in range(ITERATIONS):
        curve = torch.where(free, ky, start)
        distance = distance_to_polyline(px, py, kx, curve, segments)
        drawn = torch.clamp(gain * torch.clamp(width / 2 + 0.5 - distance, 0, 1), 0, 1)
        loss = (((drawn - ink) ** 2).mean() + CHAMFER * (ink * torch.relu(distance - width / 2) ** 2).mean()
                + SMOOTH * ((curve[2:] - 2 * curve[1:-1] + curve[:-2])[free[1:-1]] ** 2).mean())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return torch.where(free, ky, start).detach().numpy().astype(np.float64)
