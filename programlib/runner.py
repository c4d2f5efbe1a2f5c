"""Run a program with a wall-clock limit and leave nothing of it running afterwards.

Docker kills a whole container at the time limit. Without docker we start the program in its own
session (so its process group can be killed at once) and tag its environment with a marker, so
that descendants that started their own session are found in /proc and killed too.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

MARKER_PREFIX = "PROGRAMLIB_RUN_"  # one variable per run, so nested runs keep the outer marker
GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class Limits:
    """What a participant's process tree may use; None = no limit. Docker would enforce these with cgroups."""
    memory_mb: float | None = None  # resident memory of the whole tree, sampled every POLL_SECONDS
    cpu_seconds: float | None = None  # CPU time of each process (RLIMIT_CPU)
    max_processes: int | None = None  # processes alive at once in the tree
    max_output_mb: float | None = None  # what it prints (stdout + stderr together)
    max_file_mb: float | None = None  # the size of any one file it writes (RLIMIT_FSIZE)
    network: bool = True  # False: run in a new network namespace with only loopback (unshare, no root needed)
    private_files: bool = False  # True: a private root holding only the system, Python and the `visible` paths


POLL_SECONDS = 0.25
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SANDBOX = Path(__file__).resolve().parent / "sandbox.py"


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
    limit_hit: str | None = None  # which limit of `Limits` stopped it, in words
    network_isolated: bool | None = None  # None: no isolation was asked for
    files_isolated: bool | None = None  # a private root (None: not asked for)

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.stopped and self.limit_hit is None and self.exit_code == 0


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
                stop: threading.Event | None = None, limits: Limits | None = None,
                visible: Mapping[Path, bool] | None = None) -> ProcessResult:
    """Run `command` (no shell), logging to files; kill it and all it started at `time_limit` seconds,
    as soon as `stop` is set (then `stopped` is true), or when it exceeds one of `limits` (`limit_hit`).
    With `limits.private_files`, the program sees only the system, Python and `visible` ({path: writable})."""
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    marker = uuid.uuid4().hex
    full_env = dict(os.environ if env is None else env)
    full_env[MARKER_PREFIX + marker] = "1"
    command, isolated, sandboxed = list(command), None, None
    if limits is not None and (not limits.network or limits.private_files):
        sandboxed = sandbox_available()
        if sandboxed:
            command = sandbox_command(command, limits, visible)
        isolated = sandboxed if not limits.network else None
    started = time.monotonic()
    timed_out, limit_hit = False, None
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   env=full_env, start_new_session=True,
                                   preexec_fn=_resource_limits(limits) if limits is not None else None)
        try:
            limit_hit = _wait(process, started, time_limit, stop, limits, marker, (stdout_path, stderr_path))
            if limit_hit is not None:
                _kill_everything(process, marker)
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
    if limit_hit is None and limits is not None:  # ended between two checks, or the kernel stopped it
        limit_hit = _check_limits(replace(limits, memory_mb=None, max_processes=None), marker,
                                  (stdout_path, stderr_path)) or _signal_limit(process.returncode, limits, stderr_path)
    killed = timed_out or stopped or limit_hit is not None
    return ProcessResult(command=list(command), exit_code=None if killed else process.returncode,
                         timed_out=timed_out, duration=duration, time_limit=time_limit,
                         stdout_path=stdout_path, stderr_path=stderr_path, stopped=stopped, limit_hit=limit_hit,
                         network_isolated=isolated,
                         files_isolated=sandboxed if limits is not None and limits.private_files else None)


