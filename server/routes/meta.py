"""The server itself: /health, /competitions, and /docs (Swagger UI from local files: it works offline)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html

from ..deps import CatalogueDep, RunsDir, SchedulerDep
from ..disk import free_mb

DOCS_ASSETS = "/docs-assets"

router = APIRouter()


@router.get("/docs", include_in_schema=False)
async def docs(request: Request):
    app = request.app
    return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI",
                               swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                               swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")


@router.get("/health")
def health(scheduler: SchedulerDep, runs_dir: RunsDir):
    return {"status": "ok", **scheduler.load(), "disk_free_mb": free_mb(runs_dir)}


@router.get("/competitions")
def competitions(catalogue: CatalogueDep):
    rows = []
    for task_id, task in sorted(catalogue.loaded.items()):
        model = task.model
        primary = next(c for c in model.leaderboard.columns if c.key == model.leaderboard.primary)
        rows.append({"id": task_id, "title": model.title, "submission_kind": model.submission.kind,
                     "metric": primary.key, "metric_title": primary.title, "higher_is_better":
                     primary.sorting == "desc", "scales": list(model.scales), "default_scale": model.default_scale})
    return rows
