"""Printing a record the way ECG-Image-Kit does: a letter page with the standard 3×4 + lead II rhythm layout.

25 mm/s and 10 mm/mV on a 1 mm / 5 mm grid; a 1 mV × 0.2 s calibration pulse at the start of every row; column k
shows seconds [2.5k, 2.5(k+1)); rows top to bottom `I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6 / II (10 s)`; lead
labels, separator ticks between columns, a printed header. Tall complexes cross into the next row, as on paper.

Besides the image it returns the training labels of the framework paper (Rahimi et al. 2025): a trace mask (pixel
value = lead code), YOLO boxes for lead regions (class 0) and lead names (classes 1-12), and the calibration.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .signals import LEADS

PAGE_MM = (279.4, 215.9)  # US letter, landscape
MM_PER_SECOND, MM_PER_MV = 25.0, 10.0
COLUMN_SECONDS = 2.5
ROWS = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"), ("II",))
RHYTHM_CODE = 13  # mask code of the lead II rhythm strip; leads are 1 (I) ... 12 (V6)
GRID_COLOURS = {  # (minor, major) lines on white paper
    "red": ((250, 200, 200), (235, 120, 120)), "pink": ((252, 215, 230), (240, 150, 185)),
    "brown": ((235, 215, 195), (190, 140, 100)), "blue": ((205, 220, 245), (120, 150, 215)),
    "green": ((205, 235, 210), (110, 180, 125)), "bw": ((220, 220, 220), (150, 150, 150)),
}


@dataclass
class Page:
    dpi: float
    grid: str = "red"  # a GRID_COLOURS key, or "none" (black and white print without grid)
    top_mm: float = 52.0
    row_mm: float = 36.0
    left_mm: float = 10.0
    header: bool = True
    trace_mm: float = 0.3
    ink: tuple = (15, 15, 20)

    @property
    def px_per_mm(self) -> float:
        return self.dpi / 25.4

    @property
    def size(self) -> tuple[int, int]:
        return int(round(PAGE_MM[0] * self.px_per_mm)), int(round(PAGE_MM[1] * self.px_per_mm))

    @property
    def trace_start_mm(self) -> float:
        return self.left_mm + 8.0  # after the calibration pulse


def random_page(dpi: float, rng: np.random.Generator, grid: str | None = None) -> Page:
    return Page(dpi=dpi, grid=grid or str(rng.choice(["red", "red", "pink", "brown", "blue", "green", "bw"])),
                top_mm=float(rng.uniform(46, 58)), row_mm=float(rng.uniform(34.5, 37.5)),
                left_mm=float(rng.uniform(7, 13)), header=bool(rng.random() < 0.85),
                trace_mm=float(rng.uniform(0.15, 0.3)))


@dataclass
class Printed:
    image: np.ndarray  # H × W × 3 uint8
    mask: np.ndarray  # H × W uint8: 0 background, 1..12 the leads' 2.5-s segments, 13 the rhythm strip
    boxes: list = field(default_factory=list)  # (class, x0, y0, x1, y1) in pixels
    calibration: dict = field(default_factory=dict)


def font(size_px: float) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, int(round(size_px))))


def draw_grid(pen: ImageDraw.ImageDraw, page: Page) -> None:
    if page.grid == "none":
        return
    minor, major = GRID_COLOURS[page.grid]
    width, height = page.size
    scale = page.px_per_mm
    thin, thick = 1, max(1, int(round(0.2 * scale)))
    for kind, colour, step in (("minor", minor, 1), ("major", major, 5)):
        if kind == "minor" and scale < 2.5:
            continue  # at low resolution the minor grid would be a solid tint
        for mm in np.arange(0, PAGE_MM[0] + 1e-9, step):
            x = mm * scale
            pen.line([(x, 0), (x, height)], fill=colour, width=thin if kind == "minor" else thick)
        for mm in np.arange(0, PAGE_MM[1] + 1e-9, step):
            y = mm * scale
            pen.line([(0, y), (width, y)], fill=colour, width=thin if kind == "minor" else thick)


def draw_header(pen: ImageDraw.ImageDraw, page: Page, rng: np.random.Generator, fs: int) -> None:
    scale = page.px_per_mm
    text = font(3.2 * scale)
    record = "".join(rng.choice(list("0123456789"), 8))
    lines = [f"ID: {record}    Date: 20{rng.integers(10, 26):02d}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
             f"  {rng.integers(7, 19):02d}:{rng.integers(0, 60):02d}",
             f"Age: {rng.integers(18, 95)}    Sex: {rng.choice(['F', 'M'])}    Vent. rate: {rng.integers(45, 130)} bpm",
             f"{MM_PER_SECOND:g} mm/s   {MM_PER_MV:g} mm/mV   0.05-150 Hz   {fs} Hz"]
    for i, line in enumerate(lines):
        pen.text((page.left_mm * scale, (8 + 5 * i) * scale), line, fill=page.ink, font=text)


def print_record(record: dict[str, np.ndarray], fs: int, page: Page, rng: np.random.Generator) -> Printed:
    """Render the record; return the image and its labels (all in pixels of the clean page)."""
    width, height = page.size
    scale = page.px_per_mm
    image = Image.new("RGB", (width, height), (255, 255, 255))
    mask = Image.new("L", (width, height), 0)
    pen, mask_pen = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    draw_grid(pen, page)
    if page.header:
        draw_header(pen, page, rng, fs)
    # An odd width: PIL draws an even-width line half a pixel off its path, which bends steep edges.
    line_width = max(1, 2 * int(round((page.trace_mm * scale - 1) / 2)) + 1)
    label_font = font(3.5 * scale)
    x_start = page.trace_start_mm * scale
    px_per_second, px_per_mv = MM_PER_SECOND * scale, MM_PER_MV * scale
    n = len(record["II"])
    boxes, calibration = [], {"px_per_mm": scale, "mm_per_second": MM_PER_SECOND, "mm_per_mv": MM_PER_MV,
                              "px_per_second": px_per_second, "px_per_mv": px_per_mv, "fs": fs, "leads": []}
    for row, leads in enumerate(ROWS):
        baseline = (page.top_mm + row * page.row_mm) * scale
        # The calibration pulse: 1 mV high, 0.2 s wide, between short flat lines.
        left = page.left_mm * scale
        pulse = [(left, baseline), (left + 1.5 * scale, baseline), (left + 1.5 * scale, baseline - px_per_mv),
                 (left + 6.5 * scale, baseline - px_per_mv), (left + 6.5 * scale, baseline), (left + 8 * scale, baseline)]
        pen.line(pulse, fill=page.ink, width=line_width, joint="curve")
        for column, lead in enumerate(leads):
            rhythm = len(leads) == 1
            t_start, t_end = (0.0, 10.0) if rhythm else (COLUMN_SECONDS * column, COLUMN_SECONDS * (column + 1))
            first, last = int(round(t_start * fs)), min(n, int(round(t_end * fs)))
            samples = np.arange(first, last)
            xs = x_start + samples / fs * px_per_second
            ys = baseline - record[lead][first:last] * px_per_mv
            points = list(zip(xs.tolist(), ys.tolist()))
            code = RHYTHM_CODE if rhythm else LEADS.index(lead) + 1
            pen.line(points, fill=page.ink, width=line_width, joint="curve")
            mask_pen.line(points, fill=code, width=line_width)
            if column > 0:  # the separator tick between two columns
                tick_x = x_start + t_start * px_per_second
                pen.line([(tick_x, baseline - 2.5 * scale), (tick_x, baseline + 2.5 * scale)], fill=page.ink,
                         width=line_width)
            label_xy = (x_start + t_start * px_per_second + 1.0 * scale, baseline + 7.0 * scale - 3.5 * scale)
            pen.text(label_xy, lead, fill=page.ink, font=label_font)
            boxes.append((LEADS.index(lead) + 1,) + tuple(pen.textbbox(label_xy, lead, font=label_font)))
            pad = line_width
            boxes.append((0, float(xs.min()) - pad, float(ys.min()) - pad, float(xs.max()) + pad, float(ys.max()) + pad))
            calibration["leads"].append({"lead": lead, "rhythm": rhythm, "code": code, "baseline_y": baseline,
                                         "x0": x_start + t_start * px_per_second, "t_start": t_start, "t_end": t_end})
    return Printed(np.asarray(image).copy(), np.asarray(mask).copy(), boxes, calibration)
