"""Where the page is and at what scale: rotation, pixels per mm, the rows' baselines, the traces' start.

px/mm comes from the grid's periodicity (the autocorrelation of the grid's profile in strips, scored at every
multiple of the 1-mm and the 5-mm period, so any dpi's grid gives its 1-mm period), cross-checked with the 1 mV
calibration pulse (10 mm high); without a usable grid, from the page width. The grid's lines also give the last
hundredths of a degree of rotation; the data starts at the pulses' falling edge, refined by the separator ticks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from . import MM_PER_MV, PAGE_MM
from .timebase import tick_offset, tick_spans

# The rotation searched (degrees either way): a scan or a photo turned by hand, and ECG-Image-Kit's augmentation
# (whose turned page keeps the image's size, its corners cut off and black wedges in the image's corners).
MAX_TILT_DEGREES = 15.0


@dataclass
class PageGeometry:
    angle: float  # degrees the image was turned by (undone before decoding)
    px_per_mm: float
    baselines: list[float]  # y of the 4 rows' baselines (in the deskewed image)
    x_start: float  # x where the data starts (the first column's time 0)
    source: str  # what px/mm came from: grid | pulse | page
    first_x: float | None = None  # where the first column's own ink begins (past the pulse's falling stroke)
    tick_half: float | None = None  # half the separator ticks' width (px), when they were found
    tick_spans: list[tuple[float, float]] | None = None  # the rows (top, bottom) rows I-III's ticks cover
    pulse_fall: float | None = None  # x of the middle of the pulses' falling stroke, when they were found


def to_grey(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def ink(image: np.ndarray) -> np.ndarray:
    """How much a pixel looks like printed trace: darker than the paper around it (a shadow or a stain darkens
    both) and unsaturated (grid lines are light or coloured); nothing in the black beyond a turned page's edge."""
    rgb = image.astype(np.float32)
    darkness = 255 - rgb.max(axis=2)
    saturation = rgb.max(axis=2) - rgb.min(axis=2)
    background, beyond = paper_darkness(darkness)
    contrast = 150 * np.clip((255 - background) / 255, 0.4, 1)  # a shadow dims the trace as much as the paper
    return np.clip((darkness - background - 0.6 * saturation) / contrast, 0, 1) * ~beyond


def without_grid_lines(weights: np.ndarray) -> np.ndarray:
    """The trace map without a grey grid's lines: a pixel column inked over 85 % of its length (a QRS spans 30 mm
    at most) or a pixel row over 88 % (a row of trace spans 250 mm of the page's 279, and never on one pixel row
    throughout) is a grid line, and is emptied; the trace crossing it is bridged."""
    strong = weights > 0.4
    columns, rows = strong.mean(axis=0) > 0.85, strong.mean(axis=1) > 0.88
    if not columns.any() and not rows.any():
        return weights
    weights = weights.copy()
    weights[:, columns] = 0
    weights[rows] = 0
    return weights


