"""Scoring program of the ECG image digitization task: the modified SNR, with breakdowns.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/ holds solution.parquet (id, fs, value, and the id's parts record, lead, row) and records.csv (id, image_type);
res/ holds submission.parquet (id = {record}_{row}_{lead}, value in mV), at its root or in predictions/ (a code
submission's output). What Kaggle's metric scores is scored: columns in any order, extra columns (ignored), any
finite value. What it refuses is refused, with the file, row and column: NaN, infinity, text values, and (Kaggle's
submission check) ids missing, repeated or unknown.
"""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modified_snr import LEADS, MetricOverflow, max_shift, ratio, segment_powers, snr_db
from programlib import SubmissionError
from programlib.results import ingestion_outcome, output_file
from programlib.scoring import Scored, run_scoring
from snr_report import IMAGE_TYPES, build_report

SUBMISSION = "submission.parquet"
LEAD_GROUPS = {"limb": ("I", "II", "III"), "augmented": ("aVR", "aVL", "aVF"), "v1_v3": ("V1", "V2", "V3"),
               "v4_v6": ("V4", "V5", "V6")}
MAX_EXAMPLES = 5


def read_table(path: Path, name: str) -> pa.Table:
    try:
        return pq.read_table(path)
    except Exception as error:  # pyarrow raises many kinds for a file that is not parquet
        raise SubmissionError(f"{name}: not a readable parquet file ({type(error).__name__}: {error})") from None


def index_columns(table: pa.Table) -> list[str]:
    """The columns pandas stored its index in (pandas reads them back as the index, not as columns)."""
    metadata = table.schema.pandas_metadata or {}
    return [name for name in metadata.get("index_columns", []) if isinstance(name, str)]


def one_column(table: pa.Table, column: str) -> pa.ChunkedArray:
    if column in index_columns(table):
        raise SubmissionError(f"{SUBMISSION}: '{column}' is stored as the table's (pandas) index, not as a column; "
                              f"write the file with index=False")
    found = table.column_names.count(column)
    if found != 1:
        raise SubmissionError(f"{SUBMISSION}: " + (f"no column '{column}' (the columns are "
                              f"{', '.join(table.column_names) or 'none'}; id and value are needed)" if not found
                              else f"the column '{column}' appears {found} times"))
    return table.column(column)


def as_text(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise SubmissionError(f"{SUBMISSION}, column '{name}': ids are text like '1_0_I' (this column holds "
                              f"{column.type})")
    return column.cast(pa.large_string())


def as_numbers(array: pa.ChunkedArray) -> np.ndarray:
    """float64 values; text, NaN, missing and infinite values are refused with their row."""
    kind = array.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_boolean(kind)
            or pa.types.is_decimal(kind)):
        cells = array.to_pandas()
        row = int(pd.to_numeric(cells, errors="coerce").isna().to_numpy().argmax()) if len(cells) else 0
        shown = repr(cells.iloc[row]) if len(cells) else "nothing"
        raise SubmissionError(f"{SUBMISSION}, row {row + 1}, column 'value': {shown} is not a number (the column "
                              f"holds {kind}; values must be stored as numbers, in mV)")
    values = array.cast(pa.float64()).to_numpy(zero_copy_only=False)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = str(values[row])  # an empty cell reads as nan, as pandas reads it
        raise SubmissionError(f"{SUBMISSION}, row {row + 1}, column 'value': {shown} is not a finite number "
                              f"({int(bad.sum())} such value(s); NaN and infinity are not allowed)")
    return values


def match_ids(ids: pa.ChunkedArray, expected: pa.ChunkedArray) -> np.ndarray | None:
    """The position in `expected` of every submitted id (None: the same order). In the test set's order this is one
    comparison; in any other order, pyarrow's hash lookup (millions of rows in seconds, not minutes)."""
    if len(ids) == len(expected) and ids.null_count == 0 and pc.all(pc.equal(ids, expected)).as_py():
        return None
    ids, expected = ids.combine_chunks(), expected.combine_chunks()
    position = pc.index_in(ids, value_set=expected)
    unknown = position.is_null().to_numpy(zero_copy_only=False)
    if unknown.any():
        rows = np.flatnonzero(unknown)
        raise SubmissionError(f"{SUBMISSION}, row {rows[0] + 1}, column 'id': unknown id {ids[int(rows[0])].as_py()!r} "
                              f"({len(rows)} id(s) not in the test set)")
    position = position.to_numpy()
    seen = np.zeros(len(expected), dtype=bool)
    seen[position] = True
    if seen.sum() != len(position):
        _, first = np.unique(position, return_index=True)
        repeated = int(np.setdiff1d(np.arange(len(position)), first)[0])
        raise SubmissionError(f"{SUBMISSION}, row {repeated + 1}, column 'id': id {ids[repeated].as_py()!r} "
                              f"appears again")
    if len(position) != len(expected):
        absent = np.flatnonzero(~seen)
        shown = ", ".join(repr(expected[int(i)].as_py()) for i in absent[:MAX_EXAMPLES])
        raise SubmissionError(f"{SUBMISSION}: {len(absent)} test id(s) have no row, e.g. {shown} (every lead needs "
                              f"exactly the number_of_rows of test.csv)")
    return position


