"""Every scoring program under fuzzed submissions: a finite score with the leaderboard's keys, or a clear refusal.

For each task, the reference solution is run once through the local worker (the two image tasks, whose
solutions train a network, get their public sample submission as a results submission instead); what the
scorer then received (ref/ and res/) is the starting point. Hypothesis then mutates one file the participant
produced (everything in res/ but ingestion_result.json and logs) and calls the task's `score(ref, res)` in
process. The contract, for any input:

- a `Scored` whose keys are exactly the leaderboard's column keys, every value a finite number under 1e10
  (what Codabench accepts), and whose report renders; or
- a `SubmissionError` with a message (the participant sees it; the entry exits 1 and writes no scores.json);
- never any other exception (a traceback as the only output), never NaN or infinity, never a hang.

One nasty case per task also runs the real entry (`python scoring.py IN OUT`) as a subprocess.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bundlegen.definition import load_all
from bundlegen.worker import Bundle, run_submission
from conftest import ROOT, TASK_IDS, load_module, quiet
from programlib import SubmissionError
from programlib.results import INGESTION_RESULT
from programlib.scoring import MAX_ABS_SCORE

BUDGET = 20  # seconds for one call of score(): a scorer past it hangs
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 25))  # per task; FUZZ_EXAMPLES=2000 for a long hunt
# Results submissions for these: their solutions train a network (minutes); the sample submission is scored instead.
RESULTS_ONLY = {"imet-2020-fgvc7", "physionet-ecg-image-digitization"}
GARBAGE = b"\xff\xfe\x00PK\x03\x04 not what you think \x81\x00,;\"\n\x00"

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("FUZZ_RANDOM"), database=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


# --- the starting point: what each scorer received for a good submission ---------------------------

@dataclass
class Case:
    task_id: str
    program_dir: Path
    score: Callable
    ref: Path
    res: Path
    keys: set[str]
    files: list[str]  # the participant's files in res/, relative, sorted
    always_there: set[str]  # files the ingestion program itself writes last: never absent after a run that is ok


def participant_files(res: Path) -> list[str]:
    found = []
    for path in sorted(res.rglob("*")):
        relative = path.relative_to(res)
        if path.is_file() and relative.as_posix() != INGESTION_RESULT and "logs" not in relative.parts:
            found.append(relative.as_posix())
    return found


def written_by_ingestion(res: Path) -> set[str]:
    """An executed notebook: the runner writes it back after the kernel ends (the participant can delete a script
    entry while it runs, but not this copy); a run that is ok always leaves it, and its absence is our bug."""
    if not (res / INGESTION_RESULT).is_file():
        return set()
    entry = json.loads((res / INGESTION_RESULT).read_text()).get("entry") or ""
    return {f"submission/{entry}"} if entry.endswith(".ipynb") else set()


def leaderboard_keys(bundle: Bundle) -> set[str]:
    columns = bundle.competition["leaderboards"][0]["columns"]
    return {column["key"] for column in columns if "computation" not in column}


def prepare(task_id: str, bundle_path: Path, work: Path) -> tuple[Path, Path]:
    """ref/ and res/ exactly as the scorer receives them for the reference solution (or the sample submission)."""
    bundle = Bundle(bundle_path)
    if task_id not in RESULTS_ONLY:
        solution = bundle.competition["solutions"][0]["path"]
        submission = work / "solution.zip"
        submission.write_bytes(bundle.archive.read(solution))
        result = run_submission(bundle_path, submission, workdir=work / "run", log=quiet)
        assert result.ok, f"{task_id}: the reference solution did not score: {result.error}"
        return work / "run" / "scoring" / "input" / "ref", work / "run" / "scoring" / "input" / "res"
    phase, task = bundle.phase_and_task(0)
    ref, res, public = work / "ref", work / "res", work / "public"
    bundle.extract_dataset(task["reference_data"], ref)
    bundle.extract_dataset(phase["public_data"], public)
    samples = sorted(public.glob("sample_submission.*"))
    assert samples, f"{task_id}: no sample_submission.* in the public data"
    res.mkdir()
    for sample in samples:  # a results submission: the files of bundle.yaml's submission.files, at the root
        shutil.copy(sample, res / sample.name.replace("sample_submission", "submission"))
    return ref, res


@pytest.fixture(scope="module")
def case_of(tiny_bundle, tmp_path_factory) -> Callable[[str], Case]:
    tasks = load_all()
    cases: dict[str, Case] = {}

    def get(task_id: str) -> Case:
        if task_id not in cases:
            program = tasks[task_id].model.scoring_program
            program_dir = ROOT / "scoring_programs" / program
            module = load_module(f"fuzz_scoring_{program}", program_dir / "scoring.py")
            bundle_path = tiny_bundle(task_id)
            ref, res = prepare(task_id, bundle_path, tmp_path_factory.mktemp(f"fuzz-{task_id}"))
            files = participant_files(res)
            assert files, f"{task_id}: the solution produced no file to fuzz"
            cases[task_id] = Case(task_id, program_dir, module.score, ref, res, leaderboard_keys(Bundle(bundle_path)),
                                  files, written_by_ingestion(res))
        return cases[task_id]

    return get


# --- the contract ----------------------------------------------------------------------------------

class Hang(BaseException):
    """Raised by the alarm; a BaseException so that no scorer's `except Exception` swallows it."""