def paper_darkness(darkness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paper's own darkness at each pixel (the median over about 5 mm, on a quarter-size copy), and where the
    image is black beyond the page (the corners a rotation turned in, a frame around them, widened by a few mm) or
    within 1 mm of its edge (a frame drawn around the page)."""
    height, width = darkness.shape
    small = Image.fromarray(np.clip(darkness, 0, 255).astype(np.uint8)).reduce(4)
    size = max(3, int(5 * width / PAGE_MM[0] / 4) | 1)
    median = small.filter(ImageFilter.MedianFilter(size))
    beyond = Image.fromarray(((np.asarray(median) > 200) * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(5))
    background = np.asarray(median.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    beyond = np.asarray(beyond.resize((width, height), Image.Resampling.NEAREST)) > 0
    margin = max(2, int(round(width / PAGE_MM[0])))  # a frame drawn around the page (1 mm)
    beyond[:margin], beyond[-margin:], beyond[:, :margin], beyond[:, -margin:] = True, True, True, True
    return background, beyond


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


def grid_ink(image: np.ndarray) -> np.ndarray:
    """How much each pixel looks like grid: coloured, or a little darker than white paper."""
    rgb = image.astype(np.float32)
    return (rgb.max(axis=2) - rgb.min(axis=2)) + np.clip(230 - rgb.mean(axis=2), 0, 80) * 0.3


def grid_strips(image: np.ndarray, strips: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The grid's profile along the width in horizontal strips (how coloured or dark each column is, less its mean
    over 3 mm: a shadow or a stain is no grid), and the strips' centre rows. Strips keep a residual tilt from
    smearing 1-px lines."""
    gridness = grid_ink(image)
    bounds = np.linspace(0, gridness.shape[0], strips + 1).astype(int)
    profiles = np.stack([gridness[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
    window = max(5, int(3 * image.shape[1] / PAGE_MM[0]) | 1)
    profiles -= np.stack([np.convolve(profile, np.ones(window) / window, mode="same") for profile in profiles])
    return profiles[:, 25:-25], (bounds[:-1] + bounds[1:]) / 2


def grid_autocorrelation(image: np.ndarray) -> np.ndarray | None:
    """The normalised autocorrelation of the grid's profile along the width, averaged over the strips."""
    profiles, _ = grid_strips(image)
    length = profiles.shape[1]
    if length < 100 or profiles.std() < 1e-3:
        return None
    spectrum = np.abs(np.fft.rfft(profiles * np.hanning(length), 2 * length, axis=1)) ** 2
    auto = np.fft.irfft(spectrum.sum(axis=0))[: length // 2]
    return auto / auto[0]


def grid_skew(image: np.ndarray, period: float) -> float:
    """The grid's remaining tilt in degrees (as `estimate_rotation` counts it): how the vertical lines' phase, at the
    1-mm period, drifts from strip to strip down the page."""
    profiles, centres = grid_strips(image)
    x = np.arange(profiles.shape[1])
    components = profiles @ np.exp(-2j * np.pi * x / period)
    strength = np.abs(components)
    keep = strength > 0.2 * strength.max()
    if keep.sum() < 4:
        return 0.0
    shifts = np.unwrap(np.angle(components[keep])) * period / (2 * np.pi)
    slope = np.polyfit(centres[keep], shifts, 1, w=strength[keep])[0]
    return float(np.degrees(np.arctan(slope)))


def grid_period(image: np.ndarray, page_scale: float) -> float | None:
    """The grid's 1-mm period in pixels, within 0.7-1.4 × `page_scale` (px/mm of the page's width).

    Each candidate period is scored by the autocorrelation at all its multiples (the 1-mm lines) and at all the
    multiples of five times it (the 5-mm lines): a grid of 1-px lines at 200 dpi, whose first clear peak is 2 mm, a
    grid of majors only, and one without majors all peak at the true period, and the many far multiples pin it to
    a fraction of a percent (a 1% error misplaces the last column by 75 ms). None without a clear grid."""
    auto = grid_autocorrelation(image)
    if auto is None or len(auto) < 8 * page_scale:
        return None
    lags = np.arange(len(auto))

    def score(periods: np.ndarray, multiple: float) -> np.ndarray:
        count = np.maximum(1, ((len(auto) - 2) / (multiple * periods)).astype(int))
        n = np.arange(1, count.max() + 1)
        at = n[None, :] * multiple * periods[:, None]
        values = np.where(n[None, :] <= count[:, None], np.interp(at, lags, auto), 0.0)
        return values.sum(axis=1) / count

    periods = np.arange(0.7 * page_scale, 1.4 * page_scale, 0.002 * page_scale)
    total = score(periods, 1.0) + score(periods, 5.0)
    best = int(np.argmax(total))
    if not 0.01 * len(periods) < best < 0.99 * len(periods):  # a period at the range's edge is not the grid's
        return None
    fine = np.linspace(periods[max(0, best - 1)], periods[min(len(periods) - 1, best + 1)], 41)
    fine_total = score(fine, 1.0) + score(fine, 5.0)
    period = float(fine[int(np.argmax(fine_total))])
    majors = score(np.array([period]), 5.0)[0]  # the 5-mm structure: its peaks stand out, and beside them nothing
    return period if majors > 0.05 and majors - score(np.array([1.1 * period]), 5.0)[0] > 0.05 else None


def find_rows(weights: np.ndarray, px_per_mm: float) -> list[float]:
    """The four baselines: the strongest rows of trace ink, about 36 mm apart (median ink row in each band). A row's
    strength is its ink times the share of the page's width it spans: a header's text is dark but short."""
    profile = weights.sum(axis=1)
    width = max(3, int(px_per_mm * 3))
    smooth = np.convolve(profile, np.ones(width) / width, mode="same") * (0.25 + row_coverage(weights, width))
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


def band_columns(weights: np.ndarray, baselines: list[float], px_per_mm: float, top_mm: float,
                 bottom_mm: float) -> np.ndarray:
    """The ink of each column summed over the rows' bands from `top_mm` above to `bottom_mm` below the baselines."""
    columns = np.zeros(weights.shape[1])
    for baseline in baselines:
        low = max(0, int(baseline - top_mm * px_per_mm))
        high = min(weights.shape[0], int(baseline + bottom_mm * px_per_mm))
        if low < high:
            columns += weights[low:high].sum(axis=0)
    return columns


def pulse_edges(weights: np.ndarray, baselines: list[float], px_per_mm: float,
                left: int) -> tuple[float, float, float] | None:
    """The calibration pulses' rising and falling edges (x of the vertical strokes, common to all rows) and the
    strokes' half width: the first pair of strokes after the rows' first ink that are about 5 mm (0.2 s) apart with
    the pulses' top between them; None when there is none."""
    mid = band_columns(weights, baselines, px_per_mm, 7.0, -3.0)  # 3-7 mm above the baseline: only the strokes,
    mid = np.clip(mid - band_columns(weights, baselines, px_per_mm, 17.0, -13.0), 0, None)  # not a grid line's
    x0, x1 = max(0, int(left - px_per_mm)), min(len(mid), int(left + 40 * px_per_mm))
    window = mid[x0:x1]
    if len(window) < 3 or window.max() <= 0:
        return None
    strong = np.concatenate([[0], (window > 0.4 * window.max()).astype(np.int8), [0]])
    starts, ends = np.flatnonzero(np.diff(strong) == 1), np.flatnonzero(np.diff(strong) == -1)
    strokes = [(x0 + float(np.average(np.arange(a, b) + 0.5, weights=window[a:b])), (b - a) / 2)  # pixel centres
               for a, b in zip(starts, ends)]
    for i, (rise, half) in enumerate(strokes):
        for fall, _ in strokes[i + 1:]:
            apart = 3.5 * px_per_mm < fall - rise < 6.5 * px_per_mm
            if apart and pulse_top(weights, baselines, px_per_mm, rise, fall):
                return rise, fall, half
    return None


def pulse_top(weights: np.ndarray, baselines: list[float], px_per_mm: float, rise: float, fall: float) -> bool:
    """Whether most rows have ink 8.5-11.5 mm above their baseline in most columns between two strokes."""
    x0, x1 = int(rise + px_per_mm), int(fall - px_per_mm)
    covered = []
    for baseline in baselines:
        low, high = max(0, int(baseline - 11.5 * px_per_mm)), max(0, int(baseline - 8.5 * px_per_mm))
        if low < high and x0 < x1:
            covered.append(float((weights[low:high, x0:x1].max(axis=0) > 0.3).mean()))
    return bool(covered) and float(np.median(covered)) > 0.5


def row_coverage(weights: np.ndarray, width: int) -> np.ndarray:
    """For each row, the share of the columns with strong ink (not a grey grid's) within `width` rows of it."""
    strong = weights > 0.7 * np.percentile(weights[weights > 0], 99.5) if (weights > 0).any() else weights > 0
    inked = np.vstack([np.zeros((1, weights.shape[1]), np.int32), np.cumsum(strong, axis=0, dtype=np.int32)])
    height = weights.shape[0]
    low = np.clip(np.arange(height) - width // 2, 0, height)
    high = np.clip(np.arange(height) + width // 2 + 1, 0, height)
    return ((inked[high] - inked[low]) > 0).mean(axis=1)


def find_trace_start(weights: np.ndarray, baselines: list[float], px_per_mm: float) -> tuple[float, tuple | None]:
    """x where the traces start, and the pulses' edges (or None): at the pulses' falling edge, after as long a flat
    lead-out as the flat lead-in before their rising edge (ECG-Image-Kit draws none, and starts the trace at the
    falling edge); 8 mm after the rows' first ink when no pulse is found."""
    columns = band_columns(weights, baselines, px_per_mm, 12.0, 2.0)
    threshold = 0.15 * np.percentile(columns[columns > 0], 90) if (columns > 0).any() else 0
    left = int(np.argmax(columns > threshold))
    edges = pulse_edges(weights, baselines, px_per_mm, left)
    if edges is None:
        return left + 8.0 * px_per_mm, None
    return edges[1] + lead_in(weights, baselines, px_per_mm, edges), edges


def lead_in(weights: np.ndarray, baselines: list[float], px_per_mm: float, edges: tuple) -> float:
    """The length of the flat line drawn at the baselines before the pulses' rising edge (0 when under 0.75 mm): as
    long as the ink there is as strong as on the pulses' top, up to 3 mm."""
    rise, fall, half = edges
    top = band_columns(weights, baselines, px_per_mm, 11.5, -8.5)[int(rise + px_per_mm):int(fall - px_per_mm)]
    if len(top) == 0 or top.mean() <= 0:
        return 0.0
    base = band_columns(weights, baselines, px_per_mm, 1.5, 1.5)
    x = int(rise - half - 1)
    while x >= 0 and rise - x < 3 * px_per_mm and base[x] > 0.5 * top.mean():
        x -= 1
    length = rise - half - 1 - x
    return float(length) if length > 0.75 * px_per_mm else 0.0


def pulse_height(weights: np.ndarray, baseline: float, x_start: float, px_per_mm: float,
                 edges: tuple | None = None) -> float | None:
    """The calibration pulse's height in pixels (1 mV = 10 mm): the ink on top of the pulse (between its edges when
    they were found, else just before the traces start)."""
    if edges is not None:
        x0, x1 = int(edges[0] + px_per_mm), int(edges[1] - px_per_mm)
    else:
        x0, x1 = int(x_start - 6 * px_per_mm), int(x_start - 2 * px_per_mm)
    low, high = max(0, int(baseline - 14 * px_per_mm)), int(baseline - 3 * px_per_mm)
    if x0 < 0 or x1 <= x0 or low >= high:
        return None
    region = weights[low:high, x0:x1].mean(axis=1)
    if region.max() < 0.2:
        return None
    top = low + int(np.argmax(region > 0.5 * region.max()))
    return baseline - top


def rotate_page(image: np.ndarray, weights: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The image (white where it turns in) and its trace map (empty there), turned by `angle` degrees."""
    if not angle:
        return image, weights
    image = np.asarray(Image.fromarray(image).rotate(angle, resample=Image.Resampling.BILINEAR,
                                                    fillcolor=(255, 255, 255)))
    weights = np.asarray(Image.fromarray((np.clip(weights, 0, 1) * 255).astype(np.uint8)).rotate(
        angle, resample=Image.Resampling.BILINEAR), dtype=np.float32) / 255
    return image, weights


def deskew_on_grid(image: np.ndarray, weights: np.ndarray,
                   angle: float) -> tuple[np.ndarray, np.ndarray, float, float | None]:
    """Turn the page by `angle` (from the traces), then by the grid's remaining tilt, which its 1-px lines show to
    a hundredth of a degree; also the grid's 1-mm period (None without a grid)."""
    page_scale = image.shape[1] / PAGE_MM[0]
    turned, turned_weights = rotate_page(image, weights, angle)
    period = grid_period(turned, page_scale)
    if period is None:
        return turned, turned_weights, angle, None
    skew = grid_skew(turned, period)
    if abs(skew) < 0.02 or abs(skew) > 2.0:
        return turned, turned_weights, angle, period
    turned, turned_weights = rotate_page(image, weights, angle + skew)
    return turned, turned_weights, angle + skew, grid_period(turned, page_scale) or period


def estimate_geometry(image: np.ndarray, deskew_degrees: float, trace_map: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, PageGeometry]:
    """Deskew the image (and the trace map, whose grey grid lines are then emptied) and find the page's scale and
    layout."""
    weights = ink(image) if trace_map is None else trace_map
    angle = estimate_rotation(weights, deskew_degrees) if deskew_degrees > 0 else 0.0
    image, weights, angle, period = deskew_on_grid(image, weights, angle)
    px_per_mm, source = (period, "grid") if period is not None else (image.shape[1] / PAGE_MM[0], "page")
    baselines = find_rows(weights, px_per_mm)
    x_start, edges = find_trace_start(weights, baselines, px_per_mm)
    # Cross-check with the calibration pulses (1 mV = 10 mm): when their heights agree with each other but not with
    # the grid (a grid too faint, or its period mistaken), or when there was no grid at all, the pulses win.
    heights = [h for h in (pulse_height(weights, b, x_start, px_per_mm, edges) for b in baselines) if h]
    if len(heights) >= 2:
        pulse_scale = float(np.median(heights)) / MM_PER_MV
        consistent = (max(heights) - min(heights)) < 0.06 * np.median(heights)
        if source == "page" or (consistent and abs(pulse_scale / px_per_mm - 1) > 0.1):
            px_per_mm, source = pulse_scale, "pulse"
            baselines = find_rows(weights, px_per_mm)
            x_start, edges = find_trace_start(weights, baselines, px_per_mm)
    first_x = edges[1] + edges[2] + 1 if edges is not None else None  # past the falling stroke
    ticks = tick_offset(weights, baselines, x_start, px_per_mm)
    if ticks is not None:  # the ticks mark the data's start exactly; the pulse's falling edge only about
        x_start += ticks[0]
    geometry = PageGeometry(angle, px_per_mm, baselines, x_start, source, first_x,
                            tick_half=ticks[1] if ticks is not None else None,
                            tick_spans=tick_spans(weights, baselines, x_start, px_per_mm) if ticks else None,
                            pulse_fall=edges[1] if edges is not None else None)
    return image, without_grid_lines(weights), geometry
