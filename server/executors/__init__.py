"""How a task's job process is started and waited for: the scheduler's queue, store and cancellation stay in
server/scheduler.py; an executor only runs one job (`python -m server.job TASK_DIR`) and says how it ended.

    local (default)  a subprocess of the server (server/executors/local.py)
    ray              a Ray task on a node of a Ray cluster with the resources the task and its agent declare
                     (server/executors/ray_executor.py; docs/ray.md)
"""
from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

EXECUTORS = ("local", "ray")


@dataclass
class JobRequest:
    run_id: str
    task: str  # the run's entry (task, or task#seed)
    task_dir: Path  # holds job.json (and submission.zip for an upload); the results are left here
    env: dict[str, str]  # the job process's whole environment, as the local pool gives it
    job_env: dict[str, str]  # what of it is the server's own choice (markers, PYTHONPATH): what travels to a node
    label: str  # the start of the names of the participants' cgroups of this job
    time_limit: float
    stop: threading.Event  # set: cancelled (or the server stops); the job's whole tree is killed


@dataclass
class JobOutcome:
    exit_code: int | None = None
    timed_out: bool = False
    stopped: bool = False
    error: str | None = None  # the executor could not run it (a node died too often): the task fails with this
    node: str | None = None  # where it ran, for the result (None: here)
    left: list[int] = field(default_factory=list)  # processes killed in the participants' cgroups after the job


class Executor(Protocol):
    name: str

    def start(self) -> None: ...

    def run(self, job: JobRequest) -> JobOutcome: ...

    def close(self) -> None: ...


def make_executor(settings, runs_dir: Path) -> Executor:
    """The executor the settings name ('local' or 'ray')."""
    if settings.executor == "ray":
        if importlib.util.find_spec("ray") is None:
            raise SystemExit("the ray executor needs Ray, an optional extra: pip install -e '.[ray]' (make setup)")
        from .ray_executor import RayExecutor  # imported only when asked for

        return RayExecutor(settings, runs_dir)
    if settings.executor != "local":
        raise SystemExit(f"unknown executor {settings.executor!r}: choose from {', '.join(EXECUTORS)}")
    from .local import LocalExecutor

    return LocalExecutor()
