"""The web pages' routes: /ui/runs, /ui/runs/{id}, /ui/leaderboard, /ui/tasks, the login form and the static files.

Pages are server-rendered; web.js only refreshes a live table (the same page's fragment, every 2 s while something
runs) and sends the cancel and resume buttons' calls to the JSON API (DELETE /runs/{id}, POST /runs/{id}/resume).
"""
from __future__ import annotations

import datetime as dt
import hmac
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ..catalogue import TaskCatalogue
from ..deps import CatalogueDep, ProjectDep, RunDep, RunsDir, SettingsDep, StoreDep
from ..errors import ApiError
from ..routes.agents import chosen_competitions
from ..routes.artifacts import task_artifacts
from . import session, views
from .catalogue import task_cards
from .chart import chart_svg

HERE = Path(__file__).resolve().parent
STATIC = {"web.css": "text/css", "web.js": "text/javascript", "favicon.svg": "image/svg+xml"}
PAGE_SIZE = 100
# Nothing but this server: a page that tried to load anything from elsewhere (a CDN) would be refused and say so.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return (f"{hours} h " if hours else "") + (f"{rest // 60} m " if hours or rest >= 60 else "") + f"{rest % 60} s"


def when(stamp: float | None) -> str:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if stamp else "–"


def score(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


templates.env.filters.update(duration=duration, when=when, score=score)


def page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    settings = request.app.state.settings
    response = templates.TemplateResponse(request, name, {"locked": bool(settings.token), **context},
                                          status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/")
def home():
    return RedirectResponse("/ui/runs", status_code=303)


@router.get("/favicon.ico")  # asked for by browsers on any page (an artifact's too): no 404 in their console
def favicon():
    return static("favicon.svg")


@router.get("/ui/static/{name}")
def static(name: str):
    if name not in STATIC:
        raise ApiError(404, f"no static file {name!r}")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name])


@router.get(session.LOGIN)
def login_form(request: Request, settings: SettingsDep, next: str | None = None):
    if not settings.token:
        return RedirectResponse(session.safe_next(next), status_code=303)
    return page(request, "login.html", {"next": session.safe_next(next), "wrong": False})


@router.post(session.LOGIN)
async def login(request: Request, settings: SettingsDep):
    """The token, from the form's body (never the URL), for an HttpOnly cookie that ends with the browser session."""
    form = parse_qs((await request.body()).decode(errors="replace"))
    given, target = form.get("token", [""])[0], session.safe_next(form.get("next", [None])[0])
    if not settings.token:
        return RedirectResponse(target, status_code=303)
    if not hmac.compare_digest(given.encode(), settings.token.encode()):
        return page(request, "login.html", {"next": target, "wrong": True}, status=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(session.COOKIE, session.session_value(settings.token), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post(session.LOGOUT)
def logout():
    response = RedirectResponse(session.LOGIN, status_code=303)
    response.delete_cookie(session.COOKIE, path="/")
    return response


def run_filters(request: Request) -> dict:
    return {name: request.query_params.get(name) or "" for name in ("agent", "split", "status")}


def runs_context(request: Request, store, root: Path) -> dict:
    filters = run_filters(request)
    rows, choices = views.run_rows(views.stored_runs(store), root, filters)
    given = request.query_params.get("page") or "1"
    number = max(1, int(given)) if given.isdigit() else 1
    shown = rows[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
    query = urlencode({k: v for k, v in filters.items() if v})
    return {"rows": shown, "total": len(rows), "filters": filters, "choices": choices, "page": number,
            "pages": max(1, -(-len(rows) // PAGE_SIZE)), "query": query,
            "live": any(row["live"] for row in shown)}


@router.get("/ui/runs")
def runs_page(request: Request, store: StoreDep, project: ProjectDep):
    return page(request, "runs.html", runs_context(request, store, project.root))


@router.get("/ui/runs/rows")
def runs_rows(request: Request, store: StoreDep, project: ProjectDep):
    """The runs table alone: what web.js swaps in while runs go."""
    return page(request, "_runs_table.html", runs_context(request, store, project.root))


def run_context(run: dict, runs_dir: Path, root: Path) -> dict:
    return views.run_view(run, task_artifacts(runs_dir, run), root)


@router.get("/ui/runs/{run_id}")
def run_page(request: Request, run: RunDep, runs_dir: RunsDir, project: ProjectDep):
    return page(request, "run.html", run_context(run, runs_dir, project.root))


@router.get("/ui/runs/{run_id}/tasks")
def run_tasks(request: Request, run: RunDep, runs_dir: RunsDir, project: ProjectDep):
    return page(request, "_run_body.html", run_context(run, runs_dir, project.root))


@router.get("/ui/leaderboard")
def leaderboard_page(request: Request, store: StoreDep, project: ProjectDep, competitions: str | None = None):
    """competitions: as GET /leaderboard's (a split file, or task ids separated by commas; default: every task)."""
    catalogue = TaskCatalogue.load(project) if competitions else None  # read only when tasks are named
    view = views.leaderboard_view(views.stored_runs(store), chosen_competitions(competitions, catalogue,
                                                                                  project.root))
    return page(request, "leaderboard.html", {**view, "chart": chart_svg(view), "competitions": competitions or "",
                                              "splits": sorted(views.splits(project.root))})


@router.get("/ui/tasks")
def tasks_page(request: Request, catalogue: CatalogueDep, project: ProjectDep):
    return page(request, "tasks.html", {"tasks": task_cards(catalogue, views.splits(project.root)),
                                        "broken": catalogue.broken})
