"""The one door out of a participant's sandbox: regular files and folders only, never through a link.

Everything a participant's program made (its predictions, its working folder, an executed notebook) is copied
by `copy_out` before host-side code reads it or hands it on. Every name is opened relative to its folder's
descriptor with O_NOFOLLOW, so no symbolic link is ever followed, whatever the participant planted; a link,
FIFO, device, socket or a file with several hard links is refused with a SubmissionError naming its path; the
number of entries, the depth and the bytes are capped. Host-side files next to participant output are written
with `write_new` (O_EXCL | O_NOFOLLOW): never through a path the participant could have created.
"""
from __future__ import annotations

import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import SubmissionError

MAX_ENTRIES = 20_000
MAX_BYTES = 16 * 1024**3
MAX_DEPTH = 64
CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # O_NONBLOCK: a FIFO never blocks us
KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
         stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


class _Budget:
    def __init__(self, label: str, max_entries: int, max_bytes: int):
        self.label, self.max_entries, self.max_bytes = label, max_entries, max_bytes
        self.entries = self.bytes = 0

    def take(self, relative: str, size: int = 0) -> None:
        self.entries += 1
        self.bytes += size
        if self.entries > self.max_entries:
            raise SubmissionError(f"{self.label}: more than {self.max_entries} files and folders "
                                  f"(at {relative}); write fewer files")
        if self.bytes > self.max_bytes:
            raise SubmissionError(f"{self.label}: more than {self.max_bytes / 1024**2:g} MB in all "
                                  f"(at {relative})")


def refuse(label: str, relative: str, info: os.stat_result) -> SubmissionError:
    kind = KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file or folder")
    if stat.S_ISREG(info.st_mode):
        kind = f"a file with {info.st_nlink} hard links"
    return SubmissionError(f"{label}/{relative}: is {kind}; only regular files and folders leave the sandbox")


def open_source_dir(source: Path) -> int:
    """A descriptor of `source`, which must itself be a real folder (its parents are ours, not the participant's)."""
    try:
        return os.open(source, _DIR_FLAGS)
    except OSError as error:
        raise SubmissionError(f"{source.name}: cannot be read as a folder ({error.strerror})") from None


