"""Run a program with a wall-clock limit and limits from the kernel, and leave nothing of it running afterwards.

Docker kills a whole container at its time limit and limits it with cgroups. Without docker, a confined program
runs under bubblewrap (`sandbox.py`) in a cgroup of its own (`cgroups.py`): the kernel limits the memory of the
whole tree (tmpfs included) and the number of processes, and the cgroup is emptied at the end, whatever the
processes did to hide (a new session, an empty environment). Where cgroups are not writable, the limits fall back
to sampling the process tree (said in `ProcessResult.protections`). A program that is not confined (our own code)
is found by its process group and an environment marker.
"""
from __future__ import annotations

import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

from . import cgroups
from .sandbox import Confinement, SandboxUnavailable, bwrap_command, describe, make_mount_points, probe, seccomp_fd

MARKER_PREFIX = "PROGRAMLIB_RUN_"  # one variable per run, so nested runs keep the outer marker
# A label for the cgroups of the confined programs a caller's tree runs: it finds and empties them even when a
# process between them died before it could (JobCgroup.labelled).
CGROUP_LABEL = "PROGRAMLIB_CGROUP_LABEL"
MARKER_NAMES = (MARKER_PREFIX, "MLEB_SERVER_JOB_OF", CGROUP_LABEL)  # ours, and the server's (scheduler JOB_MARKER)
GRACE_SECONDS = 3.0
POLL_SECONDS = 0.25
DISK_SECONDS = 1.0
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SANDBOX_PROCESSES = 2  # bwrap and the sandbox's init, counted by pids.max with the program's own
# What a program's environment may hold from ours: never a token, a key or a password of the worker or server.
ENV_ALLOWED = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "OMP_NUM_THREADS",
               "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMEXPR_MAX_THREADS",
               "VECLIB_MAXIMUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES",
               "NVIDIA_VISIBLE_DEVICES", "MLEB_SANDBOX")


@dataclass(frozen=True)
class Limits:
    """What a participant's process tree may use; None = no limit."""
    memory_mb: float | None = None  # memory of the whole tree, tmpfs included (cgroup; sampled RSS as a fallback)
    cpu_seconds: float | None = None  # CPU time of each process (RLIMIT_CPU)
    max_processes: int | None = None  # processes alive at once in the tree (cgroup pids.max)
    max_output_mb: float | None = None  # what it prints (stdout + stderr together)
    max_file_mb: float | None = None  # the size of any one file it writes (RLIMIT_FSIZE)
    max_disk_mb: float | None = None  # what its writable folders hold in all (sampled every DISK_SECONDS)
    network: bool = True  # False: only a private loopback
    private_files: bool = True  # kept for task.json files that name it: a confined program's root is always private


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
    protections: dict = field(default_factory=dict)  # what held: sandbox, limits (cgroup or sampled), ...
    # The most memory its cgroup was charged at once (the kernel's high-water mark: resident memory, page cache
    # and tmpfs); None without a cgroup (no limits given, or cgroups not writable here).
    peak_memory_mb: float | None = None

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.stopped and self.limit_hit is None and self.exit_code == 0


def allowed_environment(variables: Mapping[str, str] | None = None, keep_markers: bool = False) -> dict[str, str]:
    """The allowlisted part of our environment, plus the program's own `variables`. With `keep_markers`, the
    variables that let our supervisors find a process again (for a bundle's programs, never for participants)."""
    env = {name: os.environ[name] for name in ENV_ALLOWED if name in os.environ}
    if keep_markers:
        env.update({name: value for name, value in os.environ.items() if name.startswith(MARKER_NAMES)})
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return {**env, **(variables or {})}


