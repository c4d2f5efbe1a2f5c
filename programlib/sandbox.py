"""Confine a program with bubblewrap (`bwrap`, the sandbox Flatpak uses): the command line, a seccomp filter, a probe.

Inside, the program is uid 65534 with no capabilities and no way to gain any (no_new_privs, a seccomp filter that
denies mount, ptrace, namespaces, keyrings, BPF, ...; user namespaces disabled), in new user, mount, PID, IPC,
UTS, cgroup and network namespaces (loopback only, unless the task allows the network). Its root is fresh: the
system folders and the interpreter read-only, a few harmless files of /etc (never /etc/shadow or keys), its
inputs read-only (a read-only bind: with no capability left, nothing can remount it), its own writable folders,
a size-capped private /tmp and /dev/shm, a private /dev and /proc. Nothing else of the machine exists there.
"""
from __future__ import annotations

import errno
import functools
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Mapping

SANDBOX_UID = 65534  # "nobody": the participant is never root, not even inside its own namespace
SYSTEM = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd", "group", "nsswitch.conf",
       "hosts", "host.conf", "gai.conf", "alternatives", "fonts", "mime.types", "os-release", "ssl/certs",
       "ca-certificates", "ca-certificates.conf", "matplotlibrc")
# Denied (EPERM): leaving or widening the sandbox, inspecting other processes, the kernel's keyrings, BPF and
# perf, loading code into the kernel, file handles that bypass paths, io_uring (its operations bypass seccomp).
DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "keyctl", "add_key", "request_key",
                 "bpf", "perf_event_open", "kexec_load", "kexec_file_load", "init_module", "finit_module",
                 "delete_module", "open_by_handle_at", "name_to_handle_at", "userfaultfd", "reboot", "syslog",
                 "acct", "swapon", "swapoff", "quotactl", "iopl", "ioperm", "lookup_dcookie", "uselib",
                 "io_uring_setup", "io_uring_enter", "io_uring_register", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsmount",
                        "fsconfig", "fspick", "move_mount", "open_tree", "mount_setattr")

SETS_MODE = (("chmod", 1), ("fchmod", 1), ("fchmodat", 2), ("fchmodat2", 2), ("open", 2), ("openat", 3),
             ("creat", 1), ("mkdir", 1), ("mkdirat", 2), ("mknod", 1), ("mknodat", 2))  # (system call, position of its mode argument)


class SandboxUnavailable(Exception):
    """bubblewrap cannot confine programs here; the message says why and how to fix it."""


@dataclass(frozen=True)
class Confinement:
    """What a confined program sees and may do."""
    visible: Mapping[Path, bool] = field(default_factory=dict)  # {path: writable}, bound at the same place
    network: bool = False
    tmp_mb: float = 2048  # size of its private /tmp and of /dev/shm (also charged to its memory limit)
    # {inside path: (host folder, writable)}: a host folder bound at another place, so that nothing is at its host
    # path inside (only /proc/self/mountinfo names the source, as in any container); after `visible`, shallow first.
    mounts: Mapping[str, tuple[Path, bool]] = field(default_factory=dict)
    gpus: bool = True  # the NVIDIA devices (and /sys, for the driver) where the machine has them


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _system_binds() -> list[str]:
    args = []
    for name in SYSTEM:
        path = Path("/") / name
        if path.is_symlink():  # /bin -> usr/bin on merged-usr systems
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _interpreter_paths() -> list[Path]:
    """The running interpreter's prefixes (a virtual environment and its base), wherever they live."""
    found = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix),
             Path(sys.executable).parent}
    found |= {path.resolve() for path in found}
    return sorted(path for path in found if path.is_dir() and not str(path).startswith(("/usr/", "/bin", "/lib")))


def _gpu_devices() -> list[str]:
    return sorted(str(path) for path in Path("/dev").glob("nvidia*"))


def _gpu_binds() -> list[str]:
    devices = _gpu_devices()
    if not devices:
        return []
    args = [part for device in devices for part in ("--dev-bind", device, device)]
    return args + ["--ro-bind", "/sys", "/sys"]  # the CUDA driver reads the PCI topology


