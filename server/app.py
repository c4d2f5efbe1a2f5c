"""The benchmark server: run prepare → submission → grading for any set of tasks over HTTP.

    python3 build_bundle.py serve [--host 127.0.0.1] [--port 8000] [--runs-dir runs] [--workers N]
    uvicorn server.app:app        (settings from MLEB_RUNS_DIR, MLEB_WORKERS, MLEB_SERVER_TOKEN, ...)

Every error is JSON: {"error": "...", "details": [...]}. With MLEB_SERVER_TOKEN set, every request
needs `Authorization: Bearer <token>`.
"""
from __future__ import annotations

import contextlib
import fcntl
import io
import json
import mimetypes
import os
import secrets
import shutil
import sqlite3
import stat
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from bundlegen.definition import DefinitionError, load_task
from bundlegen.project import Project
from programlib.archive import UnsafeArchiveError, check_member

from .job import ARTIFACTS, disk_full
from .scheduler import Scheduler, kill_orphans
from .store import Store
from .summary import run_summary

DEFAULT_MAX_UPLOAD_MB = 512
DOCS_ASSETS = "/docs-assets"
UPLOAD_MAX_ENTRIES = 20_000
UPLOAD_MAX_UNPACKED = 4 * 1024**3
METRICS_MAX_BYTES = 64 * 1024**2  # per file of the metrics zip
CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # O_NONBLOCK: a FIFO never blocks us


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list | None = None):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []


@dataclass
class Settings:
    runs_dir: Path = Path("runs")
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    token: str | None = None
    project_root: Path = field(default_factory=lambda: Project().root)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024**2
    job_time_limit: float = 3600.0

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        settings = cls(runs_dir=Path(env.get("MLEB_RUNS_DIR", "runs")), token=env.get("MLEB_SERVER_TOKEN") or None)
        if env.get("MLEB_WORKERS"):
            settings.workers = int(env["MLEB_WORKERS"])
        if env.get("MLEB_PROJECT"):
            settings.project_root = Path(env["MLEB_PROJECT"])
        if env.get("MLEB_MAX_UPLOAD_MB"):
            settings.max_upload_bytes = int(float(env["MLEB_MAX_UPLOAD_MB"]) * 1024**2)
        if env.get("MLEB_JOB_TIME_LIMIT"):
            settings.job_time_limit = float(env["MLEB_JOB_TIME_LIMIT"])
        return settings


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    competitions: list[str] | str = Field(description="task ids, or a split file such as splits/lite.txt")
    # reference: the bundled solution; sample: the trivial submission; or {task id: upload id} from POST /uploads
    solution: Literal["reference", "sample"] | dict[str, str] = "reference"
    scale: Literal["tiny", "small", "full"] | None = None
    seed: int | None = None
    time_limit: float | None = Field(default=None, gt=0, description="override the phase's time limit (s)")


