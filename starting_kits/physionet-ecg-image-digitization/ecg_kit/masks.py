"""Trace masks (pixel = lead code 1-12, 13 the rhythm strip) as per-row training targets."""
from __future__ import annotations

import numpy as np

from . import LEADS, ROWS

RHYTHM_CODE = 13
ROW_CODES = [[LEADS.index(lead) + 1 for lead in row] for row in ROWS[:3]] + [[RHYTHM_CODE]]


def row_targets(mask: np.ndarray) -> np.ndarray:
    """(4, H, W) float32: 1 where the trace of that printed row is."""
    return np.stack([np.isin(mask, codes) for codes in ROW_CODES]).astype(np.float32)