@contextlib.contextmanager
def time_budget(seconds: int):
    def expire(_signum, _frame):
        raise Hang()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    # Regular expressions and other C loops do not see the alarm: past 3 budgets, dump every stack and exit.
    import faulthandler
    faulthandler.dump_traceback_later(3 * seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def score_within_contract(case: Case, ref: Path, res: Path) -> str:
    """'scored' or 'refused'; fails on anything else."""
    try:
        with time_budget(BUDGET):
            scored = case.score(ref, res)
            html = scored.report.render()
    except SubmissionError as error:
        assert str(error).strip(), f"{case.task_id}: a SubmissionError without a message"
        return "refused"
    except Hang:
        raise AssertionError(f"{case.task_id}: score() ran past its {BUDGET} s budget") from None
    assert isinstance(html, str) and html
    assert isinstance(scored.scores, dict)
    assert set(scored.scores) == case.keys, (
        f"{case.task_id}: wrote {sorted(scored.scores)}, the leaderboard shows {sorted(case.keys)}")
    for key, value in scored.scores.items():
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{key} = {value!r}"
        assert math.isfinite(value) and abs(value) < MAX_ABS_SCORE, f"{case.task_id}: score {key} = {value!r}"
    return "scored"


@contextlib.contextmanager
def copies(case: Case):
    """Fresh copies of ref/ and res/ for one example."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        ref, res = Path(folder) / "ref", Path(folder) / "res"
        shutil.copytree(case.ref, ref)
        shutil.copytree(case.res, res)
        yield ref, res


# --- mutations -------------------------------------------------------------------------------------

NASTY_CELLS = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e309", "-1e309", "", " ", "abc", "1e300", "-1e300",
               "-1", "2", "-0", "+1", "0x10", "1_000", "1,5", "0.5 ", " 0.5", "1e-320", "9" * 400, "9" * 5000,
               "\u0661", "\u00bd", "True", "None", "null", "NA", "[1, 2]", '"', "'", "0 1 2", "1  2", "1.5",
               "\x00", "\n", "a\nb", "\u202e1"]
NASTY_JSON = [None, "", "abc", "0.5", [], {}, [[]], [None], {"": None}, float("nan"), float("inf"), float("-inf"),
              1e308, -1e308, 10 ** 400, -(10 ** 400), 2 ** 63, -1, 0, 1, 0.5, True, False, [0.5, 0.5],
              [[1, 2], [3]], [[-1, 0], [0, 0]], [[1.5, 0], [0, 0]], [[float("nan"), 0], [0, 0]],
              [[float("inf"), 0], [0, 0]], [[10 ** 400, 0], [0, 0]], {"a": [1, {"b": None}]}, "\x00", "\ud800",
              "1e400", "1e" + "9" * 5000, "![a](//[x) ![b](%00)"]
HUGE_INT = "\u0000a 5000-digit integer"  # written into the JSON text as 5000 nines (json.loads refuses those)
NASTY_YAML = [".nan", ".inf", "-.inf", "1e400", "~", "{}", "[]", "yes", "0x10", "1_000", "12:30:00", "2024-01-01",
              "!!binary aGVsbG8=", "&a [*a]", "*nowhere", "!!python/object/apply:os.system ['true']", "'", "[",
              "{a: [1, {b: }]}", "9" * 5000, "- - - -", "? [a]\n: b", "!!set {a, b}", "!!timestamp 2001-12-14"]
NASTY_TEXT = ["[" * 20000, "(" * 20000, "![" * 10000, "<img src='" * 5000, "---\n" * 50, "```" * 3000,
              "python baseline.py " + "--x " * 5000, "auc " + "0." * 10000, "accuracy " + "1" * 10000, "\x00" * 100,
              "\u202e\ufeff\u200b", "\r" * 1000, "#" * 20000, "|" * 20000, "\t" * 2000, "- " * 10000,
              "![a](//[x)", "![a](%00)", "<img src='%00'>", "1e400", "x = " + "9" * 400, "-" * 100000 + "1"]


def text_of(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def position(data, length: int, label: str) -> int:
    return data.draw(st.integers(0, max(length, 0)), label=label)


# byte level: any file

def remove(data, path: Path) -> None:
    path.unlink()


def directory(data, path: Path) -> None:
    path.unlink()
    path.mkdir()


def empty(data, path: Path) -> None:
    path.write_bytes(data.draw(st.sampled_from([b"", b"\n", b" \n\t\n", b"\xef\xbb\xbf"]), label="content"))


def truncate(data, path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:position(data, len(raw) - 1, "keep")])


def random_bytes(data, path: Path) -> None:
    path.write_bytes(data.draw(st.binary(max_size=600), label="bytes"))


def splice_bytes(data, path: Path) -> None:
    raw = path.read_bytes()
    at = position(data, len(raw), "at")
    path.write_bytes(raw[:at] + data.draw(st.binary(min_size=1, max_size=64), label="bytes") + raw[at:])


def flip_byte(data, path: Path) -> None:
    raw = bytearray(path.read_bytes())
    if raw:
        raw[position(data, len(raw) - 1, "at")] = data.draw(st.integers(0, 255), label="byte")
    path.write_bytes(bytes(raw))


def bom(data, path: Path) -> None:
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def utf16(data, path: Path) -> None:
    path.write_bytes(text_of(path).encode(data.draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"]),
                                                    label="encoding")))


def latin1(data, path: Path) -> None:
    text = text_of(path)
    at = position(data, len(text), "at")
    path.write_bytes((text[:at] + "café ü " + text[at:]).encode("latin-1", errors="replace"))


def null_bytes(data, path: Path) -> None:
    raw = path.read_bytes()
    at = position(data, len(raw), "at")
    path.write_bytes(raw[:at] + b"\x00" * data.draw(st.integers(1, 64), label="count") + raw[at:])


BYTE_MUTATIONS = [remove, directory, empty, truncate, random_bytes, splice_bytes, flip_byte, bom, utf16, latin1,
                  null_bytes]


# text level: csv, json, ipynb, md, py, yaml, txt

def random_text(data, path: Path) -> None:
    path.write_text(data.draw(st.text(max_size=300), label="text"), encoding="utf-8")


def insert_text(data, path: Path) -> None:
    text = text_of(path)
    at = position(data, len(text), "at")
    inserted = data.draw(st.one_of(st.text(max_size=80), st.sampled_from(NASTY_TEXT)), label="inserted")
    path.write_text(text[:at] + inserted + text[at:], encoding="utf-8")


def edit_lines(data, path: Path) -> None:
    lines = text_of(path).splitlines(keepends=True)
    how = data.draw(st.sampled_from(["drop", "duplicate", "reverse", "shuffle", "blank", "only_first"]), label="how")
    start = position(data, len(lines), "start")
    stop = data.draw(st.integers(start, len(lines)), label="stop")
    if how == "drop":
        lines[start:stop] = []
    elif how == "duplicate":
        lines[start:stop] = lines[start:stop] * 2
    elif how == "reverse":
        lines[start:stop] = lines[start:stop][::-1]
    elif how == "shuffle":
        random.Random(data.draw(st.integers(0, 99), label="seed")).shuffle(lines)
    elif how == "blank":
        lines[start:stop] = ["\n"] * (stop - start)
    else:
        lines = lines[:1]
    path.write_text("".join(lines), encoding="utf-8")


def line_endings(data, path: Path) -> None:
    ending = data.draw(st.sampled_from(["\r\n", "\r", "\n\n", "\u2028", ""]), label="ending")
    path.write_text(text_of(path).replace("\n", ending), encoding="utf-8", newline="")


TEXT_MUTATIONS = [random_text, insert_text, edit_lines, line_endings]


# csv

def read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text_of(path))))


def write_rows(path: Path, rows: list[list[str]], delimiter: str = ",") -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def nasty_cell(data) -> str:
    return data.draw(st.one_of(st.sampled_from(NASTY_CELLS), st.text(max_size=20)), label="cell")


def csv_mutation(data, path: Path) -> None:
    rows = read_rows(path)
    if not rows:
        return
    header, body = rows[0], rows[1:]
    width = len(header)
    how = data.draw(st.sampled_from(["delimiter", "header_twice", "no_header", "duplicate_column", "drop_column",
                                     "extra_column", "rename_column", "swap_columns", "duplicate_rows", "drop_rows",
                                     "shuffle_rows", "cell", "column", "ragged", "quote"]), label="csv")
    column = position(data, width - 1, "column")
    row = position(data, len(body) - 1, "row")
    if how == "delimiter":
        write_rows(path, rows, data.draw(st.sampled_from([";", "\t", "|", " "]), label="delimiter"))
        return
    if how == "header_twice":
        body.insert(row, list(header))
    elif how == "no_header":
        header = body.pop(0) if body else []
    elif how == "duplicate_column":
        header.append(header[column])
        body = [r + [r[column] if column < len(r) else ""] for r in body]
    elif how == "drop_column":
        header = header[:column] + header[column + 1:]
        body = [r[:column] + r[column + 1:] for r in body]
    elif how == "extra_column":
        header.append(nasty_cell(data))
        body = [r + ["1"] for r in body]
    elif how == "rename_column":
        header[column] = data.draw(st.sampled_from(["", " ", header[column].upper(), header[column] + " ",
                                                    "\ufeff" + header[column], "x"]), label="name")
    elif how == "swap_columns":
        header = header[::-1]
    elif how == "duplicate_rows":
        body = body[:row] + body[row:row + data.draw(st.integers(1, 5), label="count")] * 2 + body[row + 5:]
    elif how == "drop_rows":
        body = body[:row] + body[row + data.draw(st.integers(1, len(body) + 1), label="count"):]
    elif how == "shuffle_rows":
        random.Random(data.draw(st.integers(0, 99), label="seed")).shuffle(body)
    elif how == "cell" and body:
        if column < len(body[row]):
            body[row][column] = nasty_cell(data)
    elif how == "column":
        value = nasty_cell(data)
        body = [r[:column] + [value] + r[column + 1:] for r in body]
    elif how == "ragged" and body:
        body[row] = body[row] + ["1"] if data.draw(st.booleans(), label="longer") else body[row][:-1]
    elif how == "quote":
        text = text_of(path)
        at = position(data, len(text), "at")
        path.write_text(text[:at] + '"' + text[at:], encoding="utf-8")
        return
    write_rows(path, [header] + body)


# json and notebooks

def json_paths(document, prefix=()) -> list[tuple]:
    """Every path into the document (keys and indexes), its root first."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += json_paths(value, prefix + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document[:50]):
            found += json_paths(value, prefix + (index,))
    return found


def set_at(document, path: tuple, value):
    if not path:
        return value
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if value is DROP:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


DROP = object()


def write_json(path: Path, document) -> None:
    text = json.dumps(document, allow_nan=True, ensure_ascii=False).replace(json.dumps(HUGE_INT), "9" * 5000)
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))


