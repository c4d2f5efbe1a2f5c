"""No answer reaches a participant: neither an answer file nor the answer values inside another table.

What participants (and the ingestion program, which runs their code) can receive is everything in
the bundle except the reference data and the solutions: public data, starting kits, input data,
programs, pages. Zips are looked into, recursively.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

TABLE_SUFFIXES = {".csv", ".tsv", ".parquet"}
MIN_HASHED_BYTES = 64  # tiny files (a lone "0") match by chance
MIN_OVERLAP = 10
MAX_TABLE_BYTES = 200 * 1024**2
MAX_DEPTH = 3


@dataclass
class Member:
    name: str  # "public_data.zip:train.csv"
    data: bytes


def members(archive: zipfile.ZipFile, prefix: str = "", depth: int = 0):
    """Every file of a zip, looking into nested zips."""
    for info in archive.infolist():
        if info.is_dir():
            continue
        data = archive.read(info)
        name = f"{prefix}{info.filename}"
        if depth < MAX_DEPTH and zipfile.is_zipfile(io.BytesIO(data)):
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    yield from members(inner, f"{name}:", depth + 1)
                continue
            except zipfile.BadZipFile:
                pass
        yield Member(name, data)


def read_table(member: Member) -> pd.DataFrame | None:
    suffix = PurePosixPath(member.name.split(":")[-1]).suffix.lower()
    if suffix not in TABLE_SUFFIXES or len(member.data) > MAX_TABLE_BYTES:
        return None
    try:
        if suffix == ".parquet":
            return pd.read_parquet(io.BytesIO(member.data)).astype(str)
        return pd.read_csv(io.BytesIO(member.data), dtype=str, keep_default_na=False,
                           sep="\t" if suffix == ".tsv" else ",")
    except Exception:  # not a table after all: the file checks still apply
        return None


def _as_numbers(values: pd.Series) -> np.ndarray | None:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return None if np.isnan(numbers).any() else numbers


def same_values(answers: pd.Series, candidate: pd.Series) -> bool:
    """Equal row by row (as numbers when both are numbers), and not a constant that matches by chance."""
    if len(answers) < MIN_OVERLAP or answers.nunique() < 2:
        return False
    left, right = _as_numbers(answers), _as_numbers(candidate)
    if left is not None and right is not None:
        return bool(np.allclose(left, right, rtol=1e-9, atol=1e-12))
    return bool((answers.str.strip().to_numpy() == candidate.astype(str).str.strip().to_numpy()).all())


def table_leaks(answer_name: str, answers: pd.DataFrame, visible_name: str, visible: pd.DataFrame):
    id_column, answer_columns = answers.columns[0], list(answers.columns[1:])
    if id_column in visible.columns and answer_columns:  # the answers, looked up by id
        merged = answers.merge(visible, on=id_column, how="inner", suffixes=("@answer", ""))
        for answer in answer_columns:
            left = merged[f"{answer}@answer" if answer in visible.columns else answer]
            for column in visible.columns:
                if column != id_column and same_values(left, merged[column]):
                    yield (visible_name, f"column {column!r} holds the answers ({answer_name} column {answer!r}) "
                                         f"for {len(merged)} ids")
    elif len(visible) == len(answers):  # the answers, in the same row order
        for answer in answer_columns or [id_column]:
            for column in visible.columns:
                if same_values(answers[answer], visible[column]):
                    yield (visible_name, f"column {column!r} equals the answers ({answer_name} column {answer!r}) "
                                         f"row by row")


def find_leaks(archive: zipfile.ZipFile, competition: dict, public_reference: list[str] = ()):
    """Yield (where, message) for every answer file or answer column a participant could receive.

    `public_reference` names reference files that are not answers (bundle.json says which), such as a label list
    the scorer needs and participants get too.
    """
    def paths(key: str, field: str) -> set:  # fields of the wrong type are the validator's to report
        entries = competition.get(key)
        entries = entries if isinstance(entries, list) else []
        return {e[field] for e in entries if isinstance(e, dict) and isinstance(e.get(field), str)}

    references, solutions = paths("tasks", "reference_data"), paths("solutions", "path")
    references.discard(None)
    solutions.discard(None)

    def under(name: str, paths: set) -> bool:  # a path may name a zip or a folder of the bundle
        return any(name == path or name.startswith(str(path).rstrip("/") + "/") for path in paths)

    answers, visible = [], []
    for info in archive.infolist():
        if info.is_dir() or (under(info.filename, solutions) and not under(info.filename, references)):
            continue  # solutions are the organiser's
        is_reference = under(info.filename, references)
        group = answers if is_reference else visible
        data = archive.read(info)
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                found = members(inner, f"{info.filename}:", 1)
                group.extend(m for m in found if not (is_reference and m.name.split(":")[-1] in public_reference))
        else:
            group.append(Member(info.filename, data))

    by_hash = {}
    for member in visible:
        if len(member.data) >= MIN_HASHED_BYTES:
            by_hash.setdefault(hashlib.sha256(member.data).hexdigest(), []).append(member.name)
    for member in answers:
        for name in by_hash.get(hashlib.sha256(member.data).hexdigest(), []):
            yield name, f"is a copy of the answer file {member.name}"

    visible_tables = [(m.name, t) for m in visible if (t := read_table(m)) is not None]
    for member in answers:
        table = read_table(member)
        if table is None or table.empty:
            continue
        for visible_name, visible_table in visible_tables:
            yield from table_leaks(member.name, table, visible_name, visible_table)
