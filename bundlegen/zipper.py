"""Zips that are byte-identical on every rebuild: sorted entries, fixed timestamps and permissions."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Already-compressed formats are stored: deflating them again costs time and saves nothing.
STORED_SUFFIXES = {".zip", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".parquet", ".gz", ".npz"}
SKIPPED_NAMES = {"__pycache__", ".DS_Store", ".pytest_cache", ".ipynb_checkpoints"}


class DeterministicZip:
    """Collects entries (bytes or files), then writes them sorted by name with fixed metadata."""

    def __init__(self) -> None:
        self._entries: dict[str, bytes | Path] = {}

    def add_bytes(self, name: str, data: bytes | str) -> None:
        self._add(name, data.encode("utf-8") if isinstance(data, str) else data)

    def add_file(self, name: str, path: Path) -> None:
        self._add(name, path)

    def add_tree(self, folder: Path, prefix: str = "", exclude: str | None = None) -> None:
        """Every file below `folder`, at `prefix` + its relative path (caches, litter and `exclude` skipped)."""
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if exclude and relative.parts[0] == exclude:
                continue
            if any(part in SKIPPED_NAMES or part.endswith(".pyc") for part in relative.parts):
                continue
            if path.is_file():
                self._add(prefix + relative.as_posix(), path)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def _add(self, name: str, content: bytes | Path) -> None:
        assert not name.startswith("/") and ".." not in name.split("/"), name
        assert name not in self._entries, f"duplicate zip entry {name}"
        self._entries[name] = content

    def write(self, target) -> None:
        """Write to a path or a binary file object."""
        with zipfile.ZipFile(target, "w") as archive:
            for name in sorted(self._entries):
                content = self._entries[name]
                info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
                executable = isinstance(content, Path) and content.stat().st_mode & 0o111
                info.external_attr = (0o100755 if executable else 0o100644) << 16
                info.create_system = 3  # unix, whatever the building machine is
                stored = Path(name).suffix.lower() in STORED_SUFFIXES
                info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                if isinstance(content, bytes):
                    archive.writestr(info, content)
                else:
                    info.file_size = content.stat().st_size  # lets zipfile decide on zip64 up front
                    with open(content, "rb") as source, archive.open(info, "w") as out:
                        while chunk := source.read(1 << 20):
                            out.write(chunk)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.write(buffer)
        return buffer.getvalue()


def current_umask() -> int:
    """The process's umask, read without changing it (os.umask would, for a moment, under other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def human_size(size: int) -> str:
    """112 KB, 63.5 MB, 1.2 GB: never "0.0 MB" for a small bundle."""
    if size < 1000:
        return f"{size} B"
    if size < 999_500:
        return f"{size / 1e3:.0f} KB"
    if size < 999_950_000:
        return f"{size / 1e6:.1f} MB"
    return f"{size / 1e9:.1f} GB"
