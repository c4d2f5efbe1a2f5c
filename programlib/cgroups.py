"""One kernel cgroup per job: a participant's whole process tree limited and accounted by the kernel.

    reason = probe()                       # None when a job cgroup with memory and pids limits can be made here
    with JobCgroup.create(memory_bytes=2 << 30, max_processes=256) as group:
        process = subprocess.Popen(command, preexec_fn=group.enter_fn())
        process.wait()
        group.oom_kills(), group.fork_refusals(), group.memory_peak_bytes()
    # leaving the block kills every process still in the group (setsid or not) and removes its directories

The job's group is made under this process's own cgroup of each controller, as /proc/self/cgroup names it
(and /proc/self/mountinfo places it), so it works at the root of a host as well as inside a container or a
worker's own group. Both kernel interfaces are supported:

- cgroup v1 (a hierarchy per controller, e.g. /sys/fs/cgroup/memory): one directory in the memory, pids
  and (when mounted and writable) freezer hierarchies. The memory limit is memory.limit_in_bytes, then
  memory.memsw.limit_in_bytes to the same value when the kernel accounts swap (so swap is covered too;
  without memsw the group's swappiness is set to 0 instead). kill_all freezes the group, kills every
  member and thaws it, or without a freezer kills members until none is left.
- cgroup v2 (one unified hierarchy): one directory with memory.max, memory.swap.max 0 and pids.max.
  The no-internal-processes rule means the current group must already hand memory and pids to its
  children (cgroup.subtree_control), or be allowed to (the root cgroup); otherwise probe() says why not.
  kill_all writes cgroup.kill (Linux 5.14+), or freezes with cgroup.freeze and kills, or kills in a loop.

Memory is charged by the kernel to the group of the process that touches a page: anonymous memory,
page cache and tmpfs/shm pages the job writes (/dev/shm, a sandbox's private /tmp) all count against the
limit; the kernel's OOM killer ends a process of the group when it cannot reclaim below it. Note that
the pids controller counts tasks, i.e. threads as well as processes: size max_processes for the threads
a job runs (BLAS, data loaders), not only for its processes.

Standard library only: the builder vendors programlib into every program zip.
"""
from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
import uuid
from typing import Callable

__all__ = ["CgroupUnavailable", "JobCgroup", "probe"]

PREFIX = "mleb-"
V1_CONTROLLERS = ("memory", "pids")  # required; freezer is used when there is one
REMOVE_TIMEOUT = 5.0


class CgroupUnavailable(Exception):
    """No job cgroup can be made here; str(error) says why, in words."""


# --------------------------------------------------------------------------------------------------------
# Where this process's cgroups are.


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _cgroup_mounts() -> tuple[list[tuple[frozenset[str], str, str]], list[tuple[str, str]]]:
    """(v1 mounts as (controllers, mount point, root), cgroup2 mounts as (mount point, root))."""
    v1, v2 = [], []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as lines:
        for line in lines:
            fields = line.split()
            if "-" not in fields:
                continue
            split = fields.index("-")
            if len(fields) < split + 4:
                continue
            root, mount_point = _unescape(fields[3]), _unescape(fields[4])
            fs_type, super_options = fields[split + 1], fields[split + 3]
            if fs_type == "cgroup":
                v1.append((frozenset(super_options.split(",")), mount_point, root))
            elif fs_type == "cgroup2":
                v2.append((mount_point, root))
    return v1, v2


def _own_cgroups() -> tuple[dict[str, str], str | None]:
    """From /proc/self/cgroup: ({v1 controller: path}, the cgroup2 path or None)."""
    v1: dict[str, str] = {}
    v2 = None
    with open("/proc/self/cgroup", encoding="utf-8", errors="surrogateescape") as lines:
        for line in lines:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) != 3:
                continue
            hierarchy, controllers, path = parts
            if hierarchy == "0" and controllers == "":
                v2 = path
            else:
                for controller in controllers.split(","):
                    if controller:
                        v1[controller] = path
    return v1, v2


