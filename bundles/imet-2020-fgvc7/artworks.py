"""Procedurally drawn "artworks" whose attributes can be seen, for the synthetic iMet data.

Each attribute group drives something a CNN can learn:
  culture    (exactly one)  the palette: background hue, gradient style, the colours of the motifs
  country    (zero or one)  the frame: its colour and width (mostly the culture's home country)
  medium     (one or two)   a texture over the background: stripes, dots, grain, hatching or waves
  tags       (zero to five) drawn motifs: a shape, a size and a colour per tag
  dimension  (exactly one)  how much of the picture the artwork fills, on a grey museum wall
Frequencies are long-tailed (Zipf) within each group, and labels carry some noise, as in the real set.
"""
from __future__ import annotations

import colorsys
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# The real label space, in labels.csv order (groups alphabetical, as attribute ids are assigned).
GROUPS = ("country", "culture", "dimension", "medium", "tags")
REAL_COUNTS = {"country": 100, "culture": 681, "dimension": 5, "medium": 1920, "tags": 768}
DIMENSIONS = ("large", "medium", "small", "tiny", "very large")
DIMENSION_FILL = {"very large": 0.96, "large": 0.82, "medium": 0.68, "small": 0.54, "tiny": 0.40}
DIMENSION_WEIGHTS = {"large": 0.22, "medium": 0.38, "small": 0.25, "tiny": 0.08, "very large": 0.07}
SHAPES = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "hexagon")
TEXTURES = ("stripes", "dots", "grain", "hatching", "waves")
SYLLABLES = ("ka", "lo", "mi", "ran", "te", "su", "vo", "ne", "di", "sha", "pe", "lu", "ro", "zan", "bi", "or",
             "el", "tu", "fa", "gor", "qui", "ym", "ath", "ben")


@dataclass(frozen=True)
class LabelSpace:
    counts: dict[str, int]

    @property
    def offsets(self) -> dict[str, int]:
        offsets, start = {}, 0
        for group in GROUPS:
            offsets[group] = start
            start += self.counts[group]
        return offsets

    @property
    def size(self) -> int:
        return sum(self.counts.values())

    def names(self, rng: np.random.Generator) -> list[str]:
        """attribute_name for every id: '<group>::<name>', unique, sorted within each group like the real file."""
        names = []
        for group in GROUPS:
            if group == "dimension":
                words = list(DIMENSIONS)
            else:
                words = set()
                while len(words) < self.counts[group]:
                    parts = rng.choice(SYLLABLES, size=rng.integers(2, 4))
                    words.add("".join(parts))
                words = sorted(words)
            names += [f"{group}::{word}" for word in words]
        return names


def zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.permutation(weights / weights.sum())  # frequent ids are scattered, not the first ones


@dataclass
class Style:
    """Every visual parameter of every attribute, drawn once from the seed."""
    culture_hue: np.ndarray
    culture_gradient: np.ndarray
    culture_home: np.ndarray
    country_colour: np.ndarray
    country_width: np.ndarray
    medium_texture: np.ndarray
    medium_angle: np.ndarray
    medium_spacing: np.ndarray
    tag_shape: np.ndarray
    tag_size: np.ndarray
    tag_hue: np.ndarray


def make_style(space: LabelSpace, rng: np.random.Generator) -> Style:
    c = space.counts
    return Style(
        culture_hue=rng.random(c["culture"]),
        culture_gradient=rng.integers(0, 4, c["culture"]),
        culture_home=rng.integers(0, c["country"], c["culture"]),
        country_colour=rng.integers(30, 230, (c["country"], 3)),
        country_width=rng.uniform(0.02, 0.08, c["country"]),
        medium_texture=rng.integers(0, len(TEXTURES), c["medium"]),
        medium_angle=rng.uniform(0, np.pi, c["medium"]),
        medium_spacing=rng.uniform(0.05, 0.16, c["medium"]),
        tag_shape=rng.integers(0, len(SHAPES), c["tags"]),
        tag_size=rng.choice([0.12, 0.2, 0.3], c["tags"]),
        tag_hue=rng.random(c["tags"]),
    )


