"""From a trace map and the page geometry to signals: column-wise tracking with sub-pixel centroids, gap filling,
each segment placed at its column's time, resampled to fs, made consistent (the limb leads and the rhythm strip
fitted together: Einthoven, Goldberger), clipped, never NaN."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter
from scipy.interpolate import PchipInterpolator

from . import COLUMN_SECONDS, MM_PER_MV, MM_PER_SECOND, ROWS
from .aliased import range_points
from .calibration import PageGeometry
from .path import cheapest_path, jump, without_specks
from .refine import refine_steep
from .timebase import data_start, tick_xs

SEPARATOR_MM = 0.5  # half a separator tick's width, and a little more
PULSE_MM = 0.3  # half the calibration pulse's falling stroke
RUN_THRESHOLD = 0.35  # ink above it is a run's
FAINT_THRESHOLD = 0.15  # a thin line's faint pixels, raised to a run's when joined to it
JOIN_STEPS = 4  # pixels from a strong one a faint pixel may be, through faint ones
LINE_MM = 0.2646  # ECG-Image-Kit's 0.75-pt line
THIN_LINE_PX = 1.5  # below this width (px) a line's pixels are raised where faint
GAP_PX = 1  # runs of a column this close are one: an anti-aliased steep stroke pales in a pixel or two
STEEP_MM = 1.0  # a run spanning this much is a piece of a steep stroke
ALIASED_PARTIAL = 0.16  # below this share of partial ink beside the trace, the line is aliased (aliased.py)
SHARP_PARTIAL = 0.65  # below it, the line is sharp: a smooth curve through its points (`resample`)
FULL_INK = 0.85  # an aliased line's pixels are inked fully, a grid line's are not (`with_faint_line`)
PAST_BAND_MM = 1.0  # how far (40 ms) a stroke is followed wholly past the band's edge (`past_band`)
OWN_SHARE = 0.9  # of the highest row map's, what a row's own map must reach for the row to own a pixel (`row_owns`)


def with_faint_line(weights: np.ndarray, px_per_mm: float, full_ink: np.ndarray | None = None) -> np.ndarray:
    """The trace map with the faint pixels of a thin line raised to the runs' threshold: on a page whose line is
    about one pixel wide (ECG-Image-Kit's 0.75 pt at 100 dpi), anti-aliasing spreads a steep stroke over two pixels
    of which neither reaches it. A faint pixel is raised when it is joined to the line (through faint pixels, within
    a few pixels of a strong one), so noise beside the line is not.
    An aliased line (`full_ink`: where the ink is full, at any dpi) has no faint pixels of its own: a faint pixel
    beside it is a grid line's, which would become a run the path may take. There the pixels of full ink joined to
    the line are raised instead: a network's map pales where the line crosses a grid line."""
    if full_ink is None and px_per_mm * LINE_MM > THIN_LINE_PX:
        return weights
    if weights.ndim == 3:
        return np.stack([with_faint_line(row, px_per_mm, full_ink) for row in weights])
    strong = Image.fromarray(((weights > RUN_THRESHOLD) * 255).astype(np.uint8))
    faint = full_ink if full_ink is not None else weights > FAINT_THRESHOLD
    for _ in range(JOIN_STEPS):
        strong = Image.fromarray(np.asarray(strong.filter(ImageFilter.MaxFilter(3))) * faint)
    joined = np.asarray(strong) > 0
    return np.where(joined & (weights <= RUN_THRESHOLD), np.float32(RUN_THRESHOLD + 0.01), weights)


def column_runs(column: np.ndarray, rows: np.ndarray,
                threshold: float = RUN_THRESHOLD) -> list[tuple[float, float, float]]:
    """The runs of ink in one column: (weighted centroid, top, bottom)."""
    strong = column > threshold
    if not strong.any():
        return []
    starts, ends = stretches(strong)
    keep = np.concatenate([[True], starts[1:] - ends[:-1] > GAP_PX])  # runs split by a paler pixel are one
    starts, ends = starts[keep], np.concatenate([ends[:-1][keep[1:]], ends[-1:]])
    return [(float(np.average(rows[a:b], weights=np.nan_to_num(column[a:b]))), float(rows[a]), float(rows[b - 1]))
            for a, b in zip(starts, ends)]


def stretches(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a column's True stretches start and end (exclusive)."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def reaching_under(runs: list[tuple[float, float, float]], hidden: np.ndarray,
                   rows: np.ndarray) -> list[tuple[float, float, float, float, float]]:
    """The runs as the tracking compares them: (centroid, top, bottom, shown top, shown bottom). A run that meets
    hidden pixels (a separator tick) may go on under them: its top or bottom reaches over them, so that it touches
    what shows beyond; the shown ones are what the points and the fit use."""
    reached = []
    for centroid, top, bottom in runs:
        a, b = int(top - rows[0]), int(bottom - rows[0])
        while 0 < a < len(hidden) and hidden[a - 1]:
            a -= 1
        while 0 <= b < len(hidden) - 1 and hidden[b + 1]:
            b += 1
        reached.append((centroid, float(rows[0] + a), float(rows[0] + b), top, bottom))
    return reached


def beyond_band(runs: list[tuple[float, float, float]], column: np.ndarray, owned: np.ndarray, low: int,
                high: int) -> list[tuple[float, float, float]]:
    """The runs of a column's band (rows low..high-1), those that reach its edge going on past it as far as their
    ink does where the row owns it (`owned`, from `row_owns`): a V lead's deep S wave reaches the next row's
    baseline, and a band that cut it off would read it flat."""
    extended = []
    for centroid, top, bottom in runs:
        a, b = int(top), int(bottom)
        if a == low:
            while a > 0 and column[a - 1] > RUN_THRESHOLD and owned[a - 1]:
                a -= 1
        if b == high - 1:
            while b < len(column) - 1 and column[b + 1] > RUN_THRESHOLD and owned[b + 1]:
                b += 1
        if (a, b) != (int(top), int(bottom)):
            centroid = float(np.average(np.arange(a, b + 1), weights=np.nan_to_num(column[a:b + 1]) + 1e-9))
        extended.append((centroid, float(a), float(b)))
    return extended


def row_owns(weights: np.ndarray, row: int) -> np.ndarray:
    """Where a row owns the ink (4 × H × W maps → H × W): where its map is about as high as any row's. Far from both
    baselines, on a stroke between two rows, a row's map and its neighbour's are nearly equal (0.84 and 0.87): only
    a clearly higher map (a neighbour's complex) takes a pixel from the row."""
    return weights[row] >= OWN_SHARE * weights.max(axis=0)


def past_band(candidates: list[list[tuple[float, ...]]], weights: np.ndarray, owned: np.ndarray, x0: int,
              low: int, high: int, reach: int) -> list[list[tuple[float, ...]]]:
    """The candidates with the runs wholly past the band (rows low..high-1) that continue a stroke gone past it
    (`beyond_band`): a deep S wave's trough may lie a column or two beyond the band's edge, where no run of the band
    starts. From a run past the edge, a run of the neighbouring column (where the row owns the ink) that touches it is
    added, and so on for up to `reach` columns."""
    height, width = weights.shape
    rows = np.arange(height, dtype=np.float64)
    candidates = [list(runs) for runs in candidates]
    sources = [[run for run in runs if run[1] < low or run[2] > high - 1] for runs in candidates]
    for _ in range(reach):
        found: list[list[tuple[float, ...]]] = [[] for _ in candidates]
        for i, runs in enumerate(sources):
            if not runs:
                continue
            for j in (i - 1, i + 1):
                if not (0 <= j < len(candidates) and 0 <= x0 + j < width):
                    continue
                column = np.where(owned[:, x0 + j], weights[:, x0 + j], 0.0)
                column[low:high] = 0.0
                for centroid, top, bottom in column_runs(column, rows):
                    run = (centroid, top, bottom, top, bottom)
                    known = any(other[1:3] == run[1:3] for other in candidates[j] + found[j])
                    if not known and any(jump(source, run) == 0.0 for source in runs):
                        found[j].append(run)
        for j, runs in enumerate(found):
            candidates[j] += runs
        sources = found
    return candidates


def track(weights: np.ndarray, x0: int, x1: int, baseline: float, half_band: float,
          gap_cost: float, refine_px_per_mm: float | None = None,
          ink: np.ndarray | None = None, steep_px: float = np.inf,
          aliased: bool = False, owned: np.ndarray | None = None, past_px: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel points (x relative to x0, y) of the trace in the columns x0..x1-1.

    The trace is the cheapest path through the columns' runs of ink (path.py), so a neighbouring row's tall
    complex or a label is not followed. A run over nearly the whole band is a grid line (a grey grid's ink), never
    the trace, and a speck of noise is dropped (`without_specks`). Runs spanning `steep_px` or more are pieces of a
    steep stroke: a thin one breaks where noise or a grid line pales a few pixels, so a jump between two of them
    costs less (STEEP_BREAK) and a QRS's deep S wave is not cut short by a skip.
    Where the map is hidden (NaN: a separator tick), the trace may pass under it: the hidden rows are a run of their
    own that gives no point, and a run meeting them reaches over them (`reaching_under`). So a trace is followed
    into a tick and taken up where it comes out, not from what stands beside the tick (a lead's label).
    With `owned` (H × W: where this row owns the ink, `row_owns`), a run reaching the band's edge goes on past it
    (`beyond_band`), and the runs wholly past it that continue it are followed for up to `past_px` columns
    (`past_band`).
    With `refine_px_per_mm`, steep stretches are then fitted to `ink` (refine.py; default: the weights); an
    `aliased` line a pixel or two thick is read from its runs' ranges instead (aliased.py)."""
    height, width = weights.shape
    low, high = max(0, int(baseline - half_band)), min(height, int(baseline + half_band))
    n = x1 - x0
    if low >= high or n <= 0:
        return np.empty(0), np.empty(0)
    rows = np.arange(low, high, dtype=np.float64)
    candidates = []
    for x in range(x0, x1):
        column = weights[low:high, x] if 0 <= x < width else np.zeros(0)
        hidden = np.isnan(column)
        runs = column_runs(column, rows) if len(column) else []
        if owned is not None and runs:
            runs = beyond_band(runs, weights[:, x], owned[:, x], low, high)
        runs = reaching_under(runs, hidden, rows)
        # a run over nearly the whole band is a grid line (what a run shows beyond the band does not count)
        candidates.append([run for run in runs if min(run[4], high - 1) - max(run[3], low) < 0.9 * (high - low)]
                          + hidden_runs(hidden, rows))
    if owned is not None:
        candidates = past_band(candidates, weights, owned, x0, low, high, past_px)
    candidates = without_specks(candidates)
    centre, top, bottom = (np.full(n, np.nan) for _ in range(3))
    for i, run in enumerate(cheapest_path(candidates, baseline, gap_cost, steep_px)):
        if run is not None:
            centre[i], top[i], bottom[i] = run[0], run[3], run[4]
    if aliased and np.nanmedian(bottom - top) < 2:  # a pixel or two thick: a wider one's runs reach the next columns
        return range_points(centre, top, bottom, stretches(np.isfinite(centre)))
    xs, ys = column_points(centre, top, bottom)
    if refine_px_per_mm is None:
        return xs, ys
    return refine_steep(weights if ink is None else ink, x0, centre, top, bottom, xs, ys, refine_px_per_mm)


def hidden_runs(hidden: np.ndarray, rows: np.ndarray) -> list[tuple[float, ...]]:
    """The column's hidden stretches as runs the path may go through without a point: (NaN, top, bottom, NaN, NaN)."""
    if not hidden.any():
        return []
    return [(np.nan, float(rows[a]), float(rows[b - 1]), np.nan, np.nan) for a, b in zip(*stretches(hidden))]


def column_points(centre: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One point per column (x offset of the column's centre, y) from its run of ink.

    The run's weighted centroid is where the trace crosses the column (exact for a straight stretch, whatever the
    line width). At a peak or a trough the run reaches beyond both neighbours: its far edge, less half the line's
    thickness, is the extreme the centroid would miss."""
    finite = np.isfinite(centre)
    half = float(np.nanmedian(bottom - top)) / 2 if finite.any() else 0.0
    ys = centre.copy()
    inner = np.flatnonzero(finite[1:-1] & finite[:-2] & finite[2:]) + 1
    peaks = inner[top[inner] < np.minimum(top[inner - 1], top[inner + 1]) - 0.5]
    troughs = inner[bottom[inner] > np.maximum(bottom[inner - 1], bottom[inner + 1]) + 0.5]
    ys[peaks] = top[peaks] + half
    ys[troughs] = bottom[troughs] - half
    keep = np.flatnonzero(finite)
    return keep + 0.5, ys[keep]


def window_columns(geometry: PageGeometry, x_start: float, seconds: tuple[float, float], tick_before: bool,
                   tick_after: bool) -> tuple[int, int]:
    """The pixel columns x0..x1-1 a window of `seconds` is read from. Where the ticks were measured, their own
    pixels are hidden (`tick_boxes`) and each column belongs to the window its centre falls in: the trace beside
    a tick, above or below it, is read. Else the separator tick centred on a boundary between columns (3 trace
    widths) hides the trace where it stands: those columns are left out, and the trace is extended over them.
    The pulse's falling stroke hides the first column's start."""
    px_per_mm = geometry.px_per_mm
    px_per_second = MM_PER_SECOND * px_per_mm
    start, end = x_start + seconds[0] * px_per_second, x_start + seconds[1] * px_per_second
    masked = geometry.tick_spans is not None  # measured only where the ticks were found
    separator = geometry.tick_half + 1 if geometry.tick_half is not None else SEPARATOR_MM * px_per_mm
    if tick_before and masked:
        x0 = int(np.floor(start - 0.5)) + 1
    elif tick_before:
        x0 = int(np.ceil(start + separator))
    elif geometry.first_x is not None:
        x0 = int(np.ceil(start + max(0.0, geometry.first_x - x_start)))
    else:
        x0 = int(np.ceil(start + PULSE_MM * px_per_mm))
    if tick_after and masked:
        x1 = int(np.ceil(end - 0.5))
    elif tick_after:
        x1 = int(np.floor(end - separator))
    else:
        x1 = int(np.floor(end)) + 1
    return x0, x1


def tick_boxes(geometry: PageGeometry, row: int) -> list[tuple[slice, slice]]:
    """The (rows, columns) a row's separator ticks cover, when they were measured: every 2.5 s from the ticks' own
    start, the columns whose centre lies within half their width, their rows and a pixel more (the ends'
    anti-aliasing). The rhythm strip has none."""
    if geometry.tick_spans is None or row >= len(geometry.tick_spans):
        return []
    top, bottom = geometry.tick_spans[row]
    boxes = []
    for centre in tick_xs(geometry.x_start, geometry.px_per_mm):
        columns = slice(max(0, int(np.ceil(centre - geometry.tick_half - 0.5))),  # centres within its half width
                        max(0, int(np.floor(centre + geometry.tick_half - 0.5)) + 1))
        boxes.append((slice(max(0, int(np.floor(top - 1))), max(0, int(np.ceil(bottom + 1)) + 1)), columns))
    return boxes


def without_ticks(weights: np.ndarray, boxes: list[tuple[slice, slice]]) -> np.ndarray:
    """A copy of a map (H × W) with the boxes hidden (NaN: neither ink nor paper; see `track` and refine.py)."""
    if not boxes:
        return weights
    weights = weights.astype(np.float32, copy=True)
    for rows, columns in boxes:
        weights[rows, columns] = np.nan
    return weights


def partial_ink(weights: np.ndarray, ink: np.ndarray | None) -> float:
    """How much of the ink on and beside the trace (the map's pixels over 0.5, and their neighbours) is partial:
    about 0 for an aliased line (every pixel inked or not), a quarter to a half for an anti-aliased one, most of it
    for a line under noise or blur."""
    page = weights.max(axis=0) if weights.ndim == 3 else weights
    near = np.asarray(Image.fromarray((page > 0.5).astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))) > 0
    values = (ink if ink is not None else page)[near]
    inked = values > FAINT_THRESHOLD
    return float(np.mean(inked & (values < 0.85)) / max(np.mean(inked), 1e-9)) if inked.any() else 1.0


def resample(times: np.ndarray, values: np.ndarray, at: np.ndarray, smooth: bool) -> np.ndarray:
    """The trace's values at the times `at` from its points. Through a sharp line's points a smooth curve that never
    overshoots them (PCHIP: a QRS is curved between columns); a noisy line's points jitter, and a cubic would follow
    the jitter: there, straight lines. Outside the points, their end values."""
    distinct = np.concatenate([[True], np.diff(times) > 0])
    if smooth and distinct.sum() >= 3:
        times, values = times[distinct], values[distinct]
        return PchipInterpolator(times, values)(np.clip(at, times[0], times[-1]))
    return np.interp(at, times, values)


def decode_page(weights: np.ndarray, geometry: PageGeometry, fs: int, clip_mv: float = 5.0,
                refine: bool = True, ink: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The 12 leads as the test set asks: lead II over 10 s, every other lead its 2.5-s window.

    `weights` is one trace map (H × W) for every row, or one per row (4 × H × W): a row's own map keeps a tall
    complex of the row above or below from being followed. `ink` (H × W, default: the weights) is what the steep
    stretches are fitted to: how much of each pixel the line covers, which a network's probabilities are not."""
    px_per_mm, x_start = geometry.px_per_mm, data_start(geometry, fs)
    partial = partial_ink(weights, ink)
    full_ink = None
    if partial < ALIASED_PARTIAL:  # an aliased line: its full ink, not faint pixels, joins its runs
        full_ink = (ink if ink is not None else weights.max(axis=0) if weights.ndim == 3 else weights) > FULL_INK
    weights = with_faint_line(weights, px_per_mm, full_ink)
    px_per_second, px_per_mv = MM_PER_SECOND * px_per_mm, MM_PER_MV * px_per_mm
    spacing = np.median(np.diff(geometry.baselines)) if len(geometry.baselines) > 1 else 36 * px_per_mm
    quarter = fs * 10 // 4
    out: dict[str, np.ndarray] = {}
    for row, leads in enumerate(ROWS):
        baseline = geometry.baselines[row]
        boxes = tick_boxes(geometry, row)
        row_weights = without_ticks(weights[row] if weights.ndim == 3 else weights, boxes)
        row_ink = without_ticks(ink, boxes) if ink is not None else None
        # A sharp line's row map is trusted past the band where the row owns the ink (`beyond_band`, `past_band`).
        owned = row_owns(weights, row) if weights.ndim == 3 and partial < SHARP_PARTIAL else None
        for column, lead in enumerate(leads):
            rhythm = len(leads) == 1
            t0, t1 = (0.0, 10.0) if rhythm else (COLUMN_SECONDS * column, COLUMN_SECONDS * (column + 1))
            x0, x1 = window_columns(geometry, x_start, (t0, t1), column > 0 and not rhythm,
                                    column < len(leads) - 1 and not rhythm)
            xs, ys = track(row_weights, x0, x1, baseline, half_band=0.75 * spacing, gap_cost=1.5 * px_per_mm,
                           refine_px_per_mm=px_per_mm if refine else None, ink=row_ink,
                           steep_px=STEEP_MM * px_per_mm, aliased=partial < ALIASED_PARTIAL, owned=owned,
                           past_px=int(np.ceil(PAST_BAND_MM * px_per_mm)))
            n = 10 * fs if rhythm else quarter
            first = 0 if rhythm else column * quarter
            if len(xs) == 0:
                samples = np.zeros(n)
            else:
                samples = resample((x0 + xs - x_start) / px_per_second, (baseline - ys) / px_per_mv,
                                   (first + np.arange(n)) / fs, smooth=partial < SHARP_PARTIAL)
            if rhythm:
                out["II"] = samples
            elif lead != "II":
                out[lead] = samples
            else:
                short_ii = samples
    out = limb_consistent(out, short_ii, quarter)
    return {lead: np.nan_to_num(np.clip(values, -clip_mv, clip_mv)) for lead, values in out.items()}


# Each limb lead as a combination of I and II (Einthoven and Goldberger).
LIMB = {"I": (1.0, 0.0), "II": (0.0, 1.0), "III": (-1.0, 1.0), "aVR": (-0.5, -0.5), "aVL": (1.0, -0.5),
        "aVF": (-0.5, 1.0)}


def limb_consistent(out: dict[str, np.ndarray], short_ii: np.ndarray, quarter: int) -> dict[str, np.ndarray]:
    """The limb leads of the first two columns and the rhythm strip over them, made consistent: each is 2 unknowns
    (I, II) read 4 times (I, the short II, III and the rhythm strip; aVR, aVL, aVF and the rhythm strip), fitted by
    least squares. Each lead keeps its own mean: the metric removes one offset per lead, and a step in the rhythm
    strip (from a row's baseline a pixel off) would cost."""
    for column in (0, 1):
        leads = [row[column] for row in ROWS[:3]]  # I, II, III; aVR, aVL, aVF
        window = slice(column * quarter, (column + 1) * quarter)
        readings = [out[lead] if lead != "II" else short_ii for lead in leads] + [out["II"][window]]
        mixing = np.array([LIMB[lead] for lead in leads] + [LIMB["II"]])
        means = np.array([reading.mean() for reading in readings])
        centred = np.stack(readings) - means[:, None]
        fitted = mixing @ np.linalg.lstsq(mixing, centred, rcond=None)[0] + means[:, None]
        for lead, values in zip(leads, fitted):
            if lead != "II":
                out[lead] = values
        out["II"][window] = fitted[-1]
    return out
