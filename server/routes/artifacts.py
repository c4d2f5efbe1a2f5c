"""A run's files: its tasks' allowlisted artifacts (job.ARTIFACTS), opened without following a link, and its
metrics zip."""
from __future__ import annotations

import io
import json
import mimetypes
import os
import zipfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from programlib.errors import SubmissionError
from programlib.transfer import open_regular

from ..deps import RunDep, RunsDir
from ..entries import run_entries
from ..errors import ApiError
from ..job import ARTIFACTS
from ..summary import run_summary

METRICS_MAX_BYTES = 64 * 1024**2  # per file of the metrics zip
CHUNK = 1 << 20

router = APIRouter()


@router.get("/runs/{run_id}/artifacts")
def artifacts(run: RunDep, runs_dir: RunsDir):
    return task_artifacts(runs_dir, run)


@router.get("/runs/{run_id}/artifacts/{path:path}")
def artifact(run_id: str, path: str, run: RunDep, runs_dir: RunsDir):
    """Only an allowlisted name (job.ARTIFACTS) of one of the run's tasks, opened without following a link."""
    task, _, name = path.partition("/")
    fd = None
    if task in run_entries(run["spec"]) and name in ARTIFACTS:
        fd = open_artifact(runs_dir / run_id / "tasks" / task, name)
    if fd is None:
        raise ApiError(404, f"no artifact {path!r} in run {run_id} (GET /runs/{run_id}/artifacts lists them)")
    size = os.fstat(fd).st_size  # a log still being written: what it holds now
    media = "text/plain" if name.endswith(".log") else mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media.startswith("text/"):
        media += "; charset=utf-8"
    return StreamingResponse(stream_fd(fd, size), media_type=media,  # closes fd, even if never started
                             headers={"Content-Length": str(size), "X-Content-Type-Options": "nosniff"})


@router.get("/runs/{run_id}/metrics")
def metrics(run_id: str, run: RunDep, runs_dir: RunsDir):
    """A zip of summary.json and, per task, scores.json and detailed_results.html."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summary.json", json.dumps(run_summary(run), indent=2, sort_keys=True))
        for task in run_entries(run["spec"]):
            for name in ("scores.json", "detailed_results.html"):
                fd = open_artifact(runs_dir / run_id / "tasks" / task, name)
                if fd is not None:
                    archive.writestr(f"{task}/{name}", b"".join(stream_fd(fd, METRICS_MAX_BYTES)))
    return Response(buffer.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{run_id}-metrics.zip"'})


def task_artifacts(runs_dir: Path, run: dict) -> list[str]:
    """`task/name` of each allowlisted artifact that is a regular file at the top of its task folder."""
    found = []
    for task in run_entries(run["spec"]):
        for name in ARTIFACTS:
            fd = open_artifact(runs_dir / run["run_id"] / "tasks" / task, name)
            if fd is not None:
                os.close(fd)
                found.append(f"{task}/{name}")
    return sorted(found)


def open_artifact(task_dir: Path, name: str) -> int | None:
    """A descriptor of the regular, singly-linked file `name` (a name of job.ARTIFACTS) in `task_dir`, every
    folder and the file opened without following a link; None for anything else (missing, a link, a FIFO, a
    device, a folder, a hard-linked file)."""
    try:
        return open_regular(task_dir, name)
    except (OSError, SubmissionError):
        return None


def stream_fd(fd: int, size: int):
    """At most `size` bytes of the open file `fd`, in chunks; closes it (a file object: closed even when the
    generator is dropped before it starts, e.g. the client went away)."""
    return _stream(os.fdopen(fd, "rb", buffering=0), size)


def _stream(handle, size: int):
    with handle:
        while size > 0 and (chunk := handle.read(min(CHUNK, size))):
            size -= len(chunk)
            yield chunk
