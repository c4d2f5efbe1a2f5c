"""POST /uploads: a submission zip, checked, then kept under runs/uploads/ for a run's `solution`."""
from __future__ import annotations

import io
import secrets
import zipfile

from fastapi import APIRouter, Request

from programlib.archive import UnsafeArchiveError, check_member
from programlib.transfer import replace_atomically

from ..deps import RunsDir, SettingsDep
from ..errors import ApiError

UPLOAD_MAX_ENTRIES = 20_000
UPLOAD_MAX_UNPACKED = 4 * 1024**3

router = APIRouter()


@router.post("/uploads", status_code=201)
async def upload(request: Request, settings: SettingsDep, runs_dir: RunsDir):
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes:
        raise ApiError(413, f"the upload is {int(declared)} bytes; the limit is {settings.max_upload_bytes}")
    buffer = io.BytesIO()
    async for chunk in request.stream():
        buffer.write(chunk)
        if buffer.tell() > settings.max_upload_bytes:
            raise ApiError(413, f"the upload exceeds the limit of {settings.max_upload_bytes} bytes")
    data = buffer.getvalue()
    files = check_upload(data)
    upload_id = secrets.token_hex(8)
    folder = runs_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    replace_atomically(folder / f"{upload_id}.zip", data)  # whole or not at all (a full disk)
    return {"upload_id": upload_id, "size": len(data), "files": files}


def check_upload(data: bytes) -> list[str]:
    """A submission zip, checked before it is stored: readable, no path escapes or links, bounded size."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ApiError(400, "the upload is not a zip file") from None
    infos = archive.infolist()
    if len(infos) > UPLOAD_MAX_ENTRIES:
        raise ApiError(400, f"the zip has {len(infos)} entries; the limit is {UPLOAD_MAX_ENTRIES}")
    if sum(info.file_size for info in infos) > UPLOAD_MAX_UNPACKED:
        raise ApiError(400, f"the zip unpacks to more than {UPLOAD_MAX_UNPACKED} bytes")
    try:
        for info in infos:
            check_member(info.filename, info)
    except UnsafeArchiveError as error:
        raise ApiError(400, f"unsafe zip: {error}") from None
    return sorted(info.filename for info in infos if not info.is_dir())
