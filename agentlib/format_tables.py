"""The table checks and the scorer's own checks of the agent's format check (format_check.py), staged beside it in
/home/validate/. A table is compared with the sample submission: readable as its scorer reads it, the sample's
columns, the sample's ids (its first column) once each, values of the sample's types; a column a scorer has its own
rule for (validate/checks.json, written by agentlib/validate.py) is checked with that rule instead.

The checks are programlib's (the scorers' own: read_csv_table, check_ids, parse_numbers) and the scorer modules
staged in validate/scorer/; problems go to the caller's report (format_check.Report) with the file, the line (the
row, for parquet) and the column.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import re
import sys
from pathlib import Path

import pandas as pd

from programlib.errors import SubmissionError
from programlib.tables import check_ids, line_of, parse_numbers, read_csv_table

TABLES = (".csv", ".parquet")


def misplaced(folder: Path, name: str) -> str:
    """The common mistake of a folder too deep, said as the ingestion program says it."""
    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob(name)) if folder.is_dir() else []
    return f" (found {found[0]}: it must be at the top level of the submission)" if found else ""


def check_present(path: Path, name: str, report, folder: Path | None = None) -> bool:
    if path.is_file():
        return True
    hint = misplaced(folder, name) if folder is not None else ""
    report.add(name, f"{name}: file not found at the top level of the submission{hint}")
    return False


def sample_of(home: Path, name: str) -> Path | None:
    """The sample submission's version of `name`, as bundle_format.sample_submission finds it."""
    for path in (home / "starting_kit" / "sample_submission" / name, home / "data" / f"sample_{name}"):
        if path.is_file():
            return path
    return None


def read_sample(path: Path) -> pd.DataFrame:
    """Ours and public: CSV cells as text (as the scorer reads the submission), parquet as stored."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header = [column.strip() for column in next(csv.reader(handle))]
    return read_csv_table(path, header)


def read_parquet_table(path: Path, name: str, columns: list[str]) -> pd.DataFrame:
    """As the parquet scorer reads it: a readable file with the sample's columns, in any order (others ignored)."""
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises many kinds for a file that is not parquet
        raise SubmissionError(f"{name}: not a readable parquet file ({type(error).__name__}: {error})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SubmissionError(f"{name}: no column {', '.join(map(repr, missing))} (the columns are "
                              f"{', '.join(map(str, frame.columns)) or 'none'}; {', '.join(columns)} are needed)")
    return frame[columns]


def is_numeric(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    return len(values) > 0 and bool(pd.to_numeric(values, errors="coerce").notna().all())


def check_filled(frame: pd.DataFrame, column: str, name: str) -> None:
    """No missing value in a text column (the scorers' number check covers numeric ones)."""
    empty = (frame[column].isna() | (frame[column].astype(str).str.strip() == "")).to_numpy()
    if empty.any():
        row = int(empty.argmax())
        raise SubmissionError(f"{name}, line {line_of(row)}, column '{column}': missing value "
                              f"({int(empty.sum())} empty cell(s))")


def check_id_set(frame: pd.DataFrame, column: str, expected: list[str], name: str, report, rows: bool) -> None:
    """programlib's check_ids (the scorer's), then once more without the rows it refused, so that ids missing
    besides a repeated or unknown one are reported too."""
    try:
        check_ids(frame, column, expected, name=name)
        return
    except SubmissionError as error:
        report.add(name, error, rows, column)
    ids = frame[column].astype(str).str.strip()
    known = frame[ids.isin(set(expected)) & ~ids.duplicated()]  # known ids once each: only missing ones can fail
    try:
        check_ids(known, column, expected, name=name)
    except SubmissionError as error:
        report.add(name, error, rows, column)


def check_table(home: Path, path: Path, name: str, hooks: list[dict], report, folder: Path | None = None) -> None:
    """`report`: format_check.Report (add, checked, notes)."""
    sample_path = sample_of(home, name)
    if not check_present(path, name, report, folder):
        return
    if sample_path is None:
        report.notes.append(f"{name}: no sample submission to compare it with: only checked that it is there")
        return
    sample = read_sample(sample_path)
    columns, rows = [str(c) for c in sample.columns], name.endswith(".parquet")
    try:
        frame = (read_parquet_table(path, name, columns) if rows else read_csv_table(path, columns, name=name))
    except SubmissionError as error:
        return report.add(name, error, rows)
    check_id_set(frame, columns[0], sample[columns[0]].astype(str).str.strip().tolist(), name, report, rows)
    for column in columns[1:]:
        try:
            check_column(home, frame, sample, column, name, hooks)
        except SubmissionError as error:
            report.add(name, error, rows)
    report.checked.append(f"{name}: the columns of {sample_path.relative_to(home)}, its {len(sample)} ids once "
                          f"each, and values of its types")


def check_column(home: Path, frame: pd.DataFrame, sample: pd.DataFrame, column: str, name: str, hooks) -> None:
    hook = next((h for h in hooks if h.get("column") == column), None)
    if hook is not None:  # the scorer's own rule for this column replaces the generic one
        return run_column_hook(home, hook, frame, column, name)
    if is_numeric(sample[column]):
        if name.endswith(".parquet") and not pd.api.types.is_numeric_dtype(frame[column]):
            raise SubmissionError(f"{name}, row 1, column '{column}': the column holds text; the scorer takes "
                                  f"numbers stored as numbers")
        parse_numbers(frame, column, name=name)
    else:
        check_filled(frame, column, name)


# ---------------------------------------------------------------------------------------------------------------
# The scorer's own checks (validate/checks.json)


def scorer_function(home: Path, hook: dict):
    path = home / "validate" / "scorer" / hook["module"]
    module_name = "scorer_" + re.sub(r"\W", "_", str(path))  # one per home: two homes may hold two versions
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return getattr(sys.modules[module_name], hook["function"])


def run_column_hook(home: Path, hook: dict, frame: pd.DataFrame, column: str, name: str) -> None:
    if hook["check"] == "label_sets":  # the count of labels is public: the rows of the public labels file
        count = len(pd.read_csv(home / hook["labels"]))
        scorer_function(home, hook)(frame[column].astype(str).tolist(), count)


def run_text_hooks(home: Path, text: str, hooks: list[dict]) -> None:
    for hook in hooks:
        if hook["check"] == "text":
            scorer_function(home, hook)(text)


def load_hooks(home: Path) -> list[dict]:
    path = home / "validate" / "checks.json"
    return json.loads(path.read_text(encoding="utf-8")).get("scorer_checks", []) if path.is_file() else []
