"""The classical digitizer: no network, the trace map is the ink that is dark and unsaturated (the grid removed)."""
from __future__ import annotations

import numpy as np

from .calibration import MAX_TILT_DEGREES, estimate_geometry, ink
from .decode import decode_page
from .rectify import rectify


def digitize_classical(image: np.ndarray, fs: int, deskew_degrees: float = MAX_TILT_DEGREES, clip_mv: float = 5.0):
    image, weights = rectify(image, ink(image))
    deskewed, weights, geometry = estimate_geometry(image, deskew_degrees, weights)
    return decode_page(weights, geometry, fs, clip_mv), geometry
