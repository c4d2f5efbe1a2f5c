"""The benchmark server: run prepare → submission → grading for any set of tasks over HTTP.

    python3 build_bundle.py serve [--host 127.0.0.1] [--port 8000] [--runs-dir runs] [--workers N]
                                  [--resume] [--executor local|ray --ray-address HEAD:6379]
    uvicorn server.app:app        (settings from MLEB_RUNS_DIR, MLEB_WORKERS, MLEB_SERVER_TOKEN, ...)

Every error is JSON: {"error": "...", "details": [...]}. With MLEB_SERVER_TOKEN set, every request
needs `Authorization: Bearer <token>` (the web pages: their login cookie, server/web/session.py).

The endpoints are in server/routes/ (meta: /health /competitions /docs; runs; uploads; artifacts; agents:
/agents /leaderboard) and the web pages in server/web/ (/ui/...); they reach the settings, store, scheduler,
task catalogue and runs folder through server/deps.py's dependencies, which read what create_app and its lifespan
keep on app.state. The scheduler runs each task's job through an executor (server/executors/: the local pool, or
a Ray cluster).
"""
from __future__ import annotations

import contextlib
import fcntl

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from bundlegen.project import Project

from . import errors
from .catalogue import TaskCatalogue
from .errors import ApiError
from .executors import make_executor
from .routes import agents, artifacts, meta, runs, uploads
from .routes.artifacts import open_artifact, stream_fd
from .routes.meta import DOCS_ASSETS
from .routes.runs import RunRequest, new_run_id, progress
from .routes.uploads import check_upload
from .scheduler import Scheduler, kill_orphans
from .settings import DEFAULT_MAX_UPLOAD_MB, Settings
from .store import Store
from .web import pages as web

__all__ = ["ApiError", "DEFAULT_MAX_UPLOAD_MB", "RunRequest", "Settings", "TaskCatalogue", "app", "check_upload",
           "create_app", "new_run_id", "open_artifact", "progress", "stream_fd"]


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    runs_dir, settings = app.state.runs_dir, app.state.settings
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
    scheduler = Scheduler(store, runs_dir, app.state.project.root, settings.workers, settings.job_time_limit,
                          make_executor(settings, runs_dir))
    scheduler.start()
    if settings.resume:  # `serve --resume`: what the previous server left unfinished runs again
        scheduler.resume(interrupted)
    app.state.store, app.state.scheduler = store, scheduler
    app.state.interrupted, app.state.orphans = interrupted, orphans
    yield
    scheduler.stop()
    lock.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="MLE bundles benchmark server", lifespan=lifespan, docs_url=None)
    app.state.settings = settings
    app.state.runs_dir = settings.runs_dir.resolve()
    app.state.project = Project(settings.project_root)
    # /docs from Swagger UI's files installed with the server (swagger-ui-bundle), not a CDN: it works offline
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")
    errors.install(app)
    for module in (meta, uploads, runs, artifacts, agents, web):  # web: the pages under /ui (server/web/)
        app.include_router(module.router)
    return app


app = create_app()
