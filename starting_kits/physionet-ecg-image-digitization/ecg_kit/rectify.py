"""Undoing a phone's perspective: find the paper (or screen) quadrilateral and map it back to a flat page, then
straighten the grid's lines themselves.

The page is the largest bright region; its corners are the extreme points along the two diagonals. Nothing is done
there when no background shows around the page (a scan, a photo inside the page) or the region is implausible.
The grid then gives the rest (`grid_homography`): the homography whose page has the sharpest row and column profiles
of grid ink, kept only where it beats a rotation alone clearly (a scan's rotation is left to the calibration).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import PAGE_MM
from .calibration import MAX_TILT_DEGREES, grid_ink

MIN_PAGE_SHARE = 0.35  # of the image's area
MIN_BORDER_SHARE = 0.03  # some background must show, or this is not a photo of a page
EDGE_PX = 2  # of the 400-px copy: a corner this near the image's edge is where the frame cuts the page
CLOSE_PX = 5  # of the 400-px copy: a dark line this thin inside the page (a trace, text) does not cut it
MIN_FILL = 0.9  # of the quadrilateral found that the bright region must cover (a page seen whole)
GRID_PX = 700  # the grid's homography is searched on a copy this wide (its 5-mm lines 12 px apart)
GRID_GAIN = 1.1  # how much sharper than by a rotation alone the grid's profiles must come out to be warped ...
MIN_PERSPECTIVE = 0.02  # ... and how much perspective (the scale's change across the page) must be undone
GRID_STEPS = (0.005, 0.02, 0.1, 0.1)  # the search's first steps: rotation, shear (rad), perspective (per size)
GRID_SCAN_DEGREES = 0.2  # the rotation's scan, before the search


def page_corners(image: np.ndarray) -> np.ndarray | None:
    """The page's corners (top-left, top-right, bottom-right, bottom-left) as (x, y), or None."""
    small_scale = 400 / max(image.shape[:2])
    small = np.asarray(Image.fromarray(image).resize((max(1, int(image.shape[1] * small_scale)),
                                                      max(1, int(image.shape[0] * small_scale)))), dtype=np.float32)
    brightness = small.mean(axis=2)
    threshold = 0.5 * (np.percentile(brightness, 5) + np.percentile(brightness, 90))
    bright = central_region(brightness > threshold)
    share = bright.mean()
    if not (MIN_PAGE_SHARE < share < 1 - MIN_BORDER_SHARE):
        return None
    ys, xs = np.nonzero(bright)
    s, d = xs + ys, xs - ys
    corners = np.array([[xs[np.argmin(s)], ys[np.argmin(s)]], [xs[np.argmax(d)], ys[np.argmax(d)]],
                        [xs[np.argmax(s)], ys[np.argmax(s)]], [xs[np.argmin(d)], ys[np.argmin(d)]]], dtype=np.float64)
    x, y = corners[:, 0], corners[:, 1]
    height, width = bright.shape
    if min(np.minimum(x, width - 1 - x).min(), np.minimum(y, height - 1 - y).min()) < EDGE_PX:
        return None  # a corner on the image's edge: the page is cut by the frame (turned in a scan), not seen whole
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    if bright.sum() < MIN_FILL * area:  # the bright region is not a page (shadows, wrinkles cut into it)
        return None
    return (corners + 0.5) / small_scale


def central_region(bright: np.ndarray) -> np.ndarray:
    """The bright region around the image's centre, with the traces' thin dark lines closed: what lies beyond a
    dark border (a lighter rim of the table or the photo's own edge) is not the page."""
    picture = Image.fromarray((bright * 255).astype(np.uint8))
    closed = picture.filter(ImageFilter.MaxFilter(CLOSE_PX)).filter(ImageFilter.MinFilter(CLOSE_PX))
    centre = (closed.width // 2, closed.height // 2)
    if closed.getpixel(centre) != 255:
        return bright
    ImageDraw.floodfill(closed, centre, 128)
    return np.asarray(closed) == 128


def homography(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    rows = []
    for (x, y), (u, v) in zip(source, target):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.array(rows))
    matrix = vt[-1].reshape(3, 3)
    return matrix / matrix[2, 2]


def pil_coefficients(matrix: np.ndarray) -> tuple[float, ...]:
    """PIL's perspective coefficients for a homography (input pixels → output pixels): PIL maps each output pixel
    back to the input, so they are its inverse's."""
    inverse = np.linalg.inv(matrix)
    return tuple((inverse / inverse[2, 2]).flatten()[:8])


def warped(image: np.ndarray, maps: tuple[np.ndarray, ...], matrix: np.ndarray,
           size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """The image and its maps under `matrix` (their pixels → the output's), at `size`; white (empty maps) outside."""
    coefficients = pil_coefficients(matrix)
    out = [np.asarray(Image.fromarray(image).transform(size, Image.Transform.PERSPECTIVE, coefficients,
                                                       resample=Image.Resampling.BILINEAR, fillcolor=(255, 255, 255)))]
    for layer in maps:
        picture = Image.fromarray((np.clip(layer, 0, 1) * 255).astype(np.uint8))
        out.append(np.asarray(picture.transform(size, Image.Transform.PERSPECTIVE, coefficients,
                                                resample=Image.Resampling.BILINEAR), dtype=np.float32) / 255)
    return tuple(out)


def about_centre(params, width: float, height: float) -> np.ndarray:
    """A homography about the image's centre: rotation, shear, and the perspective's two terms (per width, height)."""
    angle, shear, across, down = params
    cos, sin = np.cos(angle), np.sin(angle)
    centred = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1.0]])
    back = np.array([[1, 0, width / 2], [0, 1, height / 2], [0, 0, 1.0]])
    return back @ np.array([[cos, shear - sin, 0], [sin, cos, 0], [across / width, down / height, 1.0]]) @ centred