def _directory(mount_point: str, root: str, path: str) -> str | None:
    """The directory of cgroup `path` in a mount of hierarchy subtree `root`, or None if it is not under it."""
    if path.endswith(" (deleted)"):
        return None
    if root == "/":
        relative = path
    elif path == root or path.startswith(root.rstrip("/") + "/"):
        relative = path[len(root.rstrip("/")):]
    else:
        return None
    directory = os.path.normpath(mount_point + "/" + relative.lstrip("/"))
    return directory if os.path.isdir(directory) else None


def _locate_v1(controller: str, mounts, own: dict[str, str]) -> str | None:
    if controller not in own:
        return None
    for controllers, mount_point, root in mounts:
        if controller in controllers:
            directory = _directory(mount_point, root, own[controller])
            if directory is not None:
                return directory
    return None


# --------------------------------------------------------------------------------------------------------
# Small file helpers.


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return handle.read()


def _write(path: str, text: str) -> None:
    """One write(2) of the whole value, as cgroup files expect; errors are raised as the kernel gives them."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _keyed(path: str) -> dict[str, int]:
    """A flat keyed file ('oom_kill 3' per line) as a dict; {} when it cannot be read."""
    values = {}
    try:
        text = _read(path)
    except OSError:
        return {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


def _int_file(path: str) -> int | None:
    try:
        text = _read(path).strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _procs(directory: str) -> set[int]:
    try:
        text = _read(os.path.join(directory, "cgroup.procs"))
    except FileNotFoundError:
        return set()
    return {int(word) for word in text.split()}


def _subtree(directory: str) -> list[str]:
    """The group's directory and those of the groups nested in it, parents first."""
    found = [directory]
    for parent, children, _files in os.walk(directory):
        found += [os.path.join(parent, child) for child in children]
    return found


def _within(cgroup_path: str, groups: frozenset[str]) -> bool:
    """Whether a cgroup path (as /proc/<pid>/cgroup names it) is one of `groups` or nested in one."""
    return cgroup_path in groups or any(cgroup_path.startswith(group + "/") for group in groups)


def _why(error: OSError) -> str:
    return error.strerror or str(error)


# --------------------------------------------------------------------------------------------------------
# The job's group.


