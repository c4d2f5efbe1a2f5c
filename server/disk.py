"""The disk of the runs folder: whether it is full, an error in a few words, and freeing a task's space.

Used by the job processes (server/job.py), the scheduler and the app (a full disk is a 507, not a crash).
"""
from __future__ import annotations

import contextlib
import errno
import shutil
from pathlib import Path

LOW_SPACE = 1024**2  # bytes free below which the disk of the runs folder counts as full
DISK_FULL = "the disk of the runs folder is full (No space left on device, ENOSPC): the task could not be graded"
FREED = "its run files were deleted to free space, its logs kept"


def disk_full(path: Path, error: BaseException | None = None) -> bool:
    """Whether the disk holding `path` is full: `error` says so, or the free space does (SQLite may call
    it a 'disk I/O error'; shutil.Error carries its files' errors as text, without an errno)."""
    if error is not None and (getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or any(
            words in str(error) for words in ("No space left on device", "Disk quota exceeded", "disk is full"))):
        return True
    try:
        return shutil.disk_usage(path).free < LOW_SPACE
    except OSError:
        return False


def free_mb(path: Path) -> float:
    """The free space of the disk holding `path`, in MB (one decimal), as /health reports it."""
    return round(shutil.disk_usage(path).free / 1024**2, 1)


def why(error: BaseException) -> str:
    """An error in a few words: shutil.Error (copytree) lists every file's error; the first one says it."""
    if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list) and error.args[0]:
        return str(error.args[0][0][-1])
    return str(error)


def free_space(task_dir: Path) -> None:
    """The disk is full: delete the task's run files, keeping its logs (the rest deleted first, so there
    is room to copy them to the top of the task folder)."""
    from .job import artifact_sources, collect_artifacts  # job.py imports this module: imported when called

    run_dir = task_dir / "run"
    keep = set(artifact_sources(run_dir))
    for path in sorted(run_dir.rglob("*"), reverse=True) if run_dir.is_dir() else []:
        if path not in keep and (path.is_symlink() or not path.is_dir()):
            with contextlib.suppress(OSError):
                path.unlink()
    try:
        collect_artifacts(run_dir, task_dir)
    except OSError:
        pass  # still no room: the logs are lost, the space is freed all the same
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(task_dir / "work", ignore_errors=True)