def _wait(process: subprocess.Popen, started: float, time_limit: float | None, stop: threading.Event | None,
          limits: Limits | None, marker: str, logs: tuple[Path, Path]) -> str | None:
    """Wait for the process; TimeoutExpired at the time limit or when `stop` is set; the limit it broke, if any."""
    watching = limits is not None and any(value is not None for value in (
        limits.memory_mb, limits.max_processes, limits.max_output_mb))
    if stop is None and not watching:
        process.wait(timeout=time_limit)
        return None
    while True:
        remaining = None if time_limit is None else time_limit - (time.monotonic() - started)
        if (stop is not None and stop.is_set()) or (remaining is not None and remaining <= 0):
            raise subprocess.TimeoutExpired(process.args, time_limit or 0)
        try:
            process.wait(timeout=POLL_SECONDS if remaining is None else min(POLL_SECONDS, remaining))
            return None
        except subprocess.TimeoutExpired:
            pass
        if watching:
            broken = _check_limits(limits, marker, logs)
            if broken:
                return broken


def _check_limits(limits: Limits, marker: str, logs: tuple[Path, Path]) -> str | None:
    if limits.max_output_mb is not None:
        printed = sum(path.stat().st_size for path in logs if path.exists())
        if printed > limits.max_output_mb * 1024**2:
            return f"output: printed more than {limits.max_output_mb:g} MB (stdout and stderr together)"
    if limits.memory_mb is None and limits.max_processes is None:
        return None
    pids = _processes_with_marker(marker)
    if limits.max_processes is not None and len(pids) > limits.max_processes:
        return f"processes: ran more than {limits.max_processes} processes at once"
    if limits.memory_mb is not None:
        resident = sum(_resident_bytes(pid) for pid in pids)
        if resident > limits.memory_mb * 1024**2:
            return f"memory: used more than {limits.memory_mb:g} MB ({resident / 1024**2:.0f} MB resident)"
    return None


def _resident_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def _resource_limits(limits: Limits):
    """What the child sets on itself before it starts the program (inherited by all it starts)."""
    def apply() -> None:
        if limits.cpu_seconds is not None:
            seconds = max(1, int(limits.cpu_seconds))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
        if limits.max_file_mb is not None:
            size = int(limits.max_file_mb * 1024**2)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply


def _signal_limit(returncode: int | None, limits: Limits, stderr_path: Path) -> str | None:
    """A limit the kernel enforced: SIGXCPU, or SIGXFSZ / EFBIG (Python ignores SIGXFSZ and raises instead)."""
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU) and limits.cpu_seconds is not None:
        return f"CPU time: used more than {limits.cpu_seconds:g} CPU seconds"
    if limits.max_file_mb is not None and returncode != 0 and (
            returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ)
            or "File too large" in tail(stderr_path, lines=40)):
        return f"file size: tried to write a file larger than {limits.max_file_mb:g} MB"
    return None


UNSHARE = ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork"]
_SANDBOX: list[bool] = []


def sandbox_command(command: list[str], limits: Limits, visible: Mapping[Path, bool] | None) -> list[str]:
    wrapper = UNSHARE + ([] if limits.network else ["--net"]) + [sys.executable, str(SANDBOX)]
    if not limits.network:
        wrapper.append("--loopback")
    if not limits.private_files:
        return wrapper + ["--host-root", "--", *command]
    interpreter = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
                   Path(sys.executable).resolve().parent}
    shown = [("--show-ro", str(path)) for path in sorted(interpreter)]
    shown += [("--show" if writable else "--show-ro", str(Path(path).resolve()))
              for path, writable in (visible or {}).items()]
    return wrapper + [part for pair in shown for part in pair] + ["--", *command]


def sandbox_available() -> bool:
    """Whether user, mount, PID and network namespaces can be made here (no root needed where the kernel allows)."""
    if not _SANDBOX:
        probe = sandbox_command([sys.executable, "-c", "pass"], Limits(network=False, private_files=True), {})
        try:
            _SANDBOX.append(subprocess.run(probe, capture_output=True, timeout=30).returncode == 0)
        except (OSError, subprocess.TimeoutExpired):
            _SANDBOX.append(False)
    return _SANDBOX[0]


def tail(path: Path, lines: int = 20, max_chars: int = 4000) -> str:
    """The last lines of a log file, for error messages."""
    if not path.is_file():
        return ""
    text = path.read_bytes()[-max_chars * 4:].decode("utf-8", errors="replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])[-max_chars:]
