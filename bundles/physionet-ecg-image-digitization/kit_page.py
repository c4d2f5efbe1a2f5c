"""A page drawn the way ECG-Image-Kit draws it (the renderer of the real competition's images), reimplemented from
its documented behaviour and measurements of its output.

A letter page of exactly 11 × 8.5 in at the given dpi (2200 × 1700 at 200 dpi, 1100 × 850 at 100), 25 mm/s and 10
mm/mV. The grid: vertical lines every mm from the left edge, horizontal lines every mm up from the bottom edge, 1 px
wide at 200 dpi (lighter at lower dpi); majors (every 5 mm) pure red, minors pink; the horizontal minors are drawn
over the vertical majors. Rows' baselines at 90.0 / 125.9 / 161.9 / 194.9 mm from the top (80 mm of empty grid above
row I's pulse); each row starts with a 1 mV calibration pulse, 1.5 × the trace width, drawn as ECG-Image-Kit draws
it: 0.2 s + 4 samples of 0, 0, 1, ..., 1, 0, 0 from 10 mm, so it rises over its second sample and falls 1-2 samples
after the data's start at 15 mm (15 ms late at 100 Hz). Traces 0.75 pt wide, anti-aliased, in one grey of 0-51; a
separator tick, 3 × the trace width, at each column's start (±1.75 mm at 100 dpi, ±3.4 mm at 200), snapped to a
pixel's centre as matplotlib snaps straight lines; labels in DejaVu Sans 11 pt 4-7 mm below the baseline; a footer
"25mm/s" / "10mm/mV" 16 mm below the rhythm strip; a black 1-px frame; no header.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .layout import COLUMN_SECONDS, MM_PER_MV, MM_PER_SECOND, RHYTHM_CODE, ROWS, Printed
from .signals import LEADS

PAGE_INCHES = (11.0, 8.5)
ROW_BASELINES_MM = (90.0, 125.9, 161.9, 194.9)
PULSE_MM = (10.0, 15.0)  # where the pulse starts, and where the data starts (0.2 s later)
MAJOR, MINOR = (255, 0, 0), (254, 223, 219)
TRACE_POINTS = 0.75  # line width
LABEL_POINTS = 11.0
LABEL_BASELINE_MM = 7.0  # the labels' text baseline below the row's baseline (their top is about 4 mm below it)
TICK_HALF_MM = 1.75  # at 100 dpi; ECG-Image-Kit's tick grows with the dpi squared (3.4 mm at 200 dpi)
FOOTER_MM, FOOTER_X_MM = 16.0, (50.0, 100.0)
SUPERSAMPLE = 4  # anti-aliasing of the traces


def page_size(dpi: float) -> tuple[int, int]:
    return int(round(PAGE_INCHES[0] * dpi)), int(round(PAGE_INCHES[1] * dpi))


def label_font(dpi: float) -> ImageFont.ImageFont:
    size = LABEL_POINTS * dpi / 72
    try:
        import matplotlib
        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size=max(6.0, size))


def grid_coverage(dpi: float) -> tuple[float, float]:
    """How much of a 1-px-at-200-dpi grid line's colour its own pixel row and each neighbour get."""
    return min(1.0, 0.7 * dpi / 100), float(np.clip(0.2 * (dpi - 100) / 100, 0.0, 0.2))