def profile_sharpness(picture: Image.Image, matrix: np.ndarray) -> float:
    """How sharp the grid's row and column profiles are in the middle of the picture under `matrix`: their variance
    about a 9-px running mean, relative to the ink's. Every candidate is moved half a pixel, so that none is spared
    the resampling's blur (the unchanged picture would otherwise always win)."""
    matrix = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]]) @ matrix
    picture = picture.transform(picture.size, Image.Transform.PERSPECTIVE, pil_coefficients(matrix),
                                resample=Image.Resampling.BILINEAR)
    values = np.asarray(picture, dtype=np.float32)
    height, width = values.shape
    core = values[height // 8:-height // 8, width // 8:-width // 8]
    total = 0.0
    for profile in (core.mean(axis=1), core.mean(axis=0)):
        total += float(np.var((profile - np.convolve(profile, np.ones(9) / 9, mode="same"))[5:-5]))
    return total / (float(core.mean()) ** 2 + 1e-6)


def pattern_search(score, start: list[float], steps: tuple[float, ...], rounds: int = 6) -> tuple[np.ndarray, float]:
    """The parameters that score highest from `start`, one at a time up or down by a step, the steps halved when
    nothing gains."""
    params, steps = np.array(start, dtype=float), np.array(steps, dtype=float)
    best = score(params)
    for _ in range(rounds):
        moved = True
        while moved:
            moved = False
            for index, sign in ((i, sign) for i in range(len(params)) for sign in (1, -1)):
                trial = params.copy()
                trial[index] += sign * steps[index]
                value = score(trial)
                if value > best:
                    params, best, moved = trial, value, True
                    break
        steps /= 2
    return params, best


def grid_homography(image: np.ndarray) -> np.ndarray | None:
    """The homography (the image's pixels → a page whose grid lines run straight along its rows and columns), or
    None where it straightens the grid no better than a rotation would (no perspective, or no grid seen)."""
    ink = grid_ink(image)
    scale = GRID_PX / max(ink.shape)
    picture = Image.fromarray(np.clip(ink, 0, 255).astype(np.uint8)).resize(
        (max(1, int(ink.shape[1] * scale)), max(1, int(ink.shape[0] * scale))), Image.Resampling.BILINEAR)
    width, height = picture.size
    def score(params):
        return profile_sharpness(picture, about_centre(params, width, height))
    # The lines are sharp only within a tenth of a degree or so: the rotation is scanned first, then refined.
    angles = np.radians(np.arange(-MAX_TILT_DEGREES, MAX_TILT_DEGREES + 1e-9, GRID_SCAN_DEGREES))
    start = float(angles[int(np.argmax([score([angle, 0, 0, 0]) for angle in angles]))])
    angle, turned = pattern_search(lambda angle: score([angle[0], 0, 0, 0]), [start], (np.radians(GRID_SCAN_DEGREES),))
    params, best = pattern_search(score, [angle[0], 0, 0, 0], GRID_STEPS)
    if best < GRID_GAIN * turned or np.abs(params[2:]).max() < MIN_PERSPECTIVE:
        return None
    to_small = np.diag([scale, scale, 1.0])
    return np.linalg.inv(to_small) @ about_centre(params, width, height) @ to_small


def rectify(image: np.ndarray, *maps: np.ndarray) -> tuple[np.ndarray, ...]:
    """The image (and any maps of it) seen square-on: at the width of the page found, then with its grid's lines
    straight; unchanged where neither is found."""
    corners = page_corners(image)
    if corners is not None:
        width = float(np.mean([np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3])]))
        height = width * PAGE_MM[1] / PAGE_MM[0]
        target = np.array([[0, 0], [width, 0], [width, height], [0, height]])
        image, *maps = warped(image, maps, homography(corners, target), (int(round(width)), int(round(height))))
    matrix = grid_homography(image)
    if matrix is not None:
        image, *maps = warped(image, tuple(maps), matrix, (image.shape[1], image.shape[0]))
    return (image, *maps)
