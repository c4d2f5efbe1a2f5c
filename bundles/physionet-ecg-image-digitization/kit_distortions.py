"""ECG-Image-Kit's distortion family, reimplemented from its documentation and measurements of its output.

`--wrinkles`: a paper texture whose dark shadows cover much of the page, and creases (evenly spaced blurred lines,
up to 10 in each of two perpendicular directions at a random angle). `--augment` (rotation up to ±5°, noise, crop,
colour temperature), in its order: a rotation by a whole number of degrees about the centre with black corner
wedges, grey Gaussian noise (σ 18-33), a crop of up to 1 % per side resized back to the page, then a colour
temperature: warm (2000-4000 K, an orange cast) or cold (10000-20000 K, a blue cast).
"""
from __future__ import annotations

import numpy as np

from .distortions import Sheet, rotation, smooth_field, warp

KIT_TYPES = {"0101": "ECG-Image-Kit render", "0102": "ECG-Image-Kit render with wrinkles, creases and augmentation"}
MAX_ROTATION = 5  # degrees
NOISE_SIGMA = (18.0, 33.0)
MAX_CROP = 0.01  # of each side
MAX_CREASES = 10  # per direction


def kelvin_rgb(kelvin: float) -> np.ndarray:
    """The colour of a black body at `kelvin` (Tanner Helland's fit), as channel gains in [0, 1]."""
    t = kelvin / 100
    if t <= 66:
        red, green = 255.0, 99.4708025861 * np.log(t) - 161.1195681661
    else:
        red, green = 329.698727446 * (t - 60) ** -0.1332047592, 288.1221695283 * (t - 60) ** -0.0755148492
    blue = 255.0 if t >= 66 else 0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307
    return np.clip(np.array([red, green, blue], dtype=np.float32), 0, 255) / 255


def facets(shape, rng: np.random.Generator, knots: int) -> np.ndarray:
    """Crumpled paper's streaks: piecewise-linear shading across a random direction, in [0, 1]."""
    height, width = shape
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    across = x * np.cos(angle) + y * np.sin(angle)
    across = (across - across.min()) / max(1e-6, float(np.ptp(across))) * (knots - 1)
    return np.interp(across, np.arange(knots), rng.random(knots)).astype(np.float32)


def wrinkle_shadows(sheet: Sheet, rng: np.random.Generator) -> Sheet:
    """A crumpled paper's texture: large soft-edged shadows, streaks and fine wrinkles, multiplied into the page."""
    shape = sheet.image.shape[:2]
    base = (0.55 * smooth_field(shape, rng, 4) + 0.3 * smooth_field(shape, rng, 9)
            + 0.15 * smooth_field(shape, rng, 25))
    shadow = 1 / (1 + np.exp(-(base - rng.uniform(0.4, 0.6)) / 0.04))
    streaks = facets(shape, rng, int(rng.integers(12, 30)))
    ridges = np.abs(np.sin(smooth_field(shape, rng, 40) * np.pi * rng.uniform(3, 6)))
    shade = 1 - rng.uniform(0.2, 0.45) * shadow - rng.uniform(0.05, 0.2) * streaks - 0.06 * (1 - ridges)
    return Sheet(sheet.image * shade[..., None], sheet.mask, sheet.homography)


def crease_lines(sheet: Sheet, rng: np.random.Generator) -> Sheet:
    """Folds: evenly spaced blurred bright lines with a faint shadow, in two perpendicular families."""
    height, width = sheet.image.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = np.deg2rad(rng.integers(0, 91))
    sigma = max(1.0, 1.2 * width / 1100)
    image = sheet.image.copy()
    for direction in (angle, angle + np.pi / 2):
        count = int(rng.integers(1, MAX_CREASES + 1))
        across = x * np.cos(direction) + y * np.sin(direction)
        low, high = float(across.min()), float(across.max())
        spacing = (high - low) / (count + 1)
        distance = np.mod(across - low + spacing / 2, spacing) - spacing / 2
        profile = 40 * np.exp(-(distance / sigma) ** 2) - 12 * np.exp(-((distance - 2 * sigma) / sigma) ** 2)
        image += profile[..., None]
    return Sheet(image, sheet.mask, sheet.homography)


def rotate_whole_degrees(sheet: Sheet, rng: np.random.Generator) -> Sheet:
    angle = np.deg2rad(int(rng.integers(-MAX_ROTATION, MAX_ROTATION + 1)))
    return warp(sheet, rotation(sheet.size, angle), fill=(0, 0, 0))


def grey_noise(sheet: Sheet, rng: np.random.Generator) -> Sheet:
    noise = rng.normal(0, rng.uniform(*NOISE_SIGMA), sheet.image.shape[:2]).astype(np.float32)
    return Sheet(sheet.image + noise[..., None], sheet.mask, sheet.homography)


def crop_edges(sheet: Sheet, rng: np.random.Generator) -> Sheet:
    """Half the pages lose up to MAX_CROP of each side, and are resized back to the page size."""
    if rng.random() < 0.5:
        return sheet
    fraction = rng.uniform(0, MAX_CROP)
    w, h = sheet.size
    scale = 1 / (1 - 2 * fraction)
    matrix = np.array([[scale, 0, -fraction * w * scale], [0, scale, -fraction * h * scale], [0, 0, 1]])
    return warp(sheet, matrix, fill=(0, 0, 0))


def colour_temperature(sheet: Sheet, rng: np.random.Generator) -> Sheet:
    kelvin = rng.uniform(2000, 4000) if rng.random() < 0.5 else rng.uniform(10000, 20000)
    image = np.clip(sheet.image, 0, 255) * kelvin_rgb(kelvin)
    return Sheet(image, sheet.mask, sheet.homography)


def distort_kit(sheet: Sheet, image_type: str, rng: np.random.Generator) -> Sheet:
    if image_type == "0101":
        return sheet
    if image_type != "0102":
        raise ValueError(f"unknown image type {image_type}")
    sheet = crease_lines(wrinkle_shadows(sheet, rng), rng)
    sheet = grey_noise(rotate_whole_degrees(Sheet(np.clip(sheet.image, 0, 255), sheet.mask, sheet.homography), rng),
                       rng)
    return colour_temperature(crop_edges(sheet, rng), rng)