@dataclass
class Sampler:
    space: LabelSpace
    style: Style
    weights: dict[str, np.ndarray]

    @classmethod
    def create(cls, space: LabelSpace, rng: np.random.Generator) -> "Sampler":
        weights = {group: zipf_weights(space.counts[group], 1.05, rng) for group in ("culture", "medium", "tags")}
        weights["dimension"] = np.array([DIMENSION_WEIGHTS[d] for d in DIMENSIONS])
        return cls(space, make_style(space, rng), weights)

    def attributes(self, rng: np.random.Generator) -> dict[str, list[int]]:
        """Group → local attribute indexes of one artwork (what is drawn)."""
        pick = lambda group, k: sorted(rng.choice(self.space.counts[group], size=k, replace=False,  # noqa: E731
                                                  p=self.weights[group]).tolist())
        culture = pick("culture", 1)
        home = int(self.style.culture_home[culture[0]])
        country = [] if rng.random() < 0.3 else [home if rng.random() < 0.85 else int(rng.integers(self.space.counts["country"]))]
        mediums = pick("medium", 1 if rng.random() < 0.7 else min(2, self.space.counts["medium"]))
        tags = pick("tags", min(int(rng.choice([0, 1, 2, 3, 4, 5], p=[0.1, 0.3, 0.25, 0.17, 0.1, 0.08])),
                               self.space.counts["tags"]))
        return {"country": country, "culture": culture, "dimension": pick("dimension", 1), "medium": mediums, "tags": tags}

    def label_ids(self, attributes: dict[str, list[int]], rng: np.random.Generator, noise: bool = True) -> list[int]:
        """The attribute ids of labels.csv, with annotation noise: a few labels lost, a few spurious ones."""
        offsets = self.space.offsets
        ids = [offsets[g] + i for g in GROUPS for i in attributes[g]]
        if noise:
            ids = [i for i in ids if rng.random() > 0.03] or ids[:1]
            if rng.random() < 0.05:
                ids.append(int(rng.integers(self.space.size)))
        return sorted(set(ids))

    def draw(self, attributes: dict[str, list[int]], size: int, rng: np.random.Generator) -> Image.Image:
        s = self.style
        culture = attributes["culture"][0]
        hue = s.culture_hue[culture]
        wall = np.full((size, size, 3), 128 + rng.integers(-12, 12), dtype=np.float32)
        fill = DIMENSION_FILL[DIMENSIONS[attributes["dimension"][0]]]
        side = max(8, int(round(size * fill * rng.uniform(0.95, 1.0))))
        canvas = background(side, hue, int(s.culture_gradient[culture]), rng)
        for medium in attributes["medium"]:
            canvas = texture(canvas, int(s.medium_texture[medium]), s.medium_angle[medium], s.medium_spacing[medium], rng)
        image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
        pen = ImageDraw.Draw(image)
        for tag in attributes["tags"]:
            colour = hsv(s.tag_hue[tag], 0.85, 0.95 if (s.tag_hue[tag] - hue) % 1 > 0.2 else 0.35)
            for _ in range(int(rng.integers(1, 3))):
                radius = s.tag_size[tag] * side / 2 * rng.uniform(0.85, 1.15)
                centre = rng.uniform(radius, side - radius, 2)
                motif(pen, SHAPES[int(s.tag_shape[tag])], centre, radius, colour, rng.uniform(0, np.pi))
        if attributes["country"]:
            country = attributes["country"][0]
            width = max(1, int(round(s.country_width[country] * side)))
            pen.rectangle([0, 0, side - 1, side - 1], outline=tuple(int(v) for v in s.country_colour[country]),
                          width=width)
        offset = rng.integers(0, size - side + 1, 2)
        wall[offset[1]:offset[1] + side, offset[0]:offset[0] + side] = np.asarray(image, dtype=np.float32)
        wall += rng.normal(0, 3, wall.shape)  # a photograph's sensor noise
        return Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8))


def hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def background(side: int, hue: float, gradient: int, rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:side, 0:side] / max(side - 1, 1)
    ramp = [x, y, np.hypot(x - 0.5, y - 0.5) * 1.4, np.zeros_like(x)][gradient]
    start = np.array(hsv(hue, 0.55, 0.9), dtype=np.float32)
    end = np.array(hsv(hue + 0.08, 0.75, 0.45), dtype=np.float32)
    return start + (end - start) * ramp[..., None] * rng.uniform(0.8, 1.0)


def texture(canvas: np.ndarray, kind: int, angle: float, spacing: float, rng: np.random.Generator) -> np.ndarray:
    side = canvas.shape[0]
    y, x = np.mgrid[0:side, 0:side] / side
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    name = TEXTURES[kind]
    if name == "stripes":
        pattern = (np.sin(2 * np.pi * u / spacing) > 0.3).astype(np.float32)
    elif name == "dots":
        pattern = ((np.sin(np.pi * u / spacing) ** 2 * np.sin(np.pi * v / spacing) ** 2) > 0.6).astype(np.float32)
    elif name == "grain":
        pattern = (rng.random((side, side)) < spacing * 2.5).astype(np.float32)
    elif name == "hatching":
        pattern = ((np.abs(np.sin(2 * np.pi * u / spacing)) > 0.92) | (np.abs(np.sin(2 * np.pi * v / spacing)) > 0.92)).astype(np.float32)
    else:  # waves
        pattern = (np.sin(2 * np.pi * (u + 0.04 * np.sin(2 * np.pi * v / (spacing * 3))) / spacing) > 0.6).astype(np.float32)
    shade = 70.0 if canvas.mean() < 128 else -70.0
    return canvas + shade * pattern[..., None]


def motif(pen: ImageDraw.ImageDraw, shape: str, centre, radius: float, colour, angle: float) -> None:
    cx, cy = centre
    if shape in ("circle", "ring"):
        box = [cx - radius, cy - radius, cx + radius, cy + radius]
        if shape == "circle":
            pen.ellipse(box, fill=colour)
        else:
            pen.ellipse(box, outline=colour, width=max(1, int(radius / 3)))
        return
    if shape == "cross":
        w = radius / 3
        pen.rectangle([cx - radius, cy - w, cx + radius, cy + w], fill=colour)
        pen.rectangle([cx - w, cy - radius, cx + w, cy + radius], fill=colour)
        return
    corners = {"square": 4, "triangle": 3, "diamond": 4, "hexagon": 6, "star": 10}[shape]
    turn = angle + (np.pi / 4 if shape == "square" else 0)
    points = []
    for k in range(corners):
        r = radius * (0.45 if shape == "star" and k % 2 else 1.0) * (0.6 if shape == "diamond" and k % 2 else 1.0)
        theta = turn + 2 * np.pi * k / corners
        points.append((cx + r * np.cos(theta), cy + r * np.sin(theta)))
    pen.polygon(points, fill=colour)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
