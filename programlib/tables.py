"""Reading participants' tables with checks that name the file, the line and the column.

Everything is read as text first, so that a bad value is reported where it is, instead of being
silently coerced by pandas (an id `007` turned into 7, `NaN` accepted as a number, ...).
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import SubmissionError

MAX_EXAMPLES = 5


def _examples(values: Sequence) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:MAX_EXAMPLES])
    more = len(values) - MAX_EXAMPLES
    return shown + (f" and {more} more" if more > 0 else "")


def line_of(row: int) -> int:
    """File line of 0-based data row `row` (line 1 is the header)."""
    return row + 2


def read_csv_table(path: Path, columns: Sequence[str], *, name: str | None = None) -> pd.DataFrame:
    """Read a CSV whose header must be exactly `columns` (in any order); every cell as a string."""
    name = name or path.name
    if not path.is_file():
        raise SubmissionError(f"{name}: file not found (expected it at {name})")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{name}: not UTF-8 text ({error})") from None
    if not text.strip():  # after the decoding: a file of only a byte order mark is empty too
        raise SubmissionError(f"{name}: the file is empty")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except csv.Error as error:
        raise SubmissionError(f"{name}, line 1: cannot parse the header ({error})") from None
    header = [column.strip() for column in header]
    duplicated = sorted({column for column in header if header.count(column) > 1})
    if duplicated:
        raise SubmissionError(f"{name}, line 1: column(s) {_examples(duplicated)} appear more than once")
    missing = [column for column in columns if column not in header]
    extra = [column for column in header if column not in columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {_examples(missing)}")
        if extra:
            parts.append(f"unexpected column(s) {_examples(extra)}")
        raise SubmissionError(f"{name}, line 1: {'; '.join(parts)}; the header must be {','.join(columns)}")
    rows = []
    try:
        for number, row in enumerate(reader):
            if len(row) != len(header):
                raise SubmissionError(
                    f"{name}, line {line_of(number)}: {len(row)} field(s), the header has {len(header)}")
            rows.append(row)
    except csv.Error as error:
        raise SubmissionError(f"{name}, line {reader.line_num}: cannot parse ({error})") from None
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return frame[list(columns)]


def check_ids(frame: pd.DataFrame, id_column: str, expected: Sequence[str], *, name: str) -> np.ndarray:
    """Check ids are exactly `expected` (no missing, unknown or repeated id).

    Returns the row positions that put the file in `expected` order: `values[order]` aligns with `expected`.
    """
    ids = frame[id_column].astype(str).str.strip()
    seen: dict[str, int] = {}
    for row, value in enumerate(ids):
        if value == "":
            raise SubmissionError(f"{name}, line {line_of(row)}, column '{id_column}': empty id")
        if value in seen:
            raise SubmissionError(f"{name}, line {line_of(row)}, column '{id_column}': id {value!r} appears "
                                  f"again (first on line {line_of(seen[value])})")
        seen[value] = row
    expected_set = set(expected)
    unknown = [(row, value) for value, row in seen.items() if value not in expected_set]
    if unknown:
        row, value = min(unknown)
        raise SubmissionError(f"{name}, line {line_of(row)}, column '{id_column}': unknown id {value!r} "
                              f"({len(unknown)} id(s) not in the test set: {_examples([v for _, v in sorted(unknown)])})")
    missing = [value for value in expected if value not in seen]
    if missing:
        raise SubmissionError(f"{name}: {len(missing)} test id(s) have no row: {_examples(missing)}")
    return np.array([seen[value] for value in expected], dtype=np.int64)


def parse_numbers(frame: pd.DataFrame, column: str, *, name: str, low: float | None = None,
                  high: float | None = None) -> np.ndarray:
    """Parse a column (in file order) as finite floats within [low, high]: text cell by cell; a numeric column
    (parquet) at once, cell by cell only to word its first problem."""
    cells = frame[column]
    rows = range(len(frame))
    if pd.api.types.is_numeric_dtype(cells) and not pd.api.types.is_bool_dtype(cells):
        values = cells.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(values) | (values < (-np.inf if low is None else low)) | (values > (np.inf if high is None
                                                                                                 else high))
        if not bad.any():
            return values
        rows = [int(bad.argmax())]
    else:
        cells, values = cells.astype(str), np.empty(len(frame), dtype=np.float64)
    for row in rows:
        values[row] = parse_cell(str(cells.iloc[row]), f"{name}, line {line_of(row)}, column '{column}'", low, high)
    return values


def parse_cell(text: str, where: str, low: float | None, high: float | None) -> float:
    """`text` (a cell, or str() of a missing one: 'nan') as a finite float within [low, high]."""
    try:
        value = float(text.strip())
    except ValueError:
        raise SubmissionError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SubmissionError(f"{where}: {text!r} is not a finite number")
    if (low is not None and value < low) or (high is not None and value > high):
        raise SubmissionError(f"{where}: {value!r} is outside [{low}, {high}]")
    return value