def load_json(path: Path):
    try:
        return json.loads(text_of(path))
    except json.JSONDecodeError:
        return None


def json_mutation(data, path: Path) -> None:
    document = load_json(path)
    how = data.draw(st.sampled_from(["value", "drop", "top", "deep", "as_list", "keys"]), label="json")
    paths = json_paths(document)
    where = data.draw(st.sampled_from(paths), label="path")
    if how == "value":
        document = set_at(document, where, data.draw(st.sampled_from(NASTY_JSON + [HUGE_INT]), label="value"))
    elif how == "drop" and where:
        document = set_at(document, where, DROP)
    elif how == "top":
        document = data.draw(st.sampled_from(NASTY_JSON), label="value")
    elif how == "deep":
        depth = data.draw(st.sampled_from([2, 60, 3000, 100_000]), label="depth")
        path.write_text("[" * depth + json.dumps(document) + "]" * depth, encoding="utf-8")
        return
    elif how == "as_list":
        node = document
        for part in where:
            node = node[part]
        if isinstance(node, dict):
            document = set_at(document, where, list(node.values()))
    elif how == "keys":
        node = document
        for part in where:
            node = node[part]
        if isinstance(node, dict):
            document = set_at(document, where, {key.upper() + " ": value for key, value in node.items()})
    write_json(path, document)


