"""What printing, scanning, photographing and time do to a paper ECG, as composable distortions.

Every distortion changes the image; geometric ones also move the trace mask and the label boxes, by composing a
homography that maps the clean page onto the final image (kept with the calibration, so a digitizer can learn to
undo it). The image types follow the real set's segment codes.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

IMAGE_TYPES = {  # segment code → what happened to the paper
    "0001": "clean render", "0003": "colour scan", "0004": "black-and-white scan", "0005": "phone photo",
    "0006": "photo of a monitor", "0009": "stained paper", "0010": "damaged paper", "0011": "mould, colour",
    "0012": "mould, black and white",
}


@dataclass
class Sheet:
    image: np.ndarray  # H × W × 3 float32 in [0, 255]
    mask: np.ndarray  # H × W uint8 lead codes
    homography: np.ndarray  # clean page pixels → these pixels

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


def warp(sheet: Sheet, matrix: np.ndarray, size: tuple[int, int] | None = None, fill=(236, 233, 226)) -> Sheet:
    """Apply homography `matrix` (current pixels → new pixels) to the image and the mask."""
    size = size or sheet.size
    inverse = np.linalg.inv(matrix)
    coefficients = tuple((inverse / inverse[2, 2]).flatten()[:8])
    image = Image.fromarray(np.clip(sheet.image, 0, 255).astype(np.uint8)).transform(
        size, Image.Transform.PERSPECTIVE, coefficients, resample=Image.Resampling.BILINEAR, fillcolor=tuple(fill))
    mask = Image.fromarray(sheet.mask).transform(size, Image.Transform.PERSPECTIVE, coefficients,
                                                 resample=Image.Resampling.NEAREST, fillcolor=0)
    return Sheet(np.asarray(image, dtype=np.float32), np.asarray(mask).copy(), matrix @ sheet.homography)


# --- geometry ---------------------------------------------------------------------------------------

def rotation(size: tuple[int, int], angle: float) -> np.ndarray:
    """The homography of a rotation by `angle` radians about the centre of an image of `size`."""
    w, h = size
    c, s = np.cos(angle), np.sin(angle)
    to_centre = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    back = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]])
    return back @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ to_centre


def rotate(sheet: Sheet, rng, degrees: float) -> Sheet:
    return warp(sheet, rotation(sheet.size, np.deg2rad(rng.uniform(-degrees, degrees))))


def perspective(sheet: Sheet, rng, strength: float, fill=(236, 233, 226)) -> Sheet:
    """A camera that is not square to the page: each corner moves inwards by up to `strength` of the size."""
    w, h = sheet.size
    source = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    margin = rng.uniform(0.02, strength, (4, 2)) * [w, h]
    target = source + margin * [[1, 1], [-1, 1], [-1, -1], [1, -1]]
    return warp(sheet, homography_from_points(source, target), fill=fill)


def homography_from_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    rows = []
    for (x, y), (u, v) in zip(source, target):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.array(rows))
    matrix = vt[-1].reshape(3, 3)
    return matrix / matrix[2, 2]


def crop_or_pad(sheet: Sheet, rng, amount: float) -> Sheet:
    w, h = sheet.size
    scale = rng.uniform(1 - amount, 1 + amount / 2)
    shift = rng.uniform(-amount, amount, 2) * [w, h] / 2
    matrix = np.array([[scale, 0, w / 2 * (1 - scale) + shift[0]], [0, scale, h / 2 * (1 - scale) + shift[1]], [0, 0, 1]])
    return warp(sheet, matrix, fill=(250, 250, 250))


def resolution(sheet: Sheet, rng, low: float) -> Sheet:
    """A lower-resolution scan or camera: the whole image is resized."""
    factor = rng.uniform(low, 1.0)
    w, h = sheet.size
    size = (max(64, int(round(w * factor))), max(64, int(round(h * factor))))
    matrix = np.diag([size[0] / w, size[1] / h, 1.0])
    return warp(sheet, matrix, size)


# --- light, ink and paper ---------------------------------------------------------------------------

def smooth_field(shape, rng, scale: int) -> np.ndarray:
    """Low-frequency noise in [0, 1] (bilinear upsampling of a coarse random grid)."""
    coarse = rng.random((scale + 1, scale + 1)).astype(np.float32)
    field = np.asarray(Image.fromarray(coarse).resize((shape[1], shape[0]), Image.Resampling.BICUBIC))
    return (field - field.min()) / max(1e-6, float(np.ptp(field)))


def blur(sheet: Sheet, rng, sigma: float) -> Sheet:
    radius = rng.uniform(0.3, sigma) * sheet.size[0] / 1100
    image = Image.fromarray(np.clip(sheet.image, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(radius))
    return Sheet(np.asarray(image, dtype=np.float32), sheet.mask, sheet.homography)


def noise(sheet: Sheet, rng, sigma: float) -> Sheet:
    return Sheet(sheet.image + rng.normal(0, sigma, sheet.image.shape).astype(np.float32), sheet.mask, sheet.homography)


def jpeg(sheet: Sheet, rng, low_quality: int) -> Sheet:
    buffer = io.BytesIO()
    Image.fromarray(np.clip(sheet.image, 0, 255).astype(np.uint8)).save(buffer, "JPEG",
                                                                         quality=int(rng.integers(low_quality, 90)))
    return Sheet(np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32), sheet.mask, sheet.homography)


def lighting(sheet: Sheet, rng, depth: float) -> Sheet:
    """Uneven light and a soft shadow (a hand or a phone) across the page."""
    h, w = sheet.image.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (x / w * np.cos(angle) + y / h * np.sin(angle))
    ramp = (ramp - ramp.min()) / max(1e-6, float(np.ptp(ramp)))
    shade = 1 - depth * ramp
    cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.5) * w
    shade *= 1 - depth * 0.6 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r ** 2))
    return Sheet(sheet.image * shade[..., None], sheet.mask, sheet.homography)


def tint(sheet: Sheet, rng, colour) -> Sheet:
    weights = np.array(colour, dtype=np.float32) / 255
    return Sheet(sheet.image * (0.75 + 0.25 * weights) + rng.normal(0, 2, 3), sheet.mask, sheet.homography)


def greyscale(sheet: Sheet, rng, contrast: float = 1.0) -> Sheet:
    grey = sheet.image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    grey = (grey - 128) * contrast + 128
    return Sheet(np.repeat(grey[..., None], 3, axis=2), sheet.mask, sheet.homography)


def creases(sheet: Sheet, rng, count: int) -> Sheet:
    """Folds: a bright ridge beside a dark valley along a line across the page."""
    h, w = sheet.image.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    image = sheet.image.copy()
    for _ in range(count):
        angle = rng.uniform(0, np.pi)
        offset = rng.uniform(0.2, 0.8) * (abs(np.cos(angle)) * w + abs(np.sin(angle)) * h)
        distance = x * np.sin(angle) - y * np.cos(angle) + (np.cos(angle) * h if np.cos(angle) > 0 else 0) - offset / 3
        width = rng.uniform(1.5, 4) * w / 1100
        profile = 22 * np.exp(-(distance / width) ** 2) - 30 * np.exp(-((distance - 2 * width) / width) ** 2)
        image += profile[..., None]
    return Sheet(image, sheet.mask, sheet.homography)


def wrinkles(sheet: Sheet, rng, depth: float) -> Sheet:
    field = smooth_field(sheet.image.shape[:2], rng, 12)
    ridges = np.abs(np.sin(field * np.pi * rng.uniform(4, 8)))
    return Sheet(sheet.image * (1 - depth * (1 - ridges))[..., None], sheet.mask, sheet.homography)


def stains(sheet: Sheet, rng, count: int) -> Sheet:
    h, w = sheet.image.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    image = sheet.image.copy()
    for _ in range(count):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(0.04, 0.18) * w, rng.uniform(0.04, 0.18) * h
        wobble = 1 + 0.25 * smooth_field((h, w), rng, 6)
        inside = np.clip(1.3 - ((x - cx) ** 2 / rx ** 2 + (y - cy) ** 2 / ry ** 2) / wobble, 0, 1)
        colour = np.array(rng.choice([[160, 110, 50], [190, 160, 80], [120, 90, 70]]), dtype=np.float32)
        alpha = rng.uniform(0.25, 0.6) * inside[..., None]
        ring = np.exp(-((inside - 0.15) / 0.08) ** 2)[..., None] * 0.35  # the darker tide line of a dried stain
        image = image * (1 - alpha - ring * 0.5) + colour * (alpha + ring * 0.5)
    return Sheet(image, sheet.mask, sheet.homography)


def mould(sheet: Sheet, rng, colonies: int, colour: bool) -> Sheet:
    h, w = sheet.image.shape[:2]
    image = sheet.image.copy()
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(colonies):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.008, 0.035) * w
        density = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r ** 2))
        spots = (rng.random((h, w)) < density * 0.45).astype(np.float32)
        spots = np.asarray(Image.fromarray((spots * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(3)),
                           dtype=np.float32) / 255
        tone = np.array([70, 95, 55] if colour and rng.random() < 0.6 else [45, 45, 40], dtype=np.float32)
        alpha = (spots * rng.uniform(0.4, 0.8) + density * 0.1)[..., None]
        image = image * (1 - alpha) + tone * alpha
    return Sheet(image, sheet.mask, sheet.homography)


def scribbles(sheet: Sheet, rng, count: int) -> Sheet:
    """Handwriting-like strokes in pen, which a digitizer must not take for a trace."""
    image = Image.fromarray(np.clip(sheet.image, 0, 255).astype(np.uint8))
    pen = ImageDraw.Draw(image)
    w, h = sheet.size
    for _ in range(count):
        x, y = rng.uniform(0.05, 0.8) * w, rng.uniform(0.05, 0.9) * h
        ink = tuple(int(v) for v in rng.choice([[20, 40, 150], [30, 30, 30], [150, 20, 20]]))
        points = [(x, y)]
        for _ in range(int(rng.integers(15, 40))):
            x += rng.uniform(2, 9) * w / 1100
            y += rng.normal(0, 5) * h / 850
            points.append((x, y))
        pen.line(points, fill=ink, width=max(1, int(round(2 * w / 1100))), joint="curve")
    return Sheet(np.asarray(image, dtype=np.float32), sheet.mask, sheet.homography)


def tears(sheet: Sheet, rng, count: int) -> Sheet:
    """Missing pieces: the table shows through a torn edge or a hole."""
    image = Image.fromarray(np.clip(sheet.image, 0, 255).astype(np.uint8))
    pen = ImageDraw.Draw(image)
    w, h = sheet.size
    for _ in range(count):
        corner = np.array([rng.choice([0, w]), rng.choice([0, h])], dtype=np.float64)
        points = [tuple(corner)]
        for _ in range(6):
            points.append(tuple(corner + rng.uniform(-0.25, 0.25, 2) * [w, h]))
        pen.polygon(points, fill=(60, 55, 50))
    return Sheet(np.asarray(image, dtype=np.float32), sheet.mask, sheet.homography)


def moire(sheet: Sheet, rng) -> Sheet:
    """A photo of a screen: interference fringes, the sub-pixel stripes, a cold glow."""
    h, w = sheet.image.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    f1, f2 = rng.uniform(0.18, 0.3), rng.uniform(0.18, 0.3)
    angle = rng.uniform(-0.2, 0.2)
    fringes = np.sin(f1 * x + angle * y) * np.sin(f2 * (x * np.sin(angle) + y))
    image = sheet.image * (0.85 + 0.1 * fringes[..., None])
    stripes = np.stack([np.sin(x * np.pi * 2 / 3 + k * 2 * np.pi / 3) for k in range(3)], axis=-1)
    image = image * (1 + 0.05 * stripes) * np.array([0.85, 0.93, 1.05]) + 12
    return Sheet(image, sheet.mask, sheet.homography)


def distort(sheet: Sheet, image_type: str, rng: np.random.Generator) -> Sheet:
    """The distortions of one image type, in the order things happen to paper."""
    if image_type == "0001":
        return sheet
    if image_type in ("0009",):
        sheet = stains(sheet, rng, int(rng.integers(2, 5)))
        sheet = creases(sheet, rng, int(rng.integers(0, 3)))
    if image_type == "0010":
        sheet = wrinkles(sheet, rng, rng.uniform(0.04, 0.1))
        sheet = creases(sheet, rng, int(rng.integers(2, 5)))
        sheet = scribbles(sheet, rng, int(rng.integers(2, 6)))
        sheet = tears(sheet, rng, int(rng.integers(1, 3)))
    if image_type in ("0011", "0012"):
        sheet = mould(sheet, rng, int(rng.integers(5, 12)), colour=image_type == "0011")
        sheet = stains(sheet, rng, int(rng.integers(0, 2)))
    if image_type in ("0003", "0004", "0009", "0010", "0011", "0012"):  # then scanned
        sheet = rotate(sheet, rng, 2.0 if image_type != "0010" else 4.0)
        sheet = crop_or_pad(sheet, rng, 0.04)
        if image_type in ("0004", "0012"):
            sheet = greyscale(sheet, rng, contrast=rng.uniform(1.1, 1.6))
        else:
            sheet = tint(sheet, rng, (255, 245, 225))
        sheet = blur(sheet, rng, 0.9)
        sheet = noise(sheet, rng, rng.uniform(1, 3.5))
        sheet = resolution(sheet, rng, 0.75)
        return jpeg(sheet, rng, 70)
    if image_type == "0005":  # a phone photo of the paper on a table
        sheet = crop_or_pad(sheet, rng, 0.08)
        sheet = perspective(sheet, rng, 0.08, fill=tuple(int(v) for v in rng.integers(40, 160, 3)))
        sheet = rotate(sheet, rng, 6.0)
        sheet = lighting(sheet, rng, rng.uniform(0.15, 0.45))
        sheet = blur(sheet, rng, 1.8)
        sheet = noise(sheet, rng, rng.uniform(1.5, 5))
        sheet = resolution(sheet, rng, 0.6)
        return jpeg(sheet, rng, 45)
    if image_type == "0006":  # a phone photo of the ECG on a monitor
        sheet = crop_or_pad(sheet, rng, 0.06)
        sheet = moire(sheet, rng)
        sheet = perspective(sheet, rng, 0.06, fill=(20, 22, 26))
        sheet = lighting(sheet, rng, rng.uniform(0.05, 0.25))
        sheet = blur(sheet, rng, 1.5)
        sheet = noise(sheet, rng, rng.uniform(1.5, 5))
        sheet = resolution(sheet, rng, 0.6)
        return jpeg(sheet, rng, 45)
    raise ValueError(f"unknown image type {image_type}")