class JobCgroup:
    """A job's cgroup (a directory per controller on v1, one directory on v2); make one with create()."""

    version: str  # "v1" or "v2"
    name: str  # the directory name, mleb-…, the same in every controller's hierarchy
    paths: dict[str, str]  # controller ("memory", "pids", "freezer"; "unified" on v2) → directory

    def __init__(self, version: str, name: str, paths: dict[str, str], cgroup_paths: set[str]) -> None:
        self.version, self.name, self.paths = version, name, dict(paths)
        self._cgroup_paths = frozenset(cgroup_paths)  # as /proc/<pid>/cgroup names the group
        self._left = list(paths.values())  # directories not yet removed
        self._lock = threading.Lock()

    # ---- making one

    @classmethod
    def create(cls, memory_bytes: int | None, max_processes: int | None, name: str | None = None) -> "JobCgroup":
        """A new, empty job cgroup with these limits (None: no limit, only accounting).

        `name` is a readable label put in the directory name, which is always made unique
        (mleb-<label>-<random>). Raises CgroupUnavailable with the reason when it cannot be made.
        """
        if memory_bytes is not None and (not isinstance(memory_bytes, int) or memory_bytes <= 0):
            raise ValueError(f"memory_bytes must be a positive int or None, not {memory_bytes!r}")
        if max_processes is not None and (not isinstance(max_processes, int) or max_processes <= 0):
            raise ValueError(f"max_processes must be a positive int or None, not {max_processes!r}")
        if name is not None and (not name or "/" in name or "\0" in name or len(name) > 64 or "\n" in name):
            raise ValueError(f"name must be a short label without '/', not {name!r}")
        if not sys.platform.startswith("linux"):
            raise CgroupUnavailable(f"cgroups are a Linux feature; this is {sys.platform}")
        unique = uuid.uuid4().hex[:16]
        directory_name = f"{PREFIX}{name}-{unique}" if name else f"{PREFIX}{unique}"
        try:
            v1_mounts, v2_mounts = _cgroup_mounts()
            own_v1, own_v2 = _own_cgroups()
        except OSError as error:
            raise CgroupUnavailable(f"cannot read this process's cgroups from /proc: {_why(error)}") from None
        if any("memory" in controllers for controllers, _, _ in v1_mounts) or "memory" in own_v1:
            return cls._create_v1(v1_mounts, own_v1, directory_name, memory_bytes, max_processes)
        if own_v2 is None or not v2_mounts:
            raise CgroupUnavailable("no memory controller is mounted: neither a cgroup v1 memory hierarchy "
                                    "nor a cgroup2 file system is in /proc/self/mountinfo")
        return cls._create_v2(v2_mounts, own_v2, directory_name, memory_bytes, max_processes)

    @classmethod
    def labelled(cls, label: str) -> list["JobCgroup"]:
        """The live groups made here by create(name=...) with a name that starts with `label` (a process of
        ours that died before removing its group leaves it behind): remove() each to kill what they hold."""
        try:
            v1_mounts, v2_mounts = _cgroup_mounts()
            own_v1, own_v2 = _own_cgroups()
        except OSError:
            return []
        if any("memory" in controllers for controllers, _, _ in v1_mounts) or "memory" in own_v1:
            version = "v1"
            bases = {c: (_locate_v1(c, v1_mounts, own_v1), own_v1.get(c, "")) for c in V1_CONTROLLERS + ("freezer",)}
        else:
            version = "v2"
            base = next((d for d in (_directory(m, r, own_v2 or "") for m, r in v2_mounts) if d), None)
            bases = {"unified": (base, own_v2 or "")}
        found: dict[str, tuple[dict[str, str], set[str]]] = {}
        for controller, (base, own) in bases.items():
            try:
                names = [n for n in os.listdir(base) if n.startswith(f"{PREFIX}{label}")] if base else []
            except OSError:
                continue
            for name in names:
                paths, cgroup_paths = found.setdefault(name, ({}, set()))
                paths[controller] = os.path.join(base, name)
                cgroup_paths.add(own.rstrip("/") + "/" + name)
        return [cls(version, name, paths, cgroup_paths) for name, (paths, cgroup_paths) in sorted(found.items())]

    @classmethod
    def _create_v1(cls, mounts, own: dict[str, str], directory_name: str, memory_bytes: int | None,
                   max_processes: int | None) -> "JobCgroup":
        bases = {}
        for controller in V1_CONTROLLERS:
            base = _locate_v1(controller, mounts, own)
            if base is None:
                where = own.get(controller)
                raise CgroupUnavailable(
                    f"cgroup v1: no mounted {controller} hierarchy holds this process's {controller} cgroup "
                    f"({where!r} in /proc/self/cgroup)" if where else
                    f"cgroup v1: the {controller} controller is not in /proc/self/cgroup (not enabled or not "
                    f"mounted); the memory controller is on v1, so a job cgroup needs {controller} there too")
            bases[controller] = base
        freezer = _locate_v1("freezer", mounts, own)
        paths: dict[str, str] = {}
        cgroup_paths = set()
        try:
            for controller, base in bases.items():
                paths[controller] = cls._make_directory(base, directory_name)
                cgroup_paths.add(own[controller].rstrip("/") + "/" + directory_name)
            if freezer is not None:
                try:
                    paths["freezer"] = cls._make_directory(freezer, directory_name)
                    cgroup_paths.add(own["freezer"].rstrip("/") + "/" + directory_name)
                except CgroupUnavailable:
                    pass  # optional: kill_all then kills in a loop
            memory = paths["memory"]
            if memory_bytes is not None:
                cls._set(memory, "memory.limit_in_bytes", str(memory_bytes))
                if os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes")):
                    cls._set(memory, "memory.memsw.limit_in_bytes", str(memory_bytes))  # memory + swap
                else:
                    try:  # swap is not accounted (swapaccount=0): keep the group's anonymous memory out of swap
                        _write(os.path.join(memory, "memory.swappiness"), "0")
                    except OSError:
                        pass
            if max_processes is not None:
                cls._set(paths["pids"], "pids.max", str(max_processes))
        except BaseException:
            cls._remove_directories(list(paths.values()), timeout=1.0)
            raise
        return cls("v1", directory_name, paths, cgroup_paths)

    @classmethod
    def _create_v2(cls, mounts, own: str, directory_name: str, memory_bytes: int | None,
                   max_processes: int | None, controllers: tuple[str, ...] = ("memory", "pids")) -> "JobCgroup":
        base = None
        for mount_point, root in mounts:
            base = _directory(mount_point, root, own)
            if base is not None:
                break
        if base is None:
            raise CgroupUnavailable(f"cgroup v2: no mounted cgroup2 file system holds this process's cgroup "
                                    f"{own!r}")
        if controllers:
            try:
                available = set(_read(os.path.join(base, "cgroup.controllers")).split())
                enabled = set(_read(os.path.join(base, "cgroup.subtree_control")).split())
            except OSError as error:
                raise CgroupUnavailable(f"cgroup v2: cannot read the controllers of {base}: {_why(error)}") from None
            missing = [controller for controller in controllers if controller not in available]
            if missing:
                raise CgroupUnavailable(
                    f"cgroup v2: {base} does not offer the {' and '.join(missing)} controller(s) (its "
                    f"cgroup.controllers: {' '.join(sorted(available)) or 'none'}): they are bound to a cgroup v1 "
                    f"hierarchy, or the parent's cgroup.subtree_control does not enable them (a systemd unit "
                    f"needs Delegate=yes)")
            to_enable = [controller for controller in controllers if controller not in enabled]
            if to_enable:
                try:
                    _write(os.path.join(base, "cgroup.subtree_control"), " ".join(f"+{c}" for c in to_enable))
                except OSError as error:
                    if error.errno == errno.EBUSY:
                        reason = (f"{base} holds processes (this one at least), and cgroup v2's no-internal-"
                                  f"processes rule forbids enabling controllers for the children of such a group "
                                  f"unless it is the root; run the worker in a leaf of a delegated subtree (move "
                                  f"the group's processes into a child first, as docker-in-docker's entrypoint "
                                  f"does, or use systemd-run --scope -p Delegate=yes)")
                    else:
                        reason = _why(error)
                    raise CgroupUnavailable(f"cgroup v2: cannot enable {' '.join(to_enable)} in "
                                            f"{base}/cgroup.subtree_control: {reason}") from None
        paths: dict[str, str] = {}
        try:
            directory = paths["unified"] = cls._make_directory(base, directory_name)
            if memory_bytes is not None:
                cls._set(directory, "memory.max", str(memory_bytes))
                if os.path.exists(os.path.join(directory, "memory.swap.max")):
                    cls._set(directory, "memory.swap.max", "0")
            if max_processes is not None:
                cls._set(directory, "pids.max", str(max_processes))
        except BaseException:
            cls._remove_directories(list(paths.values()), timeout=1.0)
            raise
        return cls("v2", directory_name, paths, {own.rstrip("/") + "/" + directory_name})

    @staticmethod
    def _make_directory(base: str, directory_name: str) -> str:
        directory = os.path.join(base, directory_name)
        try:
            os.mkdir(directory)
        except OSError as error:
            hint = " (creating cgroups needs root or a delegated subtree)" if error.errno in (
                errno.EACCES, errno.EPERM, errno.EROFS) else ""
            raise CgroupUnavailable(f"cannot create the cgroup {directory}: {_why(error)}{hint}") from None
        return directory

    @staticmethod
    def _set(directory: str, file_name: str, value: str) -> None:
        path = os.path.join(directory, file_name)
        try:
            _write(path, value)
        except OSError as error:
            raise CgroupUnavailable(f"cannot write {value} to {path}: {_why(error)}") from None

    # ---- using one

    def enter_fn(self) -> Callable[[], None]:
        """A function for subprocess.Popen(preexec_fn=...) that moves the child into the group before exec.

        Everything it needs is computed here: between fork and exec it only opens, writes b"0" (the
        writing process itself) to each controller's cgroup.procs and closes. If a write fails, Popen
        raises (subprocess.SubprocessError) rather than run the job outside its limits.
        """
        targets = tuple(os.fsencode(os.path.join(directory, "cgroup.procs")) for directory in self.paths.values())
        open_, write, close, flags = os.open, os.write, os.close, os.O_WRONLY

        def enter() -> None:
            for target in targets:
                fd = open_(target, flags)
                try:
                    write(fd, b"0")
                finally:
                    close(fd)

        return enter

    def pids(self) -> list[int]:
        """Every process in the group or a group nested in it (in any of its controllers), sorted."""
        members: set[int] = set()
        for directory in self.paths.values():
            for nested in _subtree(directory):
                members |= _procs(nested)
        return sorted(members)

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL every process in the group until it is empty; TimeoutError if some still remain after `timeout`.

        No process escapes by setsid, a new process group, an empty environment or a double fork: the
        kernel keeps every descendant in the group. v2 uses cgroup.kill; otherwise the group is frozen
        (v1 freezer, v2 cgroup.freeze) so that nothing forks while its members are killed, then thawed.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            if self.version == "v2":
                kill_file = os.path.join(self.paths["unified"], "cgroup.kill")
                if os.path.exists(kill_file):
                    try:
                        _write(kill_file, "1")
                    except FileNotFoundError:
                        return
                    except OSError:
                        pass  # fall back to killing one by one
                    else:
                        self._wait_empty(deadline)
                        return
            thaw = self._freeze(deadline)
            try:
                for pid in self.pids():
                    self._kill(pid)
            finally:
                if thaw is not None:
                    thaw()
            self._wait_empty(deadline)

    def _freeze(self, deadline: float) -> Callable[[], None] | None:
        """Freeze the group (as far as it goes before the deadline); the function to thaw it, or None."""
        if self.version == "v1" and "freezer" in self.paths:
            state = os.path.join(self.paths["freezer"], "freezer.state")
            frozen, thawed = "FROZEN", "THAWED"

            def is_frozen() -> bool:
                return _read(state).strip() == "FROZEN"
        elif self.version == "v2" and os.path.exists(os.path.join(self.paths["unified"], "cgroup.freeze")):
            state = os.path.join(self.paths["unified"], "cgroup.freeze")
            frozen, thawed = "1", "0"
            events = os.path.join(self.paths["unified"], "cgroup.events")

            def is_frozen() -> bool:
                return _keyed(events).get("frozen") == 1
        else:
            return None
        try:
            _write(state, frozen)
        except OSError:
            return None
        # Freezing completes once every task reached the refrigerator; bounded, as a task in uninterruptible
        # sleep can hold it in FREEZING (killing then still works, the thaw lets the kills land).
        wait_until = min(deadline, time.monotonic() + 1.0)
        delay = 0.001
        while time.monotonic() < wait_until:
            try:
                if is_frozen():
                    break
            except OSError:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

        def thaw() -> None:  # nested groups too: one its dead owner left frozen stays frozen when we thaw
            for directory in _subtree(os.path.dirname(state))[::-1]:
                try:
                    _write(os.path.join(directory, os.path.basename(state)), thawed)
                except OSError:
                    pass

        return thaw

    def _kill(self, pid: int) -> None:
        """SIGKILL pid, through a pidfd checked to be in this group where the kernel has them (no PID reuse race)."""
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        except (AttributeError, OSError):  # no pidfd here (Linux before 5.3): a plain kill
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return
        try:
            try:
                with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="surrogateescape") as lines:
                    member = any(_within(line.rstrip("\n").split(":", 2)[-1], self._cgroup_paths) for line in lines)
            except OSError:
                member = True  # cannot tell: the pid was listed by the group a moment ago
            if member:
                try:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        finally:
            os.close(fd)

    def _wait_empty(self, deadline: float) -> None:
        """Kill what is left until the group is empty; TimeoutError at the deadline."""
        delay = 0.001
        while True:
            left = self.pids()
            if not left:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"cgroup {self.name} still holds processes {left} after SIGKILL")
            for pid in left:
                self._kill(pid)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    # ---- what the kernel counted

    def memory_peak_bytes(self) -> int | None:
        """The group's highest memory use (memory + swap where the kernel accounts swap), or None if unknown."""
        if self.version == "v1":
            memory = self.paths["memory"]
            for file_name in ("memory.memsw.max_usage_in_bytes", "memory.max_usage_in_bytes"):
                value = _int_file(os.path.join(memory, file_name))
                if value is not None:
                    return value
            return None
        return _int_file(os.path.join(self.paths["unified"], "memory.peak"))  # Linux 5.19+

    def oom_kills(self) -> int:
        """How many processes of the group the kernel's OOM killer ended at the memory limit.

        v2: memory.events oom_kill. v1: memory.oom_control's oom_kill line (Linux 4.13+); on older kernels
        only a hint: 1 if the limit was ever hit (memory.failcnt / memory.memsw.failcnt), else 0.
        """
        if self.version == "v2":
            return _keyed(os.path.join(self.paths["unified"], "memory.events")).get("oom_kill", 0)
        memory = self.paths["memory"]
        control = _keyed(os.path.join(memory, "memory.oom_control"))
        if "oom_kill" in control:
            return control["oom_kill"]
        hits = [_int_file(os.path.join(memory, name)) or 0 for name in ("memory.failcnt", "memory.memsw.failcnt")]
        return 1 if any(hits) else 0

    def fork_refusals(self) -> int:
        """How many fork/clone calls of the group the kernel refused at pids.max (pids.events 'max')."""
        directory = self.paths["pids"] if self.version == "v1" else self.paths["unified"]
        return _keyed(os.path.join(directory, "pids.events")).get("max", 0)

    # ---- removing it

    def remove(self) -> None:
        """Kill every process left, then remove the group's directories; safe to call again.

        Raises OSError (or TimeoutError) if a directory is still there after a few seconds; a later call retries.
        """
        if not self._left:
            return
        failure: BaseException | None = None
        try:
            self.kill_all(timeout=REMOVE_TIMEOUT)
        except TimeoutError as error:
            failure = error
        for directory in self._left:  # groups nested in ours first (made by a program we ran)
            self._remove_directories(_subtree(directory)[1:], timeout=REMOVE_TIMEOUT)
        self._left = self._remove_directories(self._left, timeout=REMOVE_TIMEOUT)
        if self._left:
            message = f"cgroup {self.name}: could not remove {', '.join(self._left)}"
            raise OSError(errno.EBUSY, message) from failure

    @staticmethod
    def _remove_directories(directories: list[str], timeout: float) -> list[str]:
        """rmdir each, retrying EBUSY (the last process is still exiting) until the timeout; those left."""
        deadline = time.monotonic() + timeout
        left = []
        for directory in reversed(directories):
            delay = 0.001
            while True:
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY or time.monotonic() >= deadline:
                        left.append(directory)
                        break
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        return list(reversed(left))

    def __enter__(self) -> "JobCgroup":
        return self

    def __exit__(self, *_exc) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"JobCgroup({self.version}, {self.name}, {'removed' if not self._left else 'live'})"


# --------------------------------------------------------------------------------------------------------

_probe_lock = threading.Lock()
_probed: list[str | None] = []


def probe() -> str | None:
    """None if a job cgroup with memory and pids limits can be made here, else the reason in words (cached).

    It really makes one (with limits), and removes it.
    """
    with _probe_lock:
        if not _probed:
            try:
                JobCgroup.create(memory_bytes=256 << 20, max_processes=64, name="probe").remove()
                _probed.append(None)
            except CgroupUnavailable as error:
                _probed.append(str(error))
            except OSError as error:
                _probed.append(f"a probe cgroup could not be removed: {error}")
        return _probed[0]
