"""The library vendored into every program: table checks, scores.json, process limits, safe unzip."""
from __future__ import annotations

import json
import stat
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from programlib import SubmissionError
from programlib.archive import UnsafeArchiveError, safe_extract
from programlib.runner import run_process
from programlib.scoring import Scored, check_scores, run_scoring
from programlib.tables import check_ids, parse_numbers, read_csv_table
from conftest import ROOT, load_module, processes_with


def table(tmp_path: Path, text: str | bytes, columns=("id", "target")):
    path = tmp_path / "predictions.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return read_csv_table(path, list(columns))


def test_reads_bom_and_any_column_order(tmp_path):
    frame = table(tmp_path, "\ufefftarget,id\n0.25,a\n0.75,b\n")
    assert list(frame.columns) == ["id", "target"] and frame["id"].tolist() == ["a", "b"]


@pytest.mark.parametrize("text,message", [
    ("", "predictions.csv: the file is empty"),
    ("id,target,target\na,1,1\n", "predictions.csv, line 1: column(s) 'target' appear more than once"),
    ("id,target\na,0.1\nb\n", "predictions.csv, line 3: 1 field(s), the header has 2"),
    (b"id,target\n\xff\xfe,1\n", "predictions.csv: not UTF-8 text"),
    ("id;target\na;1\n", "predictions.csv, line 1: missing column(s) 'id', 'target'; unexpected column(s) 'id;target'"),
])
def test_table_errors_name_file_and_line(tmp_path, text, message):
    with pytest.raises(SubmissionError) as caught:
        table(tmp_path, text)
    assert str(caught.value).startswith(message)


def test_ids_are_aligned_and_checked(tmp_path):
    frame = table(tmp_path, "id,target\nb,0.2\na,0.9\n")
    order = check_ids(frame, "id", ["a", "b"], name="p.csv")
    assert parse_numbers(frame, "target", name="p.csv")[order].tolist() == [0.9, 0.2]
    with pytest.raises(SubmissionError, match=r"p.csv: 1 test id\(s\) have no row: 'c'"):
        check_ids(frame, "id", ["a", "b", "c"], name="p.csv")
    with pytest.raises(SubmissionError, match=r"p.csv, line 2, column 'id': unknown id 'b'"):
        check_ids(frame, "id", ["a"], name="p.csv")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity", "abc", ""])
def test_non_numbers_are_rejected(tmp_path, value):
    frame = table(tmp_path, f"id,target\na,{value}\n")
    with pytest.raises(SubmissionError, match=r"predictions.csv, line 2, column 'target'"):
        parse_numbers(frame, "target", name="predictions.csv")


def test_scores_must_be_flat_and_finite():
    assert check_scores({"a": 1, "b": 0.5}) == {"a": 1.0, "b": 0.5}
    for bad in ({"a": float("nan")}, {"a": float("inf")}, {"a": 1e12}, {"a": {"b": 1}}, {"a": True}, {}):
        with pytest.raises(AssertionError):
            check_scores(bad)


