"""The server's shared objects, kept on app.state by create_app and its lifespan, as FastAPI dependencies."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from bundlegen.project import Project
from fastapi import Depends, Request

from .catalogue import TaskCatalogue
from .errors import ApiError
from .scheduler import Scheduler
from .settings import Settings
from .store import Store


async def settings(request: Request) -> Settings:
    return request.app.state.settings


async def runs_dir(request: Request) -> Path:
    return request.app.state.runs_dir


async def project(request: Request) -> Project:
    return request.app.state.project


async def store(request: Request) -> Store:
    return request.app.state.store


async def scheduler(request: Request) -> Scheduler:
    return request.app.state.scheduler


def catalogue(request: Request) -> TaskCatalogue:
    """The tasks as their definitions say now: read again on each request that needs them."""
    return TaskCatalogue.load(request.app.state.project)


def run(run_id: str, request: Request) -> dict:
    """The run of the path's {run_id}; 404 when there is none."""
    found = request.app.state.store.run(run_id)
    if found is None:
        raise ApiError(404, f"no run {run_id!r}")
    return found


SettingsDep = Annotated[Settings, Depends(settings)]
RunsDir = Annotated[Path, Depends(runs_dir)]
ProjectDep = Annotated[Project, Depends(project)]
StoreDep = Annotated[Store, Depends(store)]
SchedulerDep = Annotated[Scheduler, Depends(scheduler)]
CatalogueDep = Annotated[TaskCatalogue, Depends(catalogue)]
RunDep = Annotated[dict, Depends(run)]
