"""Reading submission.csv as Kaggle's metric reads it (pandas' read_csv), keeping every cell as text.

Accepted as Kaggle accepts them: blank lines (skipped), columns besides id and attribute_ids (ignored), a row with
fewer fields than the header (the missing cells are empty), 'NA' or 'nan' cells (kept as the text they are).
Refused as Kaggle refuses them, with the file, line and column: no id or attribute_ids column, a row with more
fields than the header, an empty, repeated, unknown or missing id.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from programlib import SubmissionError

MAX_EXAMPLES = 5


@dataclass
class Table:
    ids: list[str]
    labels: list[str]
    lines: list[int]  # the file line of each row (blank lines skipped, quoted line breaks counted)


def _examples(values: Sequence) -> str:
    more = len(values) - MAX_EXAMPLES
    return ", ".join(repr(v) for v in list(values)[:MAX_EXAMPLES]) + (f" and {more} more" if more > 0 else "")


def _text(path: Path, name: str) -> str:
    if not path.is_file():
        raise SubmissionError(f"{name}: file not found (expected it at {name})")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{name}: not UTF-8 text ({error})") from None
    if not text.strip():  # after the decoding: a file of only a byte order mark is empty too
        raise SubmissionError(f"{name}: the file is empty")
    return text


def read_table(path: Path, *, name: str, id_column: str = "id", label_column: str = "attribute_ids") -> Table:
    reader = csv.reader(io.StringIO(_text(path, name)))
    try:
        header = [column.strip() for column in next(reader)]
        missing = [column for column in (id_column, label_column) if column not in header]
        if missing:
            raise SubmissionError(f"{name}, line 1: missing column(s) {_examples(missing)}; found {_examples(header)} "
                                  f"(the header must name {id_column} and {label_column}; other columns are ignored)")
        at_id, at_labels = header.index(id_column), header.index(label_column)  # the first, as pandas' names
        table, end = Table([], [], []), reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):  # a blank line: pandas skips it
                continue
            if len(row) > len(header):
                raise SubmissionError(f"{name}, line {line}: {len(row)} fields, the header has {len(header)}")
            table.ids.append(row[at_id].strip() if at_id < len(row) else "")
            table.labels.append(row[at_labels] if at_labels < len(row) else "")
            table.lines.append(line)
    except csv.Error as error:
        raise SubmissionError(f"{name}, line {reader.line_num}: cannot parse ({error})") from None
    return table


def match_ids(table: Table, expected: Sequence[str], *, name: str, column: str = "id") -> np.ndarray:
    """For each row of the file, the position of its id in `expected`; every expected id exactly once."""
    position = {value: i for i, value in enumerate(expected)}
    first_line: dict[str, int] = {}
    rows = np.empty(len(table.ids), dtype=np.int64)
    for i, (value, line) in enumerate(zip(table.ids, table.lines)):
        where = f"{name}, line {line}, column '{column}'"
        if value == "":
            raise SubmissionError(f"{where}: empty id")
        if value in first_line:
            raise SubmissionError(f"{where}: id {value!r} appears again (first on line {first_line[value]})")
        if value not in position:
            unknown = [v for v in table.ids if v not in position]
            raise SubmissionError(f"{where}: unknown id {value!r} ({len(set(unknown))} id(s) not in the test set: "
                                  f"{_examples(unknown)})")
        first_line[value] = line
        rows[i] = position[value]
    if len(first_line) < len(expected):
        missing = [value for value in expected if value not in first_line]
        raise SubmissionError(f"{name}: {len(missing)} test id(s) have no row: {_examples(missing)}")
    return rows