class _Tree:
    """The program's processes: its cgroup where there is one, else its process tree and marker."""

    def __init__(self, limits: Limits | None, marker: str):
        self.marker, self.group, self.reason = marker, None, None
        self.root_pid = None
        self.writable: list[Path] = []  # the folders a confined program may fill (its disk limit)
        self.disk_checked = 0.0
        self.peak_bytes: int | None = None  # read from the cgroup just before it is removed
        if limits is not None:
            self.reason = cgroups.probe()
            if self.reason is None:
                processes = limits.max_processes and limits.max_processes + SANDBOX_PROCESSES
                memory = limits.memory_mb and int(limits.memory_mb * 1024**2)
                label = os.environ.get(CGROUP_LABEL)
                label = label if label and label.isascii() and label.replace("-", "").isalnum() else None
                try:
                    self.group = cgroups.JobCgroup.create(memory_bytes=memory, max_processes=processes,
                                                          name=label and label[:40])
                except cgroups.CgroupUnavailable as error:
                    self.reason = str(error)

    def describe(self) -> str:
        if self.group is not None:
            return f"cgroup {self.group.version} (memory including tmpfs, processes): enforced by the kernel"
        return f"sampled every {POLL_SECONDS} s (cgroups not available: {self.reason})"

    def pids(self) -> list[int]:
        if self.group is not None:
            return self.group.pids()
        return sorted(set(_descendants(self.root_pid)) | set(_processes_with_marker(self.marker)))

    def kill_all(self, wait_seconds: float = 5.0) -> None:
        if self.group is not None:
            try:
                self.group.kill_all(wait_seconds)
            except TimeoutError as error:  # a process stuck in the kernel: it dies when the call returns
                print(f"warning: {error}", file=sys.stderr)
            return
        killed = self.pids()
        for pid in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        # SIGKILL is asynchronous: return only once they are gone, so no caller sees a survivor.
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline and any(_running(pid) for pid in killed):
            time.sleep(0.02)

    def close(self) -> None:
        if self.group is not None:
            self.peak_bytes = self.group.memory_peak_bytes()  # gone with the group's directory
            try:
                self.group.remove()
            except OSError as error:  # an empty group left behind costs nothing; the run's result stands
                print(f"warning: {error}", file=sys.stderr)


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


def _descendants(root: int | None) -> list[int]:
    """`root` and every process below it (a sandbox's PID namespace adopts its orphans, so none is lost)."""
    if root is None:
        return []
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return [pid for pid in found if _running(pid)]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has let go of everything; its parent reaps it


def _prepare(command: list[str], confinement: Confinement | None, limits: Limits | None, cwd: Path):
    """(the command to start, the seccomp descriptor to pass, the protections in force)."""
    if confinement is None:
        return command, None, {"sandbox": "none (our own program)"}
    problem = probe()
    if problem:
        raise SandboxUnavailable(problem)
    if limits is not None and limits.memory_mb:  # /tmp and /dev/shm count against the memory limit anyway
        confinement = replace(confinement, tmp_mb=min(confinement.tmp_mb, limits.memory_mb))
    make_mount_points(confinement)
    fd = seccomp_fd()
    return bwrap_command(command, confinement, cwd, fd), fd, describe(confinement, fd is not None)