def test_run_scoring_writes_nothing_on_a_participant_error(tmp_path, capsys):
    (tmp_path / "in" / "ref").mkdir(parents=True)
    (tmp_path / "in" / "res").mkdir()

    def refuse(reference, result):
        raise SubmissionError("predictions.csv, line 3, column 'target': 'x' is not a number")

    assert run_scoring(refuse, [str(tmp_path / "in"), str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out" / "scores.json").exists()
    assert "line 3, column 'target'" in capsys.readouterr().err
    assert "is not a number" in (tmp_path / "out" / "detailed_results.html").read_text()

    assert run_scoring(lambda ref, res: Scored({"score": np.float64(0.5)}), [str(tmp_path / "in"), str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "scores.json").read_text()) == {"score": 0.5}


def test_runner_kills_the_whole_tree_at_the_limit(tmp_path):
    token = f"grandchild-{tmp_path.name}"
    script = ("import subprocess, sys, time\n"
              f"subprocess.Popen([sys.executable, '-c', 'import time; open(\"started\", \"w\"); time.sleep(60)', "
              f"'{token}'], start_new_session=True)\n"
              "time.sleep(60)\n")
    started = time.monotonic()
    result = run_process([sys.executable, "-c", script], cwd=tmp_path, time_limit=1.5,
                         stdout_path=tmp_path / "out.txt", stderr_path=tmp_path / "err.txt")
    assert result.timed_out and result.exit_code is None and not result.ok
    assert time.monotonic() - started < 10
    assert (tmp_path / "started").exists(), "the grandchild ran"
    assert not processes_with(token), "the grandchild, in a session of its own, was killed too"


def test_runner_reports_exit_codes(tmp_path):
    result = run_process([sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"], cwd=tmp_path,
                         stdout_path=tmp_path / "o.txt", stderr_path=tmp_path / "e.txt", time_limit=30)
    assert result.exit_code == 3 and not result.timed_out
    assert (tmp_path / "o.txt").read_text() == "hi\n"


def zip_with(path: Path, name: str, data: bytes = b"x", mode: int | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        archive.writestr(info, data)
    return path


@pytest.mark.parametrize("name,mode,message", [
    ("../up.txt", None, "escapes the target folder"),
    ("a/../../up.txt", None, "escapes the target folder"),
    ("/etc/passwd-copy", None, "has an absolute path"),
    ("link", stat.S_IFLNK | 0o777, "is a symbolic link"),
])
def test_unsafe_zip_entries_are_refused_before_anything_is_written(tmp_path, name, mode, message):
    archive = zip_with(tmp_path / "bad.zip", name, b"/etc/passwd" if mode else b"x", mode)
    target = tmp_path / "target"
    with pytest.raises(UnsafeArchiveError, match=message):
        safe_extract(archive, target)
    assert not target.exists()
    assert not (tmp_path / "up.txt").exists()


def test_not_a_zip_and_size_limit(tmp_path):
    (tmp_path / "plain.zip").write_text("not a zip")
    with pytest.raises(UnsafeArchiveError, match="not a valid zip file"):
        safe_extract(tmp_path / "plain.zip", tmp_path / "t")
    big = zip_with(tmp_path / "big.zip", "zeros.bin", bytes(10_000))
    with pytest.raises(UnsafeArchiveError, match="more than the limit"):
        safe_extract(big, tmp_path / "t", max_total_bytes=1000)


def test_a_missing_value_is_a_dash_not_python_none():
    """Issue 12: detailed results showed Python's `None` for a missing value."""
    from programlib.report import Report
    report = Report("t")
    report.table(["metric", "value"], [["rmse", None], ["mae", float("nan")], ["r2", 0.5], ["n", 3]])
    page = report.render()
    assert "None" not in page and "nan" not in page
    assert page.count('<td class="num">-</td>') == 2 and '<td class="num">0.5000</td>' in page
    for name in ("churn_spec", "eda_notebook"):
        scoring = load_module(f"{name}_scoring_for_test", ROOT / "scoring_programs" / name / "scoring.py")
        assert scoring.describe(None) == "-" and scoring.describe(True) == "yes"


def test_scores_print_with_6_significant_digits_and_no_float_noise():
    from build_bundle import format_score
    assert format_score(0.9999999999999999) == "1"
    assert format_score(0.123456789) == "0.123457"
    assert format_score(12345678.9) == "1.23457e+07"
    assert format_score(3) == "3" and format_score(None) == "-" and format_score("text") == "text"


def test_overall_is_the_weighted_sum_of_the_weights_keys():
    """Issue 12: one overall() for every rubric, in place of seven copies."""
    from programlib.scoring import overall
    weights = {"a": 0.25, "b": 0.75}
    assert overall({"a": 1.0, "b": 1.0}, weights) == pytest.approx(1.0)
    assert overall({"a": 1.0, "b": 0.0, "ignored": 5.0}, weights) == pytest.approx(0.25)
    with pytest.raises(KeyError):
        overall({"a": 1.0}, weights)


def test_describe_writes_a_check_as_words():
    from programlib.report import describe
    assert describe(None) == "-" and describe(True) == "yes" and describe(False) == "no"
    assert describe([1, "x"]) == "1, x" and describe([]) == "none" and describe(0.5) == "0.5" and describe("a") == "a"


def test_is_finite_number_takes_ints_and_floats_only():
    from programlib.checks import is_finite_number
    assert is_finite_number(0) and is_finite_number(-2.5) and is_finite_number(10**300)
    for value in (True, False, None, "1", [1], float("nan"), float("inf"), -float("inf"), 10**400):
        assert not is_finite_number(value), value


def test_read_json_turns_a_bad_file_into_the_participants_error(tmp_path):
    from programlib.checks import read_json
    path = tmp_path / "metrics.json"
    path.write_text('{"a": [1, 2.5]}', encoding="utf-8")
    assert read_json(path) == {"a": [1, 2.5]}
    for content, kind in ((b"{not json", "JSONDecodeError"), (b'{"a": "\xff"}', "UnicodeDecodeError"),
                          (b"1" * 5000, "ValueError"), (b"[" * 100000 + b"]" * 100000, "RecursionError")):
        path.write_bytes(content)
        with pytest.raises(SubmissionError, match=rf"^metrics\.json is not valid JSON: {kind}: "):
            read_json(path)


@pytest.mark.parametrize("bad,said", [(np.nan, "'nan' is not a finite number"), (np.inf, "'inf' is not a finite number"),
                                      (5.0, "5.0 is outside [-1, 1]")])
def test_a_numeric_column_is_parsed_at_once_and_its_first_problem_named(bad, said):
    """A parquet column is numbers already: checked in one pass, its first bad cell worded as a text cell's."""
    values = np.linspace(-1, 1, 100_000)
    assert parse_numbers(pd.DataFrame({"v": values}), "v", name="s.parquet", low=-1, high=1).tolist() == values.tolist()
    values[[70_000, 80_000]] = bad
    with pytest.raises(SubmissionError) as caught:
        parse_numbers(pd.DataFrame({"v": values}), "v", name="s.parquet", low=-1, high=1)
    assert str(caught.value) == f"s.parquet, line 70002, column 'v': {said}"