def _checked(fd: int, label: str, relative: str) -> os.stat_result:
    """The stat of the file we opened (not whatever its name points at now); refused unless regular, one link."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise refuse(label, relative, info)
    return info


def open_regular(folder: Path, relative: str, label: str | None = None) -> int:
    """A blocking read descriptor of `folder/relative`, each folder and the file opened without following a link.
    SubmissionError for a folder on the way that is a link, or a file that is not regular with one link; OSError
    when it is missing or is itself a link (ELOOP)."""
    label = label or folder.name
    fds = [os.open(folder, _DIR_FLAGS)]
    try:
        parts = relative.split("/")
        for depth, name in enumerate(parts):
            flags = _FILE_FLAGS if depth == len(parts) - 1 else _DIR_FLAGS
            try:
                fds.append(os.open(name, flags, dir_fd=fds[-1]))
            except OSError:  # a folder on the way that is a link (ENOTDIR) is named; the rest as the OS says
                info = os.stat(name, dir_fd=fds[-1], follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode) and depth < len(parts) - 1:
                    raise refuse(label, "/".join(parts[:depth + 1]), info) from None
                raise
        fd = fds.pop()
    finally:
        for opened in fds:
            os.close(opened)
    _checked(fd, label, relative)
    os.set_blocking(fd, True)
    return fd


def _copy_fd(fd: int, info: os.stat_result, relative: str, target: Path, budget: _Budget) -> None:
    budget.take(relative, info.st_size)
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                  0o755 if info.st_mode & 0o111 else 0o644)
    try:
        copied = 0
        while chunk := os.read(fd, CHUNK):
            copied += len(chunk)
            if copied > info.st_size:  # grew while we read it: count what we actually copy
                budget.take(relative, len(chunk))
            os.write(out, chunk)
    finally:
        os.close(out)


def _copy_file(dir_fd: int, name: str, relative: str, target: Path, budget: _Budget) -> None:
    fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    info = _checked(fd, budget.label, relative)
    try:
        _copy_fd(fd, info, relative, target, budget)
    finally:
        os.close(fd)


def _copy_tree(dir_fd: int, target: Path, relative: str, budget: _Budget, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise SubmissionError(f"{budget.label}/{relative}: folders nested more than {MAX_DEPTH} deep")
    target.mkdir(mode=0o755)
    for name in sorted(os.listdir(dir_fd)):
        path = f"{relative}/{name}" if relative else name
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            budget.take(path)
            child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            try:
                _copy_tree(child, target / name, path, budget, depth + 1)
            finally:
                os.close(child)
        elif stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
            _copy_file(dir_fd, name, path, target / name, budget)
        else:
            raise refuse(budget.label, path, info)


def copy_out(source: Path, target: Path, *, label: str | None = None, max_entries: int = MAX_ENTRIES,
             max_bytes: int = MAX_BYTES) -> None:
    """Copy the folder `source` (participant-made) to `target` (must not exist), following no link.

    Raises SubmissionError naming the first entry that is not a regular file or folder, or that breaks a cap;
    then nothing of `target` is left."""
    label = label or source.name
    budget = _Budget(label, max_entries, max_bytes)
    fd = open_source_dir(source)
    try:
        _copy_tree(fd, target, "", budget, 0)
    except SubmissionError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    except OSError as error:
        shutil.rmtree(target, ignore_errors=True)
        raise SubmissionError(f"{label}: could not be copied ({error.strerror or error})") from None
    finally:
        os.close(fd)


def copy_file_out(source: Path, target: Path, *, below: Path | None = None, label: str | None = None,
                  max_bytes: int = MAX_BYTES) -> None:
    """One participant-made regular file to a new `target`, no link followed from `below` (default: its folder)."""
    below = below or source.parent
    relative = source.relative_to(below).as_posix()
    label = label or relative
    try:
        fd = open_regular(below, relative, below.name)
    except FileNotFoundError:
        raise SubmissionError(f"{label}: no such file") from None
    except OSError as error:
        raise SubmissionError(f"{label}: cannot be read ({error.strerror or error})") from None
    try:
        _copy_fd(fd, os.fstat(fd), label, target, _Budget(label, 1, max_bytes))
    except SubmissionError:
        raise
    except OSError as error:
        target.unlink(missing_ok=True)
        raise SubmissionError(f"{label}: could not be copied ({error.strerror or error})") from None
    finally:
        os.close(fd)


def read_regular(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of `path` if it is a regular file with one link, opened without following a link."""
    fd = open_regular(path.parent, path.name)
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise SubmissionError(f"{path.name}: {size} bytes, more than {max_bytes}")
        chunks, total = [], 0
        while chunk := os.read(fd, CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise SubmissionError(f"{path.name}: more than {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes | str) -> None:
    """Write a new file that nobody else may have created first: no link followed, no file replaced."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def replace_atomically(target: Path, data: bytes | Callable[[BinaryIO], object]) -> None:
    """Replace `target` whole or not at all (a full disk, a crash): write `data` (bytes, or a function that writes
    to the open binary file) to a new hidden partial file next to it, sync it, and rename it over `target`.

    The partial has a fresh random name and is created with O_EXCL | O_NOFOLLOW, so two writers of the same target
    never share it and nothing planted at its name is followed or overwritten; on any error it is removed and the
    error raised, and `target` is left as it was. Its mode is 0666 less the umask, as for any new file.
    """
    partial = target.with_name(f".{target.name}.{secrets.token_hex(8)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:
        with open(fd, "wb") as out:
            if callable(data):
                data(out)
            else:
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
