"""benchmarks/run.py's command line (issue 12): --help is help, an unknown name is an error, nothing is overwritten."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

RUN = ROOT / "benchmarks" / "run.py"
LATEST = ROOT / "benchmarks" / "results" / "latest.json"


def snapshot() -> tuple[bytes | None, int | None]:
    return (LATEST.read_bytes(), LATEST.stat().st_mtime_ns) if LATEST.exists() else (None, None)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_help_prints_usage_and_runs_nothing():
    before = snapshot()
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: benchmarks/run.py" in result.stdout and "sandbox" in result.stdout  # lists the benchmarks
    assert "solutions" in result.stdout  # each bundled solution against its time limit (bench_solutions.py)
    assert "==" not in result.stdout  # no benchmark started
    assert snapshot() == before


@pytest.mark.parametrize("args", [["no-such-bench"], ["sandbox", "no-such-bench"]])
def test_unknown_benchmark_is_rejected_before_anything_runs(args):
    before = snapshot()
    result = run(*args)
    assert result.returncode == 2
    assert "unknown benchmark 'no-such-bench'" in result.stderr and "choose from" in result.stderr
    assert "==" not in result.stdout  # "sandbox" did not run either
    assert snapshot() == before
