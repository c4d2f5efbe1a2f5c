"""Checks of what a participant wrote that several scorers share: a number in JSON, a JSON file."""
from __future__ import annotations

import json
import math
from pathlib import Path

from .errors import SubmissionError


def is_finite_number(value) -> bool:
    """An int or float (not a bool) that is finite as a float: JSON's 400-digit integers are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def read_json(path: Path):
    """The parsed content of a submitted JSON file; one that does not parse is the participant's error."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, a 5000-digit number, 100000 nested lists
        raise SubmissionError(f"{path.name} is not valid JSON: {type(error).__name__}: {error}") from None
