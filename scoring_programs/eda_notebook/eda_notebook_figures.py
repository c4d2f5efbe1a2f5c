"""What a notebook plotted, checked against the hidden data: the figure record the notebook runner writes.

The runner's kernel hook records, for every figure that became an image, the SHA-256 of the image and what each
axes holds: bar rectangles (x, y, width, height) grouped as drawn, polygon outlines (step histograms) and pie
wedges. The participant's kernel writes that record, so nothing in it is believed as such: a figure counts only
when its image is one the notebook shows, and a plot counts only when its bars are the label counts of the hidden
data, or a histogram of one of its feature columns (recomputed here with the plotted bin edges).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from programlib import SubmissionError
from programlib.checks import is_finite_number, read_json

RECORD = ".figures.json"  # beside the executed notebook (ingestion_programs/script_runner/run_notebook.py)
MAX_FIGURES, MAX_AXES, MAX_GROUPS, MAX_RECTANGLES = 200, 64, 200, 5000
MAX_BYTES, MAX_CHECKED = 16 * 1024**2, 1000  # a record's size; bar groups compared with the data (time)
MIN_BINS, MIN_FILLED_BINS = 5, 3  # a histogram worth the name: a one-bar "histogram" of a guess shows nothing
COUNT_TOLERANCE = 0.02  # share of the plotted mass that may sit in another bin (a value on a bin edge, rounding)
RATIO_TOLERANCE = 0.01  # relative, for the two bars of the label distribution
TRANSFORMS = ("values", "log", "log10", "log1p", "standardised")  # what a participant may plot a feature as


@dataclass
class Axes:
    figure: int
    title: str
    groups: list[np.ndarray]  # each an (n, 4) array of rectangles: x, y, width, height
    wedges: list[float]  # fractions of the pie
    found: list[str] = field(default_factory=list)  # what the checks recognised, for the report


@dataclass
class Shown:
    """The figures of the record whose image the notebook shows, and those it does not."""
    axes: list[Axes]
    unshown: int
    recorded: int


# --- reading the record: every field checked, each error names it -----------------------------------

def _numbers(value, size: int, where: str) -> list[float]:
    if not isinstance(value, list) or len(value) != size:
        raise SubmissionError(f"{RECORD}: {where} is not a list of {size} numbers")
    if not all(item is None or is_finite_number(item) for item in value):
        raise SubmissionError(f"{RECORD}: {where} holds something that is not a finite number")
    return [math.nan if item is None else float(item) for item in value]


def _list(value, limit: int, where: str) -> list:
    if not isinstance(value, list):
        raise SubmissionError(f"{RECORD}: {where} is not a list")
    if len(value) > limit:
        raise SubmissionError(f"{RECORD}: {where} has {len(value)} entries (at most {limit})")
    return value


def _text(value, where: str) -> str:
    if value is not None and not isinstance(value, str):
        raise SubmissionError(f"{RECORD}: {where} is not text")
    return (value or "")[:200]


def _rectangles(group, where: str) -> np.ndarray:
    rows = [_numbers(item, 4, f"{where}[{i}]") for i, item in enumerate(_list(group, MAX_RECTANGLES, where))]
    return np.array(rows, dtype=float).reshape(-1, 4)


def _axes(raw, figure: int, where: str) -> Axes:
    if not isinstance(raw, dict):
        raise SubmissionError(f"{RECORD}: {where} is not an object")
    groups = [_rectangles(group, f"{where}.bars[{i}]")
              for i, group in enumerate(_list(raw.get("bars", []), MAX_GROUPS, f"{where}.bars"))]
    for i, polygon in enumerate(_list(raw.get("polygons", []), MAX_GROUPS, f"{where}.polygons")):
        points = [_numbers(p, 2, f"{where}.polygons[{i}][{j}]")
                  for j, p in enumerate(_list(polygon, MAX_RECTANGLES, f"{where}.polygons[{i}]"))]
        groups.append(step_rectangles(np.array(points, dtype=float).reshape(-1, 2)))
    wedges = [_numbers(w, 2, f"{where}.wedges[{i}]") for i, w in enumerate(_list(raw.get("wedges", []), MAX_GROUPS,
                                                                                   f"{where}.wedges"))]
    fractions = [(end - start) / 360.0 for start, end in wedges if math.isfinite(end - start)]
    return Axes(figure, _text(raw.get("title"), f"{where}.title"), groups, fractions)


def read_record(result_dir: Path, images: set[str]) -> Shown | None:
    """The recorded axes of the figures the notebook shows (`images`: SHA-256 of its images); None: no record."""
    path = result_dir / "submission" / RECORD
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_BYTES:
        raise SubmissionError(f"{RECORD}: {path.stat().st_size} bytes, more than a record of plots can hold "
                              f"({MAX_BYTES}); was it written by the notebook?")
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise SubmissionError(f"{RECORD}: not an object with a list of figures")
    axes, unshown = [], 0
    figures = _list(raw.get("figures"), MAX_FIGURES, "figures")
    for number, figure in enumerate(figures):
        if not isinstance(figure, dict):
            raise SubmissionError(f"{RECORD}: figures[{number}] is not an object")
        digest = figure.get("sha256")
        if digest is not None and not isinstance(digest, str):
            raise SubmissionError(f"{RECORD}: figures[{number}].sha256 is not text")
        recorded = [_axes(a, number, f"figures[{number}].axes[{i}]")
                    for i, a in enumerate(_list(figure.get("axes"), MAX_AXES, f"figures[{number}].axes"))]
        if digest in images:  # a figure saved to a file and never shown is no plot of the notebook
            axes.extend(recorded)
        else:
            unshown += 1
    return Shown(axes, unshown, len(figures))


def step_rectangles(points: np.ndarray) -> np.ndarray:
    """A step outline (hist(histtype="step"), a filled polygon) as the bars it draws: its horizontal segments,
    the top one where a filled outline comes back along the baseline, without a baseline that spans them all."""
    tops: dict[tuple[float, float], float] = {}
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        if y0 == y1 and x0 != x1 and math.isfinite(x0 + x1 + y0):
            key = (min(x0, x1), abs(x1 - x0))
            tops[key] = max(tops.get(key, y0), y0, key=abs)
    segments = [[left, 0.0, width, height] for (left, width), height in tops.items()]
    if len(segments) > 1:
        span = max(s[0] + s[2] for s in segments) - min(s[0] for s in segments)
        segments = [s for s in segments if not (s[3] == 0 and math.isclose(s[2], span))]
    return np.array(segments, dtype=float).reshape(-1, 4)


# --- recognising plots -----------------------------------------------------------------------------

def bins_of(group: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(edges, heights, widths) for each orientation in which the rectangles are contiguous bins."""
    found = []
    for position, size, value in ((0, 2, 3), (1, 3, 2)):  # vertical bars, then horizontal ones
        rows = group[np.argsort(group[:, position], kind="stable")]
        if len(rows) < MIN_BINS or not np.isfinite(rows).all() or (rows[:, size] <= 0).any():
            continue
        left, width = rows[:, position], rows[:, size]
        span = left[-1] + width[-1] - left[0]
        if np.allclose(left[:-1] + width[:-1], left[1:], rtol=0, atol=1e-6 * span):
            found.append((np.append(left, left[-1] + width[-1]), np.abs(rows[:, value]), width))
    return found