def bwrap_command(command: list[str], confinement: Confinement, cwd: Path, seccomp_fd: int | None) -> list[str]:
    """The bwrap command line that runs `command` confined (visible paths are bound where they are on the host,
    mounts where they say; `cwd` is a host path, entered where the program sees it)."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(unavailable_message("bwrap is not installed"))
    tmp_bytes = str(int(confinement.tmp_mb * 1024**2))
    args = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--hostname", "sandbox", "--cap-drop", "ALL", "--new-session", "--die-with-parent"]
    if confinement.network:
        args += ["--share-net"]
    args += ["--disable-userns"]
    args += _system_binds() + (["--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"] if confinement.network else [])
    # /proc read-only: the program is its worker's uid to the kernel, and /proc/sys checks only the uid.
    args += ["--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev", "--size", tmp_bytes, "--tmpfs", "/tmp",
             "--size", tmp_bytes, "--tmpfs", "/dev/shm", "--dir", "/tmp/home"]
    args += _gpu_binds() if confinement.gpus else []
    for path in _interpreter_paths():
        args += ["--ro-bind", str(path), str(path)]
    # Shallow paths first, so a writable folder inside a read-only one is bound on top of it, not hidden by it.
    for path, writable in sorted(((Path(p).resolve(), w) for p, w in confinement.visible.items()),
                                 key=lambda item: len(item[0].parts)):
        args += ["--bind" if writable else "--ro-bind", str(path), str(path)]
    args += _mount_binds(confinement)
    args += ["--chdir", inside_path(cwd, confinement), "--setenv", "HOME", "/tmp/home", "--setenv", "TMPDIR", "/tmp"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args + ["--", *command]


def _mounts(confinement: Confinement) -> list[tuple[PurePosixPath, Path, bool]]:
    """(inside path, host folder, writable) of each mount, shallow first."""
    found = [(PurePosixPath(os.path.normpath(inside)), Path(host).resolve(), writable)
             for inside, (host, writable) in confinement.mounts.items()]
    for inside, _host, _writable in found:
        if not inside.is_absolute() or inside == PurePosixPath("/"):
            raise ValueError(f"a mount's inside path must be an absolute folder below /, not {str(inside)!r}")
    return sorted(found, key=lambda mount: len(mount[0].parts))


def hidden_by_mounts(confinement: Confinement) -> list[tuple[Path, bool, Path, PurePosixPath]]:
    """What a mount would hide of the interpreter and the visible folders (a project under /home, with /home a
    mount): (path, writable, the host folder of the mount on top, the path below that mount), so that it can be
    bound again on top of the mount."""
    mounts = _mounts(confinement)
    bound = [(path, False) for path in _interpreter_paths()]
    bound += [(Path(path).resolve(), writable) for path, writable in confinement.visible.items()]
    hidden = []
    for path, writable in bound:
        over = [(inside, host) for inside, host, _w in mounts
                if PurePosixPath(path).is_relative_to(inside) and PurePosixPath(path) != inside]
        if over:
            inside, host = over[-1]  # the deepest: the one on top
            hidden.append((path, writable, host, PurePosixPath(path).relative_to(inside)))
    return hidden


def _mount_binds(confinement: Confinement) -> list[str]:
    """The mounts, then what they hid bound again on top, all shallow first (nothing deeper is covered)."""
    layers = [(inside, str(host), writable) for inside, host, writable in _mounts(confinement)]
    layers += [(PurePosixPath(path), str(path), writable) for path, writable, _h, _r in hidden_by_mounts(confinement)]
    args = []
    for inside, host, writable in sorted(layers, key=lambda layer: len(layer[0].parts)):
        args += ["--bind" if writable else "--ro-bind", host, str(inside)]
    return args


def make_mount_points(confinement: Confinement) -> None:
    """Make, in the host folder of a mount, the empty folders where what it hides is bound again (bubblewrap
    cannot make one in a read-only bind). Before the program starts, and never through a link."""
    for _path, _writable, host, relative in hidden_by_mounts(confinement):
        current = host
        for part in relative.parts:
            current = current / part
            if not current.is_symlink() and current.is_dir():
                continue
            current.mkdir()  # FileExistsError on a link or a file: refused, nothing is made through it


def inside_path(path: Path, confinement: Confinement) -> str:
    """Where a host path is seen inside: under the deepest mount whose host folder holds it, else where it is."""
    path = path.resolve()
    holders = [(inside, host) for inside, host, _w in _mounts(confinement) if path.is_relative_to(host)]
    if not holders:
        return str(path)
    inside, host = max(holders, key=lambda holder: len(holder[1].parts))
    return str(inside / path.relative_to(host).as_posix())


_FILTER: list[bytes | None] = []


def seccomp_filter() -> bytes | None:
    """The compiled BPF program for bwrap's --seccomp (libseccomp via pyseccomp); None where that is missing."""
    if not _FILTER:
        try:
            import pyseccomp as seccomp
        except (ImportError, OSError):  # not installed, or no libseccomp.so.2
            _FILTER.append(None)
            return None
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        denied = [(name, ()) for name in DENIED]
        # No setuid or setgid file: to the host, the program's files are its worker's (root, often).
        denied += [(name, (seccomp.Arg(position, seccomp.MASKED_EQ, bit, bit),)) for name, position in SETS_MODE
                   for bit in (stat.S_ISUID, stat.S_ISGID)]
        denied += [("openat2", ())]  # its mode is behind a pointer: glibc and Python fall back to openat
        for name, conditions in denied:
            try:
                rules.add_rule(seccomp.ERRNO(errno.EPERM), name, *conditions)
            except (ValueError, RuntimeError, OSError):
                pass  # a system call this architecture does not have
        read_end, write_end = os.pipe()
        try:
            with os.fdopen(write_end, "wb") as sink:
                rules.export_bpf(sink)
            _FILTER.append(_read_all(read_end))
        finally:
            os.close(read_end)
    return _FILTER[0]


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def seccomp_fd() -> int | None:
    """A readable descriptor holding the filter (a pipe, for bwrap to read once); the caller closes it."""
    program = seccomp_filter()
    if program is None:
        return None
    read_end, write_end = os.pipe()
    os.write(write_end, program)  # a filter is a few hundred bytes: it fits in the pipe's buffer
    os.close(write_end)
    return read_end