def submitted_values(table: pa.Table, expected: pa.Array) -> tuple[np.ndarray, list[str]]:
    """The submitted values in the order of `expected`, and the columns that were ignored."""
    values = as_numbers(one_column(table, "value"))
    position = match_ids(as_text(one_column(table, "id"), "id"), expected)
    if position is not None:
        aligned = np.empty(len(expected))
        aligned[position] = values
        values = aligned
    return values, [str(c) for c in table.column_names if c not in ("id", "value", *index_columns(table))]


class Stopwatch(dict):
    """Seconds per stage (read, match, compute, report): printed with the score, and what `make bench` splits."""

    @contextlib.contextmanager
    def __call__(self, stage: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self[stage] = self.get(stage, 0.0) + time.perf_counter() - started

    def __str__(self) -> str:
        return ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in self.items())


@dataclass
class Segments:
    """The runs of one (record, lead) in row order: where each starts and how long it is, in the reference's rows
    taken in `order` (None: already in (record, lead, row) order, as the builder writes it)."""
    order: np.ndarray | None
    starts: np.ndarray
    lengths: np.ndarray
    record: np.ndarray  # one name per segment
    lead: np.ndarray
    fs: np.ndarray

    def take(self, values: np.ndarray) -> np.ndarray:
        return values if self.order is None else values[self.order]


def codes(array: pa.Array) -> tuple[np.ndarray, list | None]:
    """Integer codes of a key column, and the names they stand for (None: the integers are the names)."""
    if pa.types.is_integer(array.type):
        return array.to_numpy(), None
    encoded = array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
    return encoded.indices.to_numpy(), encoded.dictionary.to_pylist()


def reference_keys(solution: pa.Table) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """record, lead and row of every reference row: the columns the builder stores, else parsed from the ids."""
    if {"record", "lead", "row"} <= set(solution.column_names):
        record, lead = (solution.column(name).combine_chunks() for name in ("record", "lead"))
        return record, lead, solution.column("row").to_numpy()
    parts = pc.split_pattern(solution.column("id").combine_chunks(), "_")
    return (pc.list_element(parts, 0), pc.list_element(parts, 2),
            pc.list_element(parts, 1).cast(pa.int64()).to_numpy())