NOTEBOOK_GARBAGE = [None, "garbage", 5, [1, 2], [None], [{"output_type": "stream", "text": 5}],
                    [{"output_type": "stream", "text": [1, None]}], [{"output_type": "stream"}],
                    [{"output_type": "display_data", "data": {"image/png": "!!not base64!!"}}],
                    [{"output_type": "display_data", "data": {"image/png": ["iVBORw0KGgo", 7]}}],
                    [{"output_type": "display_data", "data": {"image/png": ""}}],
                    [{"output_type": "display_data", "data": "text/plain"}],
                    [{"output_type": "display_data", "data": ["text/plain", "image/png"]}],
                    [{"output_type": "display_data", "data": 3}],
                    [{"output_type": "execute_result", "data": {"text/plain": None, "text/html": {"a": 1}}}],
                    [{"output_type": "error"}], [{"output_type": "error", "ename": None, "evalue": [1]}],
                    [{"output_type": ["stream"]}],
                    [{"output_type": "stream", "text": "1e400 1e-99999 " + "9" * 400 + " 1e" + "9" * 5000}]]


def notebook_mutation(data, path: Path) -> None:
    document = load_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        return
    cells = document["cells"]
    how = data.draw(st.sampled_from(["remove_cells", "all_cells", "outputs", "source", "cell", "field"]), label="ipynb")
    index = position(data, len(cells) - 1, "cell")
    if how == "all_cells":
        document["cells"] = data.draw(st.sampled_from([[], None, "cells", {}, [None], [[]]]), label="cells")
    elif not cells:
        pass
    elif how == "remove_cells":
        del cells[index:index + data.draw(st.integers(1, len(cells)), label="count")]
    elif how == "outputs":
        cells[index]["outputs"] = data.draw(st.sampled_from(NOTEBOOK_GARBAGE), label="outputs")
    elif how == "source":
        cells[index]["source"] = data.draw(st.sampled_from([None, 5, [1, 2], ["a", None], {"a": 1}, "x" * 10000,
                                                            "\x00", ["print(1)\n", "\ud800"]]), label="source")
    elif how == "cell":
        cells[index] = data.draw(st.sampled_from([None, 5, "cell", [], {}]), label="cell")
    else:
        field = data.draw(st.sampled_from(["cell_type", "execution_count", "metadata", "outputs"]), label="field")
        cells[index][field] = data.draw(st.sampled_from(NASTY_JSON), label="value")
    write_json(path, document)