def new_run_id() -> str:
    return time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime()) + "_" + secrets.token_hex(3)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    runs_dir = settings.runs_dir.resolve()
    project = Project(settings.project_root)
    state: dict = {}
    broken: dict[str, list[str]] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        runs_dir.mkdir(parents=True, exist_ok=True)
        lock = open(runs_dir / "server.lock", "w")
        try:  # one server per runs folder: a second one would mark the first one's runs interrupted
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SystemExit(f"another server uses {runs_dir} (its server.lock is held); stop it or choose "
                             f"another --runs-dir") from None
        orphans = kill_orphans(runs_dir)  # job processes of a server that died under them
        store = Store(runs_dir / "state.sqlite")
        interrupted = store.mark_interrupted()  # a previous server's unfinished runs: kept, resumable
        scheduler = Scheduler(store, runs_dir, project.root, settings.workers, settings.job_time_limit)
        scheduler.start()
        state.update(store=store, scheduler=scheduler, interrupted=interrupted, orphans=orphans)
        yield
        scheduler.stop()
        lock.close()

    app = FastAPI(title="MLE bundles benchmark server", lifespan=lifespan, docs_url=None)
    # /docs from Swagger UI's files installed with the server (swagger-ui-bundle), not a CDN: it works offline
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError):
        return JSONResponse({"error": error.message, "details": error.details}, status_code=error.status)

    @app.exception_handler(OSError)
    @app.exception_handler(sqlite3.Error)
    async def storage_error(_request: Request, error: Exception):
        """A full disk is the server's condition, not a crash: 507 and a message, as JSON like every error."""
        if disk_full(runs_dir, error):
            return JSONResponse({"error": f"the server's disk is full (No space left on device): {error}; try "
                                          f"again once space is freed", "details": []}, status_code=507)
        return JSONResponse({"error": f"internal error: {error}", "details": []}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        """Starlette's own errors (an unknown path: 404, a wrong method: 405) in the same shape as ours."""
        message = {404: f"no endpoint {request.url.path!r} (see the README's list of endpoints)",
                   405: f"{request.method} is not allowed on {request.url.path!r}"}.get(error.status_code, error.detail)
        return JSONResponse({"error": message, "details": []}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError):
        details = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in error.errors()]
        return JSONResponse({"error": "invalid request: " + "; ".join(details), "details": details}, status_code=422)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if settings.token and not secrets.compare_digest(request.headers.get("authorization", ""),
                                                         f"Bearer {settings.token}"):
            return JSONResponse({"error": "missing or wrong bearer token (Authorization: Bearer ...)",
                                 "details": []}, status_code=401)
        return await call_next(request)

    def tasks() -> dict:
        """The tasks whose definitions load; a broken one is left out (and named when asked for)."""
        loaded = {}
        broken.clear()
        for task_id, folder in sorted(project.task_dirs().items()):
            try:
                loaded[task_id] = load_task(folder, project)
            except DefinitionError as error:
                broken[task_id] = error.problems
        return loaded

    def get_run(run_id: str) -> dict:
        run = state["store"].run(run_id)
        if run is None:
            raise ApiError(404, f"no run {run_id!r}")
        return run

    def resolve_competitions(competitions: list[str] | str, known: dict) -> list[str]:
        if isinstance(competitions, str):
            if competitions.endswith(".txt") or "/" in competitions:
                competitions = read_split(competitions)
            else:
                competitions = [competitions]
        if not competitions:
            raise ApiError(400, "no competitions given")
        invalid = [task for task in competitions if task in broken]
        if invalid:
            raise ApiError(400, f"the definition of {', '.join(invalid)} is invalid on this server",
                           [problem for task in invalid for problem in broken[task]])
        unknown = [task for task in competitions if task not in known]
        if unknown:
            raise ApiError(400, f"unknown task(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        if len(set(competitions)) != len(competitions):
            raise ApiError(400, "a task is listed twice")
        return list(competitions)

    def read_split(name: str) -> list[str]:
        splits = (project.root / "splits").resolve()
        path = (project.root / name).resolve()
        if not path.is_relative_to(splits) or path.suffix != ".txt":
            raise ApiError(400, f"split file {name!r}: must be a .txt file under splits/")
        if not path.is_file():
            available = sorted(p.relative_to(project.root).as_posix() for p in splits.glob("*.txt"))
            raise ApiError(400, f"split file {name!r} not found (available: {', '.join(available) or 'none'})")
        lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
        return [line for line in lines if line]

    # --- endpoints ---------------------------------------------------------------------------------

    @app.get("/health")
    def health():
        return {"status": "ok", **state["scheduler"].load(),
                "disk_free_mb": round(shutil.disk_usage(runs_dir).free / 1024**2, 1)}

    @app.get("/competitions")
    def competitions():
        rows = []
        for task_id, task in sorted(tasks().items()):
            model = task.model
            primary = next(c for c in model.leaderboard.columns if c.key == model.leaderboard.primary)
            rows.append({"id": task_id, "title": model.title, "submission_kind": model.submission.kind,
                         "metric": primary.key, "metric_title": primary.title, "higher_is_better":
                         primary.sorting == "desc", "scales": list(model.scales), "default_scale": model.default_scale})
        return rows

    @app.post("/uploads", status_code=201)
    async def upload(request: Request):
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
        partial = folder / f".{upload_id}.partial"
        try:
            partial.write_bytes(data)
            partial.replace(folder / f"{upload_id}.zip")  # whole or not at all (a full disk)
        finally:
            partial.unlink(missing_ok=True)
        return {"upload_id": upload_id, "size": len(data), "files": files}

    @app.post("/runs", status_code=202)
    def create_run(body: RunRequest):
        known = tasks()
        chosen = resolve_competitions(body.competitions, known)
        if isinstance(body.solution, dict):
            missing = [task for task in chosen if task not in body.solution]
            extra = [task for task in body.solution if task not in chosen]
            if missing or extra:
                raise ApiError(400, "solution: give one upload id per task of the run" +
                               (f"; missing: {', '.join(missing)}" if missing else "") +
                               (f"; not in the run: {', '.join(extra)}" if extra else ""))
            for task, upload_id in body.solution.items():
                if not upload_id.isalnum() or not (runs_dir / "uploads" / f"{upload_id}.zip").is_file():
                    raise ApiError(400, f"solution[{task!r}]: no upload {upload_id!r} (POST /uploads first)")
        for task in chosen:
            if body.scale and body.scale not in known[task].model.scales:
                raise ApiError(400, f"task {task} has no scale {body.scale!r}")
        run_id = new_run_id()
        spec = body.model_dump()
        spec["competitions"] = chosen
        try:
            for task in chosen:
                task_dir = runs_dir / run_id / "tasks" / task
                task_dir.mkdir(parents=True)
                if isinstance(body.solution, dict):
                    shutil.copyfile(runs_dir / "uploads" / f"{body.solution[task]}.zip", task_dir / "submission.zip")
            state["store"].add_run(run_id, spec, chosen)
        except BaseException:  # a full disk: no half-made run is left behind
            shutil.rmtree(runs_dir / run_id, ignore_errors=True)
            raise
        state["scheduler"].submit(run_id, chosen)
        return {"run_id": run_id, "status": "queued", "competitions": chosen}

    @app.get("/runs")
    def list_runs():
        return [{"run_id": r["run_id"], "created": r["created"], "status": r["status"], "message": r["message"],
                 "competitions": r["spec"]["competitions"], "progress": progress(r)} for r in state["store"].runs()]

    @app.get("/runs/{run_id}")
    def run_status(run_id: str):
        run = get_run(run_id)
        return {"run_id": run_id, "created": run["created"], "status": run["status"], "message": run["message"],
                "spec": run["spec"], "progress": progress(run),
                "resumable": run["status"] in ("interrupted", "cancelled"),
                "tasks": [{"task": t["task"], "status": t["status"], "started": t["started"],
                           "finished": t["finished"]} for t in run["tasks"]]}

    @app.get("/runs/{run_id}/summary")
    def summary(run_id: str):
        return run_summary(get_run(run_id))

    @app.delete("/runs/{run_id}")
    def cancel(run_id: str):
        run = get_run(run_id)
        if run["status"] not in ("queued", "running"):
            raise ApiError(409, f"run {run_id} is {run['status']}: only a queued or running run can be cancelled")
        state["scheduler"].cancel(run_id)
        return {"run_id": run_id, "status": "cancelled"}

    @app.post("/runs/{run_id}/resume", status_code=202)
    def resume(run_id: str):
        run = get_run(run_id)
        if run["status"] not in ("interrupted", "cancelled"):
            raise ApiError(409, f"run {run_id} is {run['status']}: only an interrupted or cancelled run resumes")
        again = state["store"].requeue_unfinished(run_id)
        state["scheduler"].submit(run_id, again)
        return {"run_id": run_id, "status": "queued", "resumed": again}

    def task_artifacts(run: dict) -> list[str]:
        """`task/name` of each allowlisted artifact that is a regular file at the top of its task folder."""
        found = []
        for task in run["spec"]["competitions"]:
            for name in ARTIFACTS:
                fd = open_artifact(runs_dir / run["run_id"] / "tasks" / task, name)
                if fd is not None:
                    os.close(fd)
                    found.append(f"{task}/{name}")
        return sorted(found)

    @app.get("/runs/{run_id}/artifacts")
    def artifacts(run_id: str):
        return task_artifacts(get_run(run_id))

    @app.get("/runs/{run_id}/artifacts/{path:path}")
    def artifact(run_id: str, path: str):
        """Only an allowlisted name (job.ARTIFACTS) of one of the run's tasks, opened without following a link."""
        run = get_run(run_id)
        task, _, name = path.partition("/")
        fd = None
        if task in run["spec"]["competitions"] and name in ARTIFACTS:
            fd = open_artifact(runs_dir / run_id / "tasks" / task, name)
        if fd is None:
            raise ApiError(404, f"no artifact {path!r} in run {run_id} (GET /runs/{run_id}/artifacts lists them)")
        size = os.fstat(fd).st_size  # a log still being written: what it holds now
        media = "text/plain" if name.endswith(".log") else mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media.startswith("text/"):
            media += "; charset=utf-8"
        return StreamingResponse(stream_fd(fd, size), media_type=media,  # closes fd, even if never started
                                 headers={"Content-Length": str(size), "X-Content-Type-Options": "nosniff"})

    @app.get("/runs/{run_id}/metrics")
    def metrics(run_id: str):
        """A zip of summary.json and, per task, scores.json and detailed_results.html."""
        run = get_run(run_id)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("summary.json", json.dumps(run_summary(run), indent=2, sort_keys=True))
            for task in run["spec"]["competitions"]:
                for name in ("scores.json", "detailed_results.html"):
                    fd = open_artifact(runs_dir / run_id / "tasks" / task, name)
                    if fd is not None:
                        archive.writestr(f"{task}/{name}", b"".join(stream_fd(fd, METRICS_MAX_BYTES)))
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{run_id}-metrics.zip"'})

    return app


def progress(run: dict) -> dict:
    """done: the tasks that really finished (completed or failed); interrupted and cancelled ones are counted apart
    (a run interrupted with 2 of 7 tasks finished said done 7)."""
    statuses = [task["status"] for task in run["tasks"]]
    return {"total": len(statuses), "done": statuses.count("completed") + statuses.count("failed"),
            "running": statuses.count("running"), "interrupted": statuses.count("interrupted"),
            "cancelled": statuses.count("cancelled")}


def open_artifact(task_dir: Path, name: str) -> int | None:
    """A descriptor of the regular, singly-linked file `name` (a name of job.ARTIFACTS) in `task_dir`, every
    folder and the file opened without following a link; None for anything else (missing, a link, a FIFO, a
    device, a folder, a hard-linked file)."""
    fds = []
    try:
        fds.append(os.open(task_dir, _DIR_FLAGS))
        *folders, leaf = name.split("/")
        for folder in folders:
            fds.append(os.open(folder, _DIR_FLAGS, dir_fd=fds[-1]))
        fd = os.open(leaf, _FILE_FLAGS, dir_fd=fds[-1])
    except OSError:
        return None
    finally:
        for folder_fd in fds:
            os.close(folder_fd)
    info = os.fstat(fd)  # the file we opened, not whatever the name points at now
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        return None
    os.set_blocking(fd, True)
    return fd


def stream_fd(fd: int, size: int):
    """At most `size` bytes of the open file `fd`, in chunks; closes it (a file object: closed even when the
    generator is dropped before it starts, e.g. the client went away)."""
    return _stream(os.fdopen(fd, "rb", buffering=0), size)


def _stream(handle, size: int):
    with handle:
        while size > 0 and (chunk := handle.read(min(CHUNK, size))):
            size -= len(chunk)
            yield chunk


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


app = create_app()
