"""Run a program with a wall-clock limit and leave nothing of it running afterwards.

Docker kills a whole container at the time limit. Without docker we start the program in its own
session (so its process group can be killed at once) and tag its environment with a marker, so
that descendants that started their own session are found in /proc and killed too.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

MARKER_PREFIX = "PROGRAMLIB_RUN_"  # one variable per run, so nested runs keep the outer marker
GRACE_SECONDS = 3.0


@dataclass
class ProcessResult:
    command: list[str]
    exit_code: int | None  # None when it was killed at the time limit
    timed_out: bool
    duration: float
    time_limit: float | None
    stdout_path: Path
    stderr_path: Path
    stopped: bool = False  # stopped on request before it ended (not a time-out)

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.stopped and self.exit_code == 0


def _processes_with_marker(marker: str) -> list[int]:
    needle = f"{MARKER_PREFIX}{marker}=1".encode()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue  # gone, or not ours
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has let go of everything; its parent reaps it


def _kill_everything(process: subprocess.Popen, marker: str, wait_seconds: float = 5.0) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    killed = _processes_with_marker(marker)
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    # SIGKILL is asynchronous: return only once they are gone, so no caller sees a survivor.
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and any(_running(pid) for pid in killed):
        time.sleep(0.02)


def run_process(command: Sequence[str], *, cwd: Path, stdout_path: Path, stderr_path: Path,
                time_limit: float | None = None, env: Mapping[str, str] | None = None,
                stop: threading.Event | None = None) -> ProcessResult:
    """Run `command` (no shell), logging to files; kill it and all it started at `time_limit` seconds,
    or as soon as `stop` is set (then `stopped` is true)."""
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    marker = uuid.uuid4().hex
    full_env = dict(os.environ if env is None else env)
    full_env[MARKER_PREFIX + marker] = "1"
    started = time.monotonic()
    timed_out = False
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(list(command), cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   env=full_env, start_new_session=True)
        try:
            _wait(process, started, time_limit, stop)
        except subprocess.TimeoutExpired:
            timed_out = stop is None or not stop.is_set()
            # A polite signal first, so a program that runs children of its own can stop them and say so.
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        finally:
            _kill_everything(process, marker)
            process.wait()
    duration = time.monotonic() - started
    stopped = stop is not None and stop.is_set() and not timed_out
    return ProcessResult(command=list(command), exit_code=None if timed_out or stopped else process.returncode,
                         timed_out=timed_out, duration=duration, time_limit=time_limit,
                         stdout_path=stdout_path, stderr_path=stderr_path, stopped=stopped)


def _wait(process: subprocess.Popen, started: float, time_limit: float | None, stop: threading.Event | None) -> None:
    """Wait for the process; TimeoutExpired at the time limit or when `stop` is set."""
    if stop is None:
        process.wait(timeout=time_limit)
        return
    while True:
        remaining = None if time_limit is None else time_limit - (time.monotonic() - started)
        if stop.is_set() or (remaining is not None and remaining <= 0):
            raise subprocess.TimeoutExpired(process.args, time_limit or 0)
        try:
            process.wait(timeout=0.2 if remaining is None else min(0.2, remaining))
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, lines: int = 20, max_chars: int = 4000) -> str:
    """The last lines of a log file, for error messages."""
    if not path.is_file():
        return ""
    text = path.read_bytes()[-max_chars * 4:].decode("utf-8", errors="replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])[-max_chars:]