# parquet

def parquet_mutation(data, path: Path) -> None:
    try:
        frame = pd.read_parquet(path)
    except Exception:  # already broken by nothing: leave it
        return
    how = data.draw(st.sampled_from(["nan", "huge", "value_text", "id_int", "drop_column", "extra_column",
                                     "rename_column", "duplicate_rows", "drop_rows", "shuffle_rows", "empty",
                                     "value_list", "value_bool", "value_null", "id_null", "value_dtype",
                                     "id_dictionary", "id_bytes", "constant", "index"]), label="parquet")
    rows = len(frame)
    row = position(data, rows - 1, "row")
    value_column = frame.columns[-1]
    id_column = frame.columns[0]
    if how in ("nan", "huge") and rows:
        values = frame[value_column].to_numpy(dtype=np.float64, copy=True)
        choices = [np.nan, np.inf, -np.inf] if how == "nan" else [1e300, -1e300, 1e154, 1.7e308, 5e-324, 1e30]
        values[row: row + data.draw(st.integers(1, rows), label="count")] = data.draw(st.sampled_from(choices),
                                                                                     label="value")
        frame[value_column] = values
    elif how == "value_text":
        texts = frame[value_column].astype(str).to_numpy(dtype=object)
        if rows:
            texts[row] = nasty_cell(data)
        frame[value_column] = texts
    elif how == "id_int":
        frame[id_column] = np.arange(rows)
    elif how == "drop_column":
        frame = frame.drop(columns=[data.draw(st.sampled_from(list(frame.columns)), label="column")])
    elif how == "extra_column":
        frame["extra"] = 1.0
    elif how == "rename_column":
        frame = frame.rename(columns={data.draw(st.sampled_from(list(frame.columns)), label="column"):
                                      data.draw(st.sampled_from(["ID", "Value", "", "value ", "0"]), label="name")})
    elif how == "duplicate_rows":
        frame = pd.concat([frame, frame.iloc[row:row + 3]], ignore_index=True)
    elif how == "drop_rows":
        frame = frame.drop(index=frame.index[row:row + data.draw(st.integers(1, max(rows, 1)), label="count")])
    elif how == "shuffle_rows":
        frame = frame.sample(frac=1.0, random_state=data.draw(st.integers(0, 99), label="seed"))
    elif how == "empty":
        frame = frame.iloc[:0]
    elif how == "value_list":
        table = pa.table({id_column: pa.array(frame[id_column].astype(str)),
                          value_column: pa.array([[float(v)] for v in frame[value_column]], pa.list_(pa.float64()))})
        pq.write_table(table, path)
        return
    elif how == "value_bool":
        frame[value_column] = frame[value_column].astype(float) > 0
    elif how == "value_null":
        pq.write_table(pa.table({id_column: pa.array(frame[id_column].astype(str)),
                                 value_column: pa.nulls(rows, pa.float64())}), path)
        return
    elif how == "id_null" and rows:
        ids = frame[id_column].astype(object).to_numpy(copy=True)
        ids[row] = None
        frame[id_column] = ids
    elif how == "value_dtype":
        dtype = data.draw(st.sampled_from(["float16", "float32", "int8", "int64", "uint8", "category", "object"]),
                          label="dtype")
        frame[value_column] = frame[value_column].astype(float).clip(-1e4, 1e4).astype(dtype)
    elif how == "id_dictionary":
        frame[id_column] = frame[id_column].astype("category")
    elif how == "id_bytes":
        frame[id_column] = [str(v).encode() for v in frame[id_column]]
    elif how == "constant":
        frame[value_column] = data.draw(st.sampled_from([0.0, 1.0, -1e6]), label="value")
    elif how == "index":
        frame.to_parquet(path, index=True)
        return
    frame.to_parquet(path, index=False)


