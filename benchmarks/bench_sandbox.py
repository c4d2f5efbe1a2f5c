"""What the participant's sandbox costs: bubblewrap + seccomp + a cgroup per job, against a bare subprocess.

Start-up: `/bin/true` run through `run_process` with the sandbox and kernel limits, against `subprocess.run` of the
same program (the cost a job pays once). Memory accounting: a program that allocates and touches 400 MB in 4 MB
blocks, in a memory cgroup, against the same program bare (the cgroup charges every page it touches).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from run import Measure

from programlib.runner import Limits, run_process
from programlib.sandbox import Confinement, probe

REPEATS = 15
TOUCH = "blocks = [bytearray(4 * 1024**2) for _ in range(100)]\nfor block in blocks:\n    block[::4096] = b'x' * 1024\n"
LIMITS = Limits(memory_mb=2048, max_processes=64, max_output_mb=16, max_file_mb=64)


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def confined(command: list[str], workdir: Path) -> None:
    result = run_process(command, cwd=workdir, stdout_path=workdir / "out.txt", stderr_path=workdir / "err.txt",
                         time_limit=60, limits=LIMITS, confinement=Confinement(visible={workdir: True}))
    assert result.ok, (result.exit_code, result.limit_hit, (workdir / "err.txt").read_text())


def bare(command: list[str], workdir: Path) -> None:
    subprocess.run(command, cwd=workdir, check=True, capture_output=True)


def paired(command: list[str], workdir: Path) -> tuple[float, float]:
    """(median sandboxed, median bare) seconds, interleaved so both sides see the same machine."""
    inside, outside = [], []
    for _ in range(REPEATS):
        inside.append(timed(lambda: confined(command, workdir)))
        outside.append(timed(lambda: bare(command, workdir)))
    return statistics.median(inside), statistics.median(outside)


def bench(workdir: Path) -> list[Measure]:
    problem = probe()
    assert problem is None, problem
    confined(["/bin/true"], workdir)  # warm: the seccomp filter is compiled once per process
    start, start_bare = paired(["/bin/true"], workdir)
    memory, memory_bare = paired([sys.executable, "-c", TOUCH], workdir)
    return [
        Measure("sandbox start-up per job (bwrap+seccomp+cgroup)", start - start_bare, "s", "bare subprocess",
                start_bare, "< 0.050 s over a bare subprocess", start - start_bare < 0.050),
        Measure("400 MB touched in a memory cgroup, sandboxed", memory, "s", "same program, bare", memory_bare,
                "< 10% + 0.05 s over bare", memory < memory_bare * 1.10 + 0.050),
    ]
