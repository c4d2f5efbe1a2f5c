"""Undoing a phone's perspective: find the paper (or screen) quadrilateral and map it back to a flat page.

The page is the largest bright region; its corners are the extreme points along the two diagonals. Nothing is done
when no background shows around the page (a scan) or the region is implausible.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import PAGE_MM

MIN_PAGE_SHARE = 0.35  # of the image's area
MIN_BORDER_SHARE = 0.03  # some background must show, or this is not a photo of a page
EDGE_PX = 2  # of the 400-px copy: a corner this near the image's edge is where the frame cuts the page
CLOSE_PX = 5  # of the 400-px copy: a dark line this thin inside the page (a trace, text) does not cut it
MIN_FILL = 0.9  # of the quadrilateral found that the bright region must cover (a page seen whole)


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


def rectify(image: np.ndarray, *maps: np.ndarray) -> tuple[np.ndarray, ...]:
    """The image (and any maps of it) seen square-on, at the width of the page found; unchanged if none is found."""
    corners = page_corners(image)
    if corners is None:
        return (image, *maps)
    width = float(np.mean([np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3])]))
    height = width * PAGE_MM[1] / PAGE_MM[0]
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]])
    inverse = np.linalg.inv(homography(corners, target))  # PIL maps output pixels back to input pixels
    coefficients = tuple((inverse / inverse[2, 2]).flatten()[:8])
    size = (int(round(width)), int(round(height)))
    warped = np.asarray(Image.fromarray(image).transform(size, Image.Transform.PERSPECTIVE, coefficients,
                                                         resample=Image.Resampling.BILINEAR, fillcolor=(255, 255, 255)))
    out = [warped]
    for layer in maps:
        picture = Image.fromarray((np.clip(layer, 0, 1) * 255).astype(np.uint8))
        out.append(np.asarray(picture.transform(size, Image.Transform.PERSPECTIVE, coefficients,
                                                resample=Image.Resampling.BILINEAR), dtype=np.float32) / 255)
    return tuple(out)