def grid_lines(length_px: int, px_per_mm: float, from_end: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pixel indices of the major and the minor lines along one axis (from the far edge when `from_end`)."""
    steps = np.arange(int(length_px / px_per_mm) + 1)
    positions = np.round(steps * px_per_mm if not from_end else length_px - steps * px_per_mm).astype(int)
    keep = (positions >= 0) & (positions < length_px)
    major = steps % 5 == 0
    return positions[keep & major], positions[keep & ~major]


def draw_grid(image: np.ndarray, dpi: float) -> None:
    """In place on a float H × W × 3 page, in matplotlib's order: the vertical lines (majors, then minors), then the
    horizontal ones (majors, then minors): a vertical major is broken by the horizontal minors, a horizontal one is
    not broken by the vertical minors."""
    height, width = image.shape[:2]
    px_per_mm = dpi / 25.4
    centre, side = grid_coverage(dpi)
    for axis, length in ((1, width), (0, height)):
        lines = grid_lines(length, px_per_mm, from_end=axis == 0)
        for kind, colour in ((0, MAJOR), (1, MINOR)):
            colour = np.array(colour, dtype=np.float32)
            for offset, cover in ((-1, side), (1, side), (0, centre)):
                if cover > 0:
                    at = np.clip(lines[kind] + offset, 0, length - 1)
                    index = (slice(None), at) if axis == 1 else (at, slice(None))
                    image[index] += (colour - image[index]) * cover


def segments(record: dict[str, np.ndarray], fs: int, px_per_mm: float):
    """(row, column, lead, rhythm, t_start, t_end, xs, ys) of every plotted segment, in pixels."""
    n = len(record["II"])
    x_start = PULSE_MM[1] * px_per_mm
    for row, leads in enumerate(ROWS):
        baseline = ROW_BASELINES_MM[row] * px_per_mm
        for column, lead in enumerate(leads):
            rhythm = len(leads) == 1
            t_start, t_end = (0.0, 10.0) if rhythm else (COLUMN_SECONDS * column, COLUMN_SECONDS * (column + 1))
            samples = np.arange(int(round(t_start * fs)), min(n, int(round(t_end * fs))))
            xs = x_start + samples / fs * MM_PER_SECOND * px_per_mm
            ys = baseline - record[lead][samples] * MM_PER_MV * px_per_mm
            yield row, column, lead, rhythm, t_start, t_end, xs, ys


def pulse_points(fs: int, px_per_mm: float, baseline_mm: float) -> list[tuple[float, float]]:
    """ECG-Image-Kit's calibration pulse: the values 0, 0, 1, ..., 1, 0, 0 (0.2 s + 4 samples) one sample apart
    from PULSE_MM[0]."""
    count = int(round(0.2 * fs)) + 4
    values = np.concatenate([[0, 0], np.ones(count - 4), [0, 0]])
    xs = (PULSE_MM[0] + np.arange(count) * MM_PER_SECOND / fs) * px_per_mm
    ys = (baseline_mm - values * MM_PER_MV) * px_per_mm
    return list(zip(xs.tolist(), ys.tolist()))


def ink_coverage(size: tuple[int, int], strokes: list[tuple[list, float]]) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of polylines (points in pixels, width in pixels), drawn supersampled."""
    big = Image.new("L", (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE), 0)
    pen = ImageDraw.Draw(big)
    for points, width in strokes:
        scaled = [(x * SUPERSAMPLE - 1, y * SUPERSAMPLE - 1) for x, y in points]  # PIL centres a wide line 1 px late
        pen.line(scaled, fill=255, width=max(1, int(round(width * SUPERSAMPLE))), joint="curve")
    return np.asarray(big.reduce(SUPERSAMPLE), dtype=np.float32) / 255


def strokes_and_labels(record, fs, dpi, mask_pen, pen, font) -> tuple[list, list, dict]:
    """Pulses, traces and ticks as strokes; the labels drawn with `pen`; the mask with `mask_pen`."""
    px_per_mm = dpi / 25.4
    trace = TRACE_POINTS * dpi / 72
    strokes, boxes = [], []
    calibration = {"px_per_mm": px_per_mm, "mm_per_second": MM_PER_SECOND, "mm_per_mv": MM_PER_MV,
                   "px_per_second": MM_PER_SECOND * px_per_mm, "px_per_mv": MM_PER_MV * px_per_mm, "fs": fs,
                   "leads": []}
    for baseline_mm in ROW_BASELINES_MM:
        strokes.append((pulse_points(fs, px_per_mm, baseline_mm), 1.5 * trace))
    for row, column, lead, rhythm, t_start, t_end, xs, ys in segments(record, fs, px_per_mm):
        points = list(zip(xs.tolist(), ys.tolist()))
        code = RHYTHM_CODE if rhythm else LEADS.index(lead) + 1
        strokes.append((points, trace))
        mask_pen.line(points, fill=code, width=max(1, int(round(trace))))
        baseline = ROW_BASELINES_MM[row] * px_per_mm
        if column > 0:
            tick, tick_x = TICK_HALF_MM * dpi / 100 * px_per_mm, np.floor(xs[0]) + 0.5
            strokes.append(([(tick_x, baseline - tick), (tick_x, baseline + tick)], 3 * trace))
        label_xy = (float(xs[0]), baseline + LABEL_BASELINE_MM * px_per_mm)
        pen.text(label_xy, lead, fill=(0, 0, 0), font=font, anchor="ls")
        boxes.append((LEADS.index(lead) + 1,) + tuple(pen.textbbox(label_xy, lead, font=font, anchor="ls")))
        boxes.append((0, float(xs.min()) - trace, float(ys.min()) - trace, float(xs.max()) + trace,
                      float(ys.max()) + trace))
        calibration["leads"].append({"lead": lead, "rhythm": rhythm, "code": code, "baseline_y": baseline,
                                     "x0": float(xs[0]), "t_start": t_start, "t_end": t_end})
    return strokes, boxes, calibration


def print_kit(record: dict[str, np.ndarray], fs: int, dpi: float, rng: np.random.Generator) -> Printed:
    """Render the record as ECG-Image-Kit does; the image and its labels (pixels of the clean page)."""
    size = page_size(dpi)
    paper = np.full((size[1], size[0], 3), 255.0, dtype=np.float32)
    draw_grid(paper, dpi)
    ink = float(rng.integers(0, 52))
    text_layer = Image.fromarray(np.round(paper).astype(np.uint8))
    mask = Image.new("L", size, 0)
    font = label_font(dpi)
    strokes, boxes, calibration = strokes_and_labels(record, fs, dpi, ImageDraw.Draw(mask),
                                                     ImageDraw.Draw(text_layer), font)
    pen = ImageDraw.Draw(text_layer)
    px_per_mm = dpi / 25.4
    footer_y = (ROW_BASELINES_MM[-1] + FOOTER_MM) * px_per_mm
    for text, x_mm in zip((f"{MM_PER_SECOND:g}mm/s", f"{MM_PER_MV:g}mm/mV"), FOOTER_X_MM):
        pen.text((x_mm * px_per_mm, footer_y), text, fill=(0, 0, 0), font=font, anchor="ls")
    image = np.asarray(text_layer, dtype=np.float32)
    alpha = ink_coverage(size, strokes)[..., None]
    image = image * (1 - alpha) + ink * alpha
    frame_shade = 1 - 0.11 * min(1.0, dpi / 200)  # the frame's anti-aliased inner edge
    image[[1, -2], :] *= frame_shade
    image[:, [1, -2]] *= frame_shade
    image[[0, -1], :] = 0  # the axes' frame
    image[:, [0, -1]] = 0
    return Printed(np.round(image).astype(np.uint8), np.asarray(mask).copy(), boxes, calibration)
