"""Unpacking zips without trusting them: no path escapes, no links, bounded size."""
from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_ENTRIES = 200_000
MAX_TOTAL_BYTES = 20 * 1024**3


class UnsafeArchiveError(Exception):
    """A zip that cannot be unpacked safely (or is not a zip at all)."""


def check_member(name: str, info: zipfile.ZipInfo | None = None) -> PurePosixPath:
    """The member's relative path, or UnsafeArchiveError if it would land outside the target folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"entry {name!r} has an absolute path")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"entry {name!r} escapes the target folder ('..')")
    if info is not None and stat.S_ISLNK(info.external_attr >> 16):
        raise UnsafeArchiveError(f"entry {name!r} is a symbolic link")
    return path


def safe_extract(source, target: Path, *, label: str | None = None, max_entries: int = MAX_ENTRIES,
                 max_total_bytes: int = MAX_TOTAL_BYTES) -> list[Path]:
    """Extract zip `source` (path or file object) into `target`, checking every entry before writing any."""
    label = label or str(source)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise UnsafeArchiveError(f"{label}: not a valid zip file ({error})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise UnsafeArchiveError(f"{label}: {len(infos)} entries, more than the limit of {max_entries}")
        total = sum(info.file_size for info in infos)
        if total > max_total_bytes:
            raise UnsafeArchiveError(f"{label}: {total} bytes uncompressed, more than the limit of {max_total_bytes}")
        members = []
        for info in infos:
            try:
                members.append((info, check_member(info.filename, info)))
            except UnsafeArchiveError as error:
                raise UnsafeArchiveError(f"{label}: {error}") from None
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for info, relative in members:
            destination = target.joinpath(*relative.parts)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as source_file, open(destination, "wb") as out:
                    while chunk := source_file.read(1 << 20):
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise UnsafeArchiveError(f"{label}: entry {info.filename!r} is corrupt ({error})") from None
            if info.external_attr >> 16 & 0o111:
                destination.chmod(0o755)
            written.append(destination)
    return written