# npz checkpoints

def npz_mutation(data, path: Path) -> None:
    how = data.draw(st.sampled_from(["nan", "object", "none", "text", "scalar", "not_zip", "zip_garbage",
                                     "huge_shape"]), label="npz")
    if how == "huge_shape":  # a header that declares 8 TB of float64, then 8 bytes
        header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
        header += " " * (-(10 + len(header) + 1) % 64) + "\n"
        member = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\x00" * 8
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("w.npy", member)
        return
    if how == "nan":
        np.savez(path, w=np.array([1.0, np.nan]))
    elif how == "object":
        np.savez(path, w=np.array([{"a": 1}, None], dtype=object))
    elif how == "none":
        np.savez(path)
    elif how == "text":
        np.savez(path, w=np.array(["a", "b"]))
    elif how == "scalar":
        np.savez(path, w=np.float64(1.0), b=np.array(True))
    elif how == "not_zip":
        np.save(path.with_suffix(".npy"), np.ones(3))
        path.with_suffix(".npy").replace(path)
    else:  # a zip whose members are not arrays
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("w.npy", data.draw(st.binary(max_size=100), label="member"))
        path.write_bytes(buffer.getvalue())
    if path.with_name(path.name + ".npz").exists():  # np.savez appends .npz to a name without it
        path.with_name(path.name + ".npz").replace(path)


# markdown with YAML front matter, and YAML