def runs(record: np.ndarray, lead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal (record, lead) starts, and its length."""
    starts = np.flatnonzero(np.concatenate([[True], (record[1:] != record[:-1]) | (lead[1:] != lead[:-1])]))
    return starts, np.diff(np.append(starts, len(record)))


def in_row_order(record, lead, row, starts) -> bool:
    """Every (record, lead) is one run, and its rows are 0, 1, 2, ... (few temporary arrays: on millions of rows,
    each costs more in fresh memory than in arithmetic)."""
    pairs = record[starts].astype(np.int64) * (int(lead.max(initial=0)) + 1) + lead[starts]
    if len(np.unique(pairs)) != len(starts) or (row[starts] != 0).any():
        return False
    steps = np.diff(row) == 1
    steps[starts[1:] - 1] = True  # a run's first row follows another run's last
    return bool(steps.all())


def find_segments(solution: pa.Table) -> Segments:
    record_array, lead_array, row = reference_keys(solution)
    (record, record_names), (lead, lead_names) = codes(record_array), codes(lead_array)
    fs = solution.column("fs").to_numpy()
    order = None
    starts, lengths = runs(record, lead)
    if not in_row_order(record, lead, row, starts):  # sort once
        order = np.lexsort((row, lead, record))
        record, lead, row, fs = record[order], lead[order], row[order], fs[order]
        starts, lengths = runs(record, lead)
        assert in_row_order(record, lead, row, starts), "each lead's rows must be 0..n-1, once each"
    record_name = (lambda code: str(code)) if record_names is None else (lambda code: str(record_names[code]))
    return Segments(order, starts, lengths, np.array([record_name(code) for code in record[starts]]),
                    np.array([str(lead_names[code]) for code in lead[starts]]), fs[starts])


def fit_all(label: np.ndarray, pred: np.ndarray, segments: Segments) -> pd.DataFrame:
    """One row per (record, lead): powers, lag and offset, from segment_powers grouped by length and fs.
    `label` and `pred` are in the segments' order (Segments.take)."""
    fits = np.empty((len(segments.starts), 4))
    combos = np.stack([segments.lengths, segments.fs], axis=1)
    for length, rate in np.unique(combos, axis=0):
        members = np.flatnonzero((segments.lengths == length) & (segments.fs == rate))
        index = segments.starts[members][:, None] + np.arange(length)[None, :]
        try:
            fits[members] = segment_powers(label[index], pred[index], max_shift(int(rate))).T
        except MetricOverflow as error:
            member = members[error.segment]
            raise SubmissionError(
                f"{SUBMISSION}, column 'value': record {segments.record[member]}, lead {segments.lead[member]}: the "
                f"values are so large ({np.abs(pred[index[error.segment]]).max():g}) that the metric's "
                f"cross-correlation overflows (Kaggle's metric fails on them too); values are in mV") from None
    return pd.DataFrame({"record": segments.record, "lead": segments.lead, "fs": segments.fs,
                         "start": segments.starts, "length": segments.lengths, "p_signal": fits[:, 0],
                         "p_noise": fits[:, 1], "lag": fits[:, 2], "offset": fits[:, 3]})


def per_record(fits: pd.DataFrame, leads=LEADS) -> pd.Series:
    chosen = fits[fits["lead"].isin(leads)].groupby("record", sort=False)[["p_signal", "p_noise"]].sum()
    return pd.Series(ratio(chosen["p_signal"].to_numpy(), chosen["p_noise"].to_numpy()), index=chosen.index)


def breakdown(fits: pd.DataFrame, ratios: pd.Series, records: pd.DataFrame) -> dict[str, float]:
    scores = {"snr": snr_db(ratios.to_numpy())}
    types = records.loc[ratios.index, "image_type"].to_numpy()
    for image_type in IMAGE_TYPES:
        members = ratios[types == image_type]
        scores[f"snr_{image_type}"] = snr_db(members.to_numpy()) if len(members) else 0.0
    for group, leads in LEAD_GROUPS.items():
        scores[f"snr_{group}"] = snr_db(per_record(fits, leads).to_numpy())
    return scores


@dataclass
class Evaluation:
    scores: dict[str, float]
    fits: pd.DataFrame  # one row per (record, lead)
    ratios: pd.Series  # per record
    records: pd.DataFrame
    label: np.ndarray  # in the order of the fits' `start`
    pred: np.ndarray
    ignored: list[str]  # columns of the submission that were not scored
    seconds: Stopwatch


def evaluate(reference_dir: Path, result_dir: Path) -> Evaluation:
    clock = Stopwatch()
    with clock("read"):
        solution = pq.read_table(reference_dir / "solution.parquet")
        records = pd.read_csv(reference_dir / "records.csv", dtype={"id": str, "image_type": str}).set_index("id")
        outcome = ingestion_outcome(result_dir)
        table = read_table(output_file(result_dir, SUBMISSION, "your program"), SUBMISSION)
    with clock("match"):
        expected = solution.column("id").cast(pa.large_string())
        predicted, ignored = submitted_values(table, expected)
    if ignored:
        print(f"{SUBMISSION}: column(s) {', '.join(ignored)} ignored (only id and value are scored)")
    with clock("compute"):
        segments = find_segments(solution)
        label, predicted = segments.take(solution.column("value").to_numpy()), segments.take(predicted)
        fits = fit_all(label, predicted, segments)
        ratios = per_record(fits)
        scores = breakdown(fits, ratios, records)
    scores["duration"] = float((outcome or {}).get("duration") or 0.0)
    return Evaluation(scores, fits, ratios, records, label, predicted, ignored, clock)


def score(reference_dir: Path, result_dir: Path) -> Scored:
    result = evaluate(reference_dir, result_dir)
    with result.seconds("report"):
        report = build_report(result)
    print(f"modified SNR {result.scores['snr']:.4f} dB over {len(result.ratios)} records ({result.seconds})")
    return Scored(result.scores, report)


if __name__ == "__main__":
    sys.exit(run_scoring(score))