def unavailable_message(reason: str) -> str:
    return (f"the sandbox for participant code is not available here: {reason}. Install bubblewrap "
            f"(`apt-get install bubblewrap`; the kernel must allow user namespaces), or pass --no-sandbox to run "
            f"untrusted code WITHOUT isolation")


_PROBE: list[str | None] = []


def probe() -> str | None:
    """None when bwrap can confine a program here with every protection above; else the reason."""
    if not _PROBE:
        _PROBE.append(_probe())
    return _PROBE[0]


def _probe() -> str | None:
    if bwrap_path() is None:
        return unavailable_message("the `bwrap` program is not installed")
    fd = seccomp_fd()
    try:
        check = bwrap_command([sys.executable, "-c", "import os; assert os.getuid() == 65534"],
                              Confinement(), Path("/"), fd)
        done = subprocess.run(check, capture_output=True, timeout=60, pass_fds=() if fd is None else (fd,),
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    except (OSError, subprocess.TimeoutExpired) as error:
        return unavailable_message(f"bwrap could not start ({error})")
    finally:
        if fd is not None:
            os.close(fd)
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        return unavailable_message(f"bwrap failed: {said[-1] if said else f'exit code {done.returncode}'}")
    return None


@functools.lru_cache(maxsize=1)
def bwrap_version() -> str:
    done = subprocess.run([bwrap_path() or "bwrap", "--version"], capture_output=True, text=True)
    return done.stdout.strip() or "bubblewrap"


def describe(confinement: Confinement, seccomp: bool) -> dict:
    """The protections in force, for ingestion_result.json."""
    return {"sandbox": bwrap_version(), "files": "private", "network": "on" if confinement.network else "off",
            "user": f"uid {SANDBOX_UID} (the worker's own uid to the host's kernel), no capabilities, no new privileges",
            "seccomp": "on" if seccomp else "off (pyseccomp or libseccomp missing)", "user_namespaces": "disabled"}