def yaml_text_mutation(data, path: Path) -> None:
    """A nasty YAML value on a random line (after its key), or the front matter's fences broken."""
    lines = text_of(path).splitlines()
    how = data.draw(st.sampled_from(["value", "fence", "indent", "tab"]), label="yaml")
    candidates = [i for i, line in enumerate(lines) if ":" in line] or [0]
    index = data.draw(st.sampled_from(candidates), label="line")
    if how == "value" and lines:
        key = lines[index].split(":", 1)[0]
        lines[index] = f"{key}: {data.draw(st.sampled_from(NASTY_YAML), label='value')}"
    elif how == "fence":
        fences = [i for i, line in enumerate(lines) if line.strip() == "---"]
        if fences:
            lines[data.draw(st.sampled_from(fences), label="fence")] = data.draw(
                st.sampled_from(["", "--", "----", "...", "--- x", "---\t"]), label="replacement")
    elif how == "indent" and lines:
        lines[index] = "   " + lines[index]
    elif lines:
        lines[index] = lines[index].replace(" ", "\t", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def yaml_mutation(data, path: Path) -> None:
    """Parse, replace a value anywhere with a nasty one (as JSON would), dump."""
    try:
        document = yaml.safe_load(text_of(path))
    except yaml.YAMLError:
        return
    where = data.draw(st.sampled_from(json_paths(document)), label="path")
    value = data.draw(st.sampled_from([v for v in NASTY_JSON if not (isinstance(v, str) and "\ud800" in v)]),
                      label="value")
    path.write_text(yaml.safe_dump(set_at(document, where, value)), encoding="utf-8")


# png

def png_mutation(data, path: Path) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    how = data.draw(st.sampled_from(["header_only", "huge_header", "tiny", "blank"]), label="png")
    signature = b"\x89PNG\r\n\x1a\n"
    if how == "header_only":
        path.write_bytes(signature)
    elif how == "huge_header":  # claims 2**31-1 pixels a side, holds a few bytes
        ihdr = struct.pack(">IIBBBBB", 2 ** 31 - 1, 2 ** 31 - 1, 8, 2, 0, 0, 0)
        path.write_bytes(signature + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
                         + chunk(b"IEND", b""))
    else:
        side = 1 if how == "tiny" else 200
        ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
        raw = b"".join(b"\x00" + b"\x80" * side for _ in range(side))
        path.write_bytes(signature + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def mutations_for(relative: str) -> list:
    suffix = Path(relative).suffix.lower()
    kinds = list(BYTE_MUTATIONS)
    if suffix in (".csv", ".json", ".ipynb", ".md", ".py", ".yaml", ".yml", ".txt"):
        kinds += TEXT_MUTATIONS
    if suffix == ".csv":
        kinds += [csv_mutation] * 6  # the structured mutations are the interesting ones: drawn more often
    if suffix in (".json", ".ipynb"):
        kinds += [json_mutation] * 4
    if suffix == ".ipynb":
        kinds += [notebook_mutation] * 4
    if suffix == ".parquet":
        kinds += [parquet_mutation] * 8
    if suffix == ".npz":
        kinds += [npz_mutation] * 3
    if suffix in (".md", ".yaml", ".yml"):
        kinds += [yaml_text_mutation] * 3
    if suffix in (".yaml", ".yml"):
        kinds += [yaml_mutation] * 3
    if suffix == ".png":
        kinds += [png_mutation] * 3
    return kinds


def mutate(data, res: Path, case: Case) -> str:
    relative = data.draw(st.sampled_from(case.files), label="file")
    kinds = [kind for kind in mutations_for(relative)
             if not (relative in case.always_there and kind in (remove, directory))]
    kind = data.draw(st.sampled_from(kinds), label="mutation")
    kind(data, res / relative)
    return f"{relative}: {kind.__name__}"


# --- the tests -------------------------------------------------------------------------------------

def test_every_task_is_fuzzed():
    assert set(TASK_IDS) == set(load_all()) and len(TASK_IDS) >= 9


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_the_unmutated_output_scores_with_the_leaderboard_keys(case_of, task_id):
    case = case_of(task_id)
    with copies(case) as (ref, res):
        assert score_within_contract(case, ref, res) == "scored"


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_each_file_removed_emptied_or_garbage(case_of, task_id):
    case = case_of(task_id)
    for relative in case.files:
        for name, change in (("removed", lambda p: p.unlink()), ("emptied", lambda p: p.write_bytes(b"")),
                             ("garbage", lambda p: p.write_bytes(GARBAGE))):
            if name == "removed" and relative in case.always_there:
                continue
            with copies(case) as (ref, res):
                change(res / relative)
                try:
                    score_within_contract(case, ref, res)
                except BaseException as error:
                    raise AssertionError(f"{task_id}: {relative} {name}: {type(error).__name__}: {error}") from error


@pytest.mark.parametrize("task_id", TASK_IDS)
@FUZZ
@given(data=st.data())
def test_fuzzed_file_scores_or_is_refused(case_of, task_id, data):
    case = case_of(task_id)
    with copies(case) as (ref, res):
        what = mutate(data, res, case)
        note(what)
        score_within_contract(case, ref, res)


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_the_entry_refuses_garbage_with_a_message_not_a_traceback(case_of, task_id, tmp_path):
    """The real entry, as Codabench runs it: exit 1, 'ERROR: ...' on stderr, no scores.json."""
    case = case_of(task_id)
    refused = None
    for relative in case.files:  # the first file whose garbage the scorer refuses (in process)
        with copies(case) as (ref, res):
            (res / relative).write_bytes(GARBAGE)
            if score_within_contract(case, ref, res) == "refused":
                refused = relative
                break
    assert refused is not None, f"{task_id}: no file of the submission is refused when it is garbage"
    shutil.copytree(case.ref, tmp_path / "in" / "ref")
    shutil.copytree(case.res, tmp_path / "in" / "res")
    (tmp_path / "in" / "res" / refused).write_bytes(GARBAGE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    process = subprocess.run([sys.executable, "scoring.py", str(tmp_path / "in"), str(tmp_path / "out")],
                             cwd=case.program_dir, env=env, capture_output=True, text=True, timeout=120)
    assert process.returncode == 1, (process.returncode, process.stderr[-2000:])
    assert process.stderr.startswith("ERROR: "), process.stderr[-2000:]
    assert "Traceback" not in process.stderr, process.stderr[-2000:]
    assert len(process.stderr.strip()) > len("ERROR: ") + 10
    assert not (tmp_path / "out" / "scores.json").exists()


# --- inputs the fuzzer found (or reading the scorers showed) crashing a scorer: fixed, and kept here -----------

def edit_json(change: Callable) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        document = json.loads(path.read_text(encoding="utf-8"))
        write_json(path, change(document) or document)
    return edit


def set_first_cell(field: str, value) -> Callable[[Path], None]:
    return edit_json(lambda book: book["cells"][0].__setitem__(field, value))


def write(content: str | bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def append(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def replace_line(prefix: str, line: str) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        lines = path.read_text(encoding="utf-8").splitlines()
        index = next(i for i, text in enumerate(lines) if text.strip().startswith(prefix))
        lines[index] = line
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return edit


def huge_values(path: Path) -> None:
    frame = pd.read_parquet(path)
    frame.loc[:1, "value"] = 1.7e308
    frame.to_parquet(path, index=False)


def stream_output(text: str) -> Callable[[Path], None]:
    return set_first_cell("outputs", [{"output_type": "stream", "name": "stdout", "text": text}])


DEEP = "[" * 3000 + "]" * 3000
FOUND = [  # (task, file, what it becomes, the crash it caused before its fix)
    ("tabular-baseline", "predictions/predictions.csv", write(b"\xef\xbb\xbf"), "StopIteration (tables.py)"),
    ("refactor-train-config", "predictions/checkpoints/epoch_001.npz", write(b"PK\x03\x04"), "BadZipFile"),
    ("refactor-train-config", "submission/config.yaml", write("model: &loop [*loop]\n"), "RecursionError"),
    ("refactor-train-config", "submission/config.yaml", append("extra: " + "9" * 5000 + "\n"), "ValueError"),
    ("refactor-train-config", "submission/train.py", append("\nBIG = " + "9" * 400 + "\n"), "OverflowError"),
    ("refactor-train-config", "submission/train.py", append("\nX = " + "-" * 100000 + "1\n"), "MemoryError"),
    ("eda-notebook", "submission/eda.ipynb", set_first_cell("source", [1, 2]), "TypeError (notebooks.py)"),
    ("eda-notebook", "submission/eda.ipynb", set_first_cell("outputs", 5), "TypeError (notebooks.py)"),
    ("eda-notebook", "submission/eda.ipynb", stream_output("the mean is 1e400\n"), "OverflowError"),
    ("eda-notebook", "submission/eda.ipynb", stream_output("1e" + "9" * 5000 + "\n"), "ValueError"),
    ("eda-notebook", "submission/eda.ipynb", write(DEEP), "RecursionError (notebooks.py)"),
    ("model-comparison", "submission/comparison.ipynb",
     edit_json(lambda book: book["cells"][0].__setitem__("source", ["x = 1\n", None])), "TypeError (notebooks.py)"),
    ("model-comparison", "submission/comparison.ipynb", set_first_cell("outputs", [
        {"output_type": "display_data", "data": ["text/plain"]}]), "TypeError (notebooks.py)"),
    ("model-comparison", "predictions/comparison.json", write(DEEP), "RecursionError"),
    ("model-comparison", "predictions/comparison.json", write('{"metrics": ' + "9" * 5000 + "}"), "ValueError"),
    ("model-comparison", "predictions/comparison.json",
     edit_json(lambda d: d["metrics"]["model_A"].__setitem__("accuracy", HUGE_INT)), "ValueError"),
    ("model-comparison", "predictions/comparison.json",
     edit_json(lambda d: d["metrics"]["model_A"].__setitem__("accuracy", 10 ** 400)), "OverflowError"),
    ("eval-metrics-report", "predictions/metrics.json", write(DEEP), "RecursionError"),
    ("eval-metrics-report", "predictions/metrics.json",
     edit_json(lambda d: d.__setitem__("roc_auc", 10 ** 400)), "OverflowError"),
    ("eval-metrics-report", "predictions/metrics.json",
     edit_json(lambda d: d.__setitem__("confusion_matrix", [[float("inf"), 0], [0, 0]])), "OverflowError"),
    ("eval-metrics-report", "predictions/metrics.json",
     edit_json(lambda d: d.__setitem__("confusion_matrix", [[float("nan"), 0], [0, 0]])), "ValueError"),
    ("eval-metrics-report", "predictions/report.md", append("\n![roc](//[x)\n"), "ValueError (urlparse)"),
    ("eval-metrics-report", "predictions/report.md", append("\n![roc](roc%00.png)\n"), "ValueError (resolve)"),
    ("churn-spec", "spec.md", replace_line("horizon_days:", "  horizon_days: " + "9" * 400), "OverflowError"),
    ("churn-spec", "spec.md", replace_line("horizon_days:", "  horizon_days: " + "9" * 5000), "ValueError"),
    ("physionet-ecg-image-digitization", "submission.parquet", huge_values, "ValueError (report histogram)"),
]


@pytest.mark.parametrize("task_id, relative, change, before", FOUND,
                         ids=[f"{task}:{relative}:{i}" for i, (task, relative, _, _) in enumerate(FOUND)])
def test_inputs_that_crashed_a_scorer(case_of, task_id, relative, change, before):
    case = case_of(task_id)
    with copies(case) as (ref, res):
        change(res / relative)
        score_within_contract(case, ref, res)
