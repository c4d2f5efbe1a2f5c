"""Run a participant's program where our answers cannot be reached: a private root file system.

    unshare --user --map-root-user --mount --pid --fork [--net] \\
        python3 sandbox.py [--loopback] [--host-root | [--show PATH]... [--show-ro PATH]...] -- PROGRAM [ARGS...]

Inside new user, mount and PID namespaces (no root needed), this builds a new root on a tmpfs that holds
only the system folders (read-only), the interpreter's prefixes and the paths given with --show, at their
usual places; /tmp is an empty tmpfs and /proc shows only the sandbox's own processes (--host-root keeps
the host's files and only isolates processes and, with --net, the network). So the bundle zip,
the data cache, the project and every other job's folder are simply not there. With --loopback (in a new
network namespace) the loopback interface is brought up, as Jupyter kernels need it.

This process stays as PID 1 of the namespace: it forwards SIGTERM/SIGINT to the program, reaps orphans, and
exits with the program's code (128 + N when signal N ended it). Standard library only (mount(2) via ctypes).
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import socket
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
MS_PRIVATE = 1 << 18
SYSTEM = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "sys", "run")
NEW_ROOT = "/mnt"  # covered by a tmpfs in our private mount namespace; the host's /mnt is untouched
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

_libc = ctypes.CDLL(None, use_errno=True)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encode(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    if _libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {source} on {target}: {os.strerror(error)}")


def bind(fd: int, target: str, read_only: bool) -> None:
    """Bind what the O_PATH descriptor `fd` opened onto target; read-only where the kernel lets us."""
    mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
    if read_only:
        flags = os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)  # locked flags must be kept
        try:
            mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)
        except OSError:
            pass  # a mount whose flags we may not change stays as it is


def make_mountpoint(path: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()


def build_root(shown: list[tuple[str, bool]]) -> None:
    """The new root: system folders and shown paths bound at their own places, fresh /tmp and /proc."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount reaches the host
    entries = [(f"/{name}", True) for name in SYSTEM if os.path.lexists(f"/{name}")] + shown
    opened = []
    for path, read_only in entries:  # opened before the tmpfs covers anything
        if os.path.islink(path) and os.path.dirname(path) == "/":
            opened.append((path, None, os.readlink(path), read_only))
        elif os.path.exists(path):
            opened.append((path, os.open(path, os.O_PATH), None, read_only))
    mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    for folder in ("tmp", "proc"):
        os.makedirs(f"{NEW_ROOT}/{folder}", exist_ok=True)
    # /tmp first: a shown path under /tmp (a job folder) is bound on top of the fresh tmpfs, not hidden by it.
    mount("tmpfs", f"{NEW_ROOT}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for path, fd, link, read_only in sorted(opened, key=lambda entry: entry[0].count("/")):
        target = NEW_ROOT + path
        if link is not None:  # /bin -> usr/bin on merged-usr systems
            os.symlink(link, target)
            continue
        make_mountpoint(target, os.path.isdir(f"/proc/self/fd/{fd}"))
        bind(fd, target, read_only)
        os.close(fd)
    mount("proc", f"{NEW_ROOT}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def parse(argv: list[str]) -> tuple[list[tuple[str, bool]] | None, bool, list[str]]:
    """(paths to show, or None to keep the host's root; bring loopback up; the program)."""
    if "--" not in argv:
        raise SystemExit(__doc__)
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    shown, loopback, i = [], False, 0
    host_root = False
    while i < len(options):
        if options[i] == "--loopback":
            loopback, i = True, i + 1
        elif options[i] == "--host-root":
            host_root, i = True, i + 1
        elif options[i] in ("--show", "--show-ro") and i + 1 < len(options):
            shown.append((os.path.abspath(options[i + 1]), options[i] == "--show-ro"))
            i += 2
        else:
            raise SystemExit(f"sandbox.py: unknown option {options[i]!r}\n{__doc__}")
    if not command:
        raise SystemExit(__doc__)
    return (None if host_root else shown), loopback, command


def run_as_init(command: list[str]) -> int:
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        try:
            os.execvp(command[0], command)
        except OSError as error:
            print(f"sandbox.py: cannot run {command[0]}: {error}", file=sys.stderr)
            os._exit(127)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda received, _frame: os.killpg(child, received))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue
        if pid == child:  # orphans die with us: the kernel ends a PID namespace with its init
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main(argv: list[str]) -> int:
    shown, loopback, command = parse(argv)
    if shown is not None:
        cwd = os.getcwd()
        build_root(shown)
        os.chroot(NEW_ROOT)
        os.chdir(cwd if os.path.isdir(cwd) else "/tmp")
        os.environ["TMPDIR"] = "/tmp"
    if loopback:
        try:
            loopback_up()
        except OSError as error:
            print(f"sandbox.py: could not bring up loopback: {error}", file=sys.stderr)
    home = os.environ.get("HOME", "")
    if not home or not os.path.isdir(home):
        os.environ["HOME"] = "/tmp/home"
        os.makedirs("/tmp/home", exist_ok=True)
    return run_as_init(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
