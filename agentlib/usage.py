"""What an agent's processes used, sampled from the host's /proc while it runs: the fallback for a rollout's peak
memory where no cgroup can be made (with one, run_process hands back the kernel's own high-water mark).

This samples the resident memory of the whole tree (bubblewrap, found by a token only its command line holds,
and every process below it) every INTERVAL seconds (more often in its first second, so a short run is measured
too). A spike shorter than that can be missed: the record says it is sampled.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

INTERVAL = 0.5
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """with PeakMemory(token) as peak: ...; then peak.peak_mb (None when no process was ever seen)."""

    def __init__(self, token: str, interval: float = INTERVAL):
        self.token, self.interval = token.encode(), interval
        self.peak_bytes: int | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.done.set()
        self.thread.join()

    @property
    def peak_mb(self) -> float | None:
        return None if self.peak_bytes is None else round(self.peak_bytes / 1024**2, 1)

    def _sample(self) -> None:
        wait = min(0.02, self.interval)
        while True:
            pids = _tree(self.token)
            if pids:
                used = sum(_resident(pid) for pid in pids)
                self.peak_bytes = max(self.peak_bytes or 0, used)
            if self.done.wait(wait):
                return
            wait = min(wait * 2, self.interval)


def _tree(token: bytes) -> set[int]:
    """The processes whose command line holds `token`, and all their descendants."""
    children: dict[int, list[int]] = {}
    roots = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if pid != os.getpid() and token in (entry / "cmdline").read_bytes():
                roots.append(pid)
        except (OSError, IndexError, ValueError):
            continue  # gone, or not readable
        children.setdefault(parent, []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def _resident(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0