def run_process(command: Sequence[str], *, cwd: Path, stdout_path: Path, stderr_path: Path,
                time_limit: float | None = None, env: Mapping[str, str] | None = None,
                stop: threading.Event | None = None, limits: Limits | None = None,
                confinement: Confinement | None = None, grace: float = GRACE_SECONDS) -> ProcessResult:
    """Run `command` (no shell), logging to files; kill it and all it started at `time_limit` seconds,
    as soon as `stop` is set (then `stopped` is true), or when it breaks one of `limits` (`limit_hit`).
    Stopped, it gets SIGTERM and `grace` seconds to stop what it started itself, then SIGKILL; so does it
    when we are stopped ourselves (SystemExit from a SIGTERM handler, Ctrl-C) while it runs.
    With `confinement`, it runs under bubblewrap (SandboxUnavailable if that cannot be done here) and its
    environment is `allowed_environment(env)`; otherwise `env` (default: ours) as it is."""
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    marker = uuid.uuid4().hex
    if confinement is not None:  # found by its cgroup or its PID namespace: no marker for it to see
        full_env = allowed_environment(env)
        full_env.pop("HOME", None)  # the sandbox's own home is set inside: not even our path leaks
    else:
        full_env = dict(os.environ if env is None else env)  # trusted: only our own programs run unconfined
        full_env[MARKER_PREFIX + marker] = "1"
    command, fd, protections = _prepare(list(command), confinement, limits, cwd)
    tree = _Tree(limits, marker)
    if confinement is not None:
        tree.writable = [Path(path) for path, writable in confinement.visible.items() if writable]
        tree.writable += [Path(host) for host, writable in confinement.mounts.values() if writable]
    if limits is not None:
        protections["limits"] = tree.describe()
    started = time.monotonic()
    try:
        timed_out, limit_hit, process = _supervise(command, cwd, full_env, fd, tree, limits, time_limit, stop,
                                                   (stdout_path, stderr_path), grace)
        if limit_hit is None and limits is not None:  # ended between two checks, or the kernel stopped it
            limit_hit = (_kernel_limit(tree, limits) or _output_limit(limits, (stdout_path, stderr_path))
                         or _disk_limit(tree, limits, now=True)
                         or _signal_limit(process.returncode, limits, stderr_path))
    finally:
        if fd is not None:
            os.close(fd)
        tree.close()
    duration = time.monotonic() - started
    stopped = stop is not None and stop.is_set() and not timed_out
    killed = timed_out or stopped or limit_hit is not None
    return ProcessResult(command=list(command), exit_code=None if killed else process.returncode,
                         timed_out=timed_out, duration=duration, time_limit=time_limit,
                         stdout_path=stdout_path, stderr_path=stderr_path, stopped=stopped, limit_hit=limit_hit,
                         protections=protections, peak_memory_mb=_megabytes(tree.peak_bytes))


def _megabytes(count: int | None) -> float | None:
    return None if count is None else round(count / 1024**2, 1)


def _supervise(command, cwd, env, fd, tree: _Tree, limits, time_limit, stop, logs, grace):
    """Start the program, wait for its end or a limit, and kill everything it started."""
    timed_out, limit_hit = False, None
    with open(logs[0], "wb") as out, open(logs[1], "wb") as err:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True, pass_fds=() if fd is None else (fd,),
                                   preexec_fn=_child_setup(limits, tree.group))
        tree.root_pid = process.pid
        try:
            limit_hit = _wait(process, time.monotonic(), time_limit, stop, limits, tree, logs)
            if limit_hit is not None:
                tree.kill_all()
        except subprocess.TimeoutExpired:
            timed_out = stop is None or not stop.is_set()
            _terminate(process, grace)
        except BaseException:  # we are being stopped: it stops too, and its children with it
            _terminate(process, grace)
            raise
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            tree.kill_all()
            process.wait()
    return timed_out, limit_hit, process


def _terminate(process: subprocess.Popen, grace: float) -> None:
    """A polite signal first, so a program that runs children of its own can stop them and say so."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass


def _wait(process: subprocess.Popen, started: float, time_limit: float | None, stop: threading.Event | None,
          limits: Limits | None, tree: _Tree, logs: tuple[Path, Path]) -> str | None:
    """Wait for the process; TimeoutExpired at the time limit or when `stop` is set; the limit it broke, if any."""
    watching = limits is not None and any(value is not None for value in (
        limits.memory_mb, limits.max_processes, limits.max_output_mb, limits.max_disk_mb))
    exited = _exit_waiter(process)
    try:
        while True:
            remaining = None if time_limit is None else time_limit - (time.monotonic() - started)
            if (stop is not None and stop.is_set()) or (remaining is not None and remaining <= 0):
                raise subprocess.TimeoutExpired(process.args, time_limit or 0)
            if exited(POLL_SECONDS if remaining is None else min(POLL_SECONDS, remaining)):
                process.wait()
                return None
            if watching:
                broken = (_output_limit(limits, logs) or _kernel_limit(tree, limits) or _sampled_limit(tree, limits)
                          or _disk_limit(tree, limits))
                if broken:
                    return broken
    finally:
        exited.close()


class _exit_waiter:
    """Wakes the moment the process ends (a pidfd), where subprocess's own wait(timeout) polls with sleeps."""

    def __init__(self, process: subprocess.Popen):
        self.process, self.poller, self.fd = process, None, None
        try:
            self.fd = os.pidfd_open(process.pid)
            self.poller = select.poll()
            self.poller.register(self.fd, select.POLLIN)
        except (AttributeError, OSError):  # an old kernel: subprocess's polling wait
            self.fd = None

    def __call__(self, seconds: float) -> bool:
        if self.poller is None:
            try:
                self.process.wait(timeout=seconds)
                return True
            except subprocess.TimeoutExpired:
                return False
        return bool(self.poller.poll(max(0, seconds) * 1000)) or self.process.poll() is not None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _output_limit(limits: Limits, logs: tuple[Path, Path]) -> str | None:
    if limits.max_output_mb is not None:
        printed = sum(path.stat().st_size for path in logs if path.exists())
        if printed > limits.max_output_mb * 1024**2:
            return f"output: printed more than {limits.max_output_mb:g} MB (stdout and stderr together)"
    return None