def heights_of(group: np.ndarray) -> list[np.ndarray]:
    """The bar values in either orientation (bar and barh): heights, then widths."""
    return [np.abs(group[:, 3]), np.abs(group[:, 2])]


def is_label_distribution(axes: Axes, counts: tuple[int, int]) -> bool:
    """Two bars (or pie wedges) in the proportion of the hidden label's classes: counts, shares or percentages."""
    ratio = max(counts) / max(1, min(counts))
    candidates = [v[np.isfinite(v) & (v > 0)] for group in axes.groups for v in heights_of(group)]
    candidates.append(np.array([w for w in axes.wedges if w > 0]))
    return any(len(v) == 2 and math.isclose(v.max() / v.min(), ratio, rel_tol=RATIO_TOLERANCE)
               for v in candidates)


def transformed(values: np.ndarray, how: str) -> np.ndarray:
    if how == "values":
        return values
    if how == "standardised":
        spread = values.std(ddof=1) if len(values) > 1 else 0.0
        return (values - values.mean()) / spread if spread > 0 else values[:0]
    with np.errstate(divide="ignore", invalid="ignore"):
        result = {"log": np.log, "log10": np.log10, "log1p": np.log1p}[how](values)
    return result[np.isfinite(result)]


def histogram(data: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram(data, edges) of sorted data (the last bin holds its right edge), by binary search."""
    left = np.searchsorted(data, edges, side="left")
    counts = np.diff(left).astype(float)
    counts[-1] += np.searchsorted(data, edges[-1], side="right") - left[-1]
    return counts


def same_histogram(edges: np.ndarray, heights: np.ndarray, widths: np.ndarray, data: np.ndarray) -> bool:
    """The plotted bars are the histogram of `data` (sorted) on these edges: as counts, or scaled (shares,
    density). Bins that leave out most of the data (another column's range) are rejected first, cheaply."""
    inside = np.searchsorted(data, edges[-1], side="right") - np.searchsorted(data, edges[0], side="left")
    if not (np.diff(edges) > 0).all() or 2 * inside < data.size or data.size == 0:
        return False
    counts = histogram(data, edges)
    if (counts > 0).sum() < MIN_FILLED_BINS:
        return False
    for plotted in (heights, heights * widths):  # density=True divides by the bin width
        scaled = counts * (plotted.sum() / counts.sum())
        if plotted.sum() > 0 and np.abs(plotted - scaled).sum() <= COUNT_TOLERANCE * plotted.sum():
            return True
    return False


def histogram_of(group: np.ndarray, columns: dict[str, dict[str, np.ndarray]]) -> str | None:
    """The feature column (whole, or one class of the label) whose histogram these bars are, or None."""
    for edges, heights, widths in bins_of(group):
        for name, variants in columns.items():
            for variant, values in variants.items():
                if same_histogram(edges, heights, widths, values):
                    return f"{name} ({variant})"
    return None


def column_variants(columns: dict[str, list], label: str) -> dict[str, dict[str, np.ndarray]]:
    """What a histogram of each feature may show: its values without NaN, for all rows or the rows of one class
    (a histogram split by label), as they are or transformed (a log scale of the data, standardised)."""
    classes = np.array([math.nan if v is None else v for v in columns[label]], dtype=float)
    variants = {}
    for name, raw in columns.items():
        if name == label:
            continue
        values = np.array([math.nan if v is None else v for v in raw], dtype=float)
        rows = {"all rows": np.isfinite(values)}
        rows.update({f"{label} = {c}": (classes == c) & np.isfinite(values) for c in (0, 1)})
        variants[name] = {(subset if how == "values" else f"{subset}, {how}"): np.sort(transformed(values[chosen], how))
                          for how in TRANSFORMS for subset, chosen in rows.items()}
    return variants


def recognise(shown: Shown, columns: dict[str, list], label: str) -> tuple[bool, list[str]]:
    """Whether a shown figure plots the label distribution, and the feature columns shown as histograms."""
    variants = column_variants(columns, label)
    classes = [v for v in columns[label] if v is not None]
    counts = (sum(1 for v in classes if v == 0), sum(1 for v in classes if v == 1))
    label_plot, features, budget = False, [], MAX_CHECKED
    for axes in shown.axes:
        if is_label_distribution(axes, counts):
            label_plot = True
            axes.found.append("the label distribution")
        for group in axes.groups[:max(budget, 0)]:
            budget -= 1
            found = histogram_of(group, variants)
            if found:
                axes.found.append(f"a histogram of {found}")
                name = found.split(" (")[0]
                features += [] if name in features else [name]
    return label_plot, features
