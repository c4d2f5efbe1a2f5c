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
import shutil
import stat
from pathlib import Path

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


def _copy_file(dir_fd: int, name: str, relative: str, target: Path, budget: _Budget) -> None:
    fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)  # the file we opened, not whatever the name points at now
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise refuse(budget.label, relative, info)
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


def copy_file_out(source: Path, target: Path, *, label: str | None = None, max_bytes: int = MAX_BYTES) -> None:
    """One participant-made regular file (no link anywhere below `source.parent`) to a new `target`."""
    label = label or source.name
    fd = open_source_dir(source.parent)
    try:
        _copy_file(fd, source.name, source.name, target, _Budget(label, 1, max_bytes))
    except FileNotFoundError:
        raise SubmissionError(f"{label}: no such file") from None
    except SubmissionError:
        raise
    except OSError as error:
        target.unlink(missing_ok=True)
        raise SubmissionError(f"{label}: could not be copied ({error.strerror or error})") from None
    finally:
        os.close(fd)


def read_regular(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of `path` if it is a regular file with one link, opened without following a link."""
    fd = os.open(path, _FILE_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise refuse(path.parent.name, path.name, info)
        if info.st_size > max_bytes:
            raise SubmissionError(f"{path.name}: {info.st_size} bytes, more than {max_bytes}")
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