def _kernel_limit(tree: _Tree, limits: Limits) -> str | None:
    """A limit the cgroup enforced: a process killed at the memory limit, or a fork refused."""
    if tree.group is None:
        return None
    if limits.memory_mb is not None and tree.group.oom_kills() > 0:
        return f"memory: used more than {limits.memory_mb:g} MB (the kernel stopped it)"
    if limits.max_processes is not None and tree.group.fork_refusals() > 0:
        return f"processes: ran more than {limits.max_processes} processes at once (the kernel refused a fork)"
    return None


def _disk_limit(tree: _Tree, limits: Limits, now: bool = False) -> str | None:
    """The bytes in its writable folders (no tmpfs: /tmp and /dev/shm count as memory), once per DISK_SECONDS."""
    if limits.max_disk_mb is None or not tree.writable:
        return None
    if not now and time.monotonic() < tree.disk_checked + DISK_SECONDS:
        return None
    tree.disk_checked = time.monotonic()
    used = sum(_bytes_under(folder) for folder in tree.writable)
    if used > limits.max_disk_mb * 1024**2:
        return f"disk: wrote more than {limits.max_disk_mb:g} MB in its folders ({used / 1024**2:.0f} MB)"
    return None


def _bytes_under(folder: Path) -> int:
    total, todo = 0, [str(folder)]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


def _sampled_limit(tree: _Tree, limits: Limits) -> str | None:
    if tree.group is not None or (limits.memory_mb is None and limits.max_processes is None):
        return None
    pids = tree.pids()
    if limits.max_processes is not None and len(pids) > limits.max_processes + SANDBOX_PROCESSES:
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


def _child_setup(limits: Limits | None, group):
    """What the child does before it starts the program: join the cgroup, set the rlimits (inherited by all)."""
    enter = group.enter_fn() if group is not None else None

    def apply() -> None:
        if enter is not None:
            enter()
        if limits is None:
            return
        if limits.cpu_seconds is not None:
            seconds = max(1, int(limits.cpu_seconds))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
        if limits.max_file_mb is not None:
            size = int(limits.max_file_mb * 1024**2)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply if enter is not None or limits is not None else None


def _signal_limit(returncode: int | None, limits: Limits, stderr_path: Path) -> str | None:
    """A limit the kernel enforced: SIGXCPU, or SIGXFSZ / EFBIG (Python ignores SIGXFSZ and raises instead)."""
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU) and limits.cpu_seconds is not None:
        return f"CPU time: used more than {limits.cpu_seconds:g} CPU seconds"
    if limits.max_file_mb is not None and returncode != 0 and (
            returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ)
            or "File too large" in tail(stderr_path, lines=40)):
        return f"file size: tried to write a file larger than {limits.max_file_mb:g} MB"
    return None


def sandbox_available() -> bool:
    """Whether bubblewrap can confine programs here."""
    return probe() is None


def tail(path: Path, lines: int = 20, max_chars: int = 4000) -> str:
    """The last lines of a log file, for error messages."""
    if not path.is_file():
        return ""
    text = path.read_bytes()[-max_chars * 4:].decode("utf-8", errors="replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])[-max_chars:]
