"""Runs: start one (POST /runs), list them, see one, its summary, cancel it and resume it."""
from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agentlib.definition import DEFAULT_VARIANT, AgentError, find_agent

from ..catalogue import TaskCatalogue
from ..deps import CatalogueDep, ProjectDep, RunDep, RunsDir, SchedulerDep, SettingsDep, StoreDep
from ..errors import ApiError
from ..entries import entry_keys, entry_task
from ..summary import run_summary

router = APIRouter()


LITE_SPLIT = "splits/lite.txt"
LITE_SCALE = "tiny"
# MLE-bench's split files, as its users name them: experiments/splits/<name>.txt; its low-complexity split is lite
MLE_BENCH_SPLITS = {"experiments/splits/low.txt": LITE_SPLIT}


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    competitions: list[str] | str | None = Field(
        default=None, description="task ids, or a split file such as splits/lite.txt (default with lite: the lite "
                                  "split)")
    competition_set: str | None = Field(default=None, description="a split file (MLE-bench's name for it)")
    agent_id: str | None = Field(default=None, description="run this agent (GET /agents) on every task, then grade "
                                                           "what it submitted")
    variant: str | None = Field(default=None, description="the agent's variant (default: 'default')")
    seeds: int = Field(default=1, ge=1, le=20, description="attempts per task (MLE-bench's seeds)")
    lite: bool = Field(default=False, description=f"MLE-bench's lite: the low-complexity split ({LITE_SPLIT}) "
                                                  f"when no task is given, at the {LITE_SCALE!r} scale unless one "
                                                  f"is given")
    # reference: the bundled solution; sample: the trivial submission; or {task id: upload id} from POST /uploads
    solution: Literal["reference", "sample"] | dict[str, str] | None = None
    scale: Literal["tiny", "small", "full"] | None = None
    seed: int | None = Field(default=None, description="the data seed (default: the task's)")
    time_limit: float | None = Field(default=None, gt=0, description="override the phase's time limit (s)")
    agent_time_limit: float | None = Field(default=None, gt=0, description="override the agent's time limit (s)")


@router.post("/runs", status_code=202)
def create_run(body: RunRequest, catalogue: CatalogueDep, project: ProjectDep, runs_dir: RunsDir,
               store: StoreDep, scheduler: SchedulerDep, settings: SettingsDep):
    chosen = resolve_competitions(requested_competitions(body), catalogue, project.root)
    check_what_runs(body, chosen, runs_dir, project.root, settings.job_time_limit)
    scale = body.scale or (LITE_SCALE if body.lite else None)
    for task in chosen:
        if scale and scale not in catalogue.loaded[task].model.scales:
            raise ApiError(400, f"task {task} has no scale {scale!r}")
    run_id = new_run_id()
    spec = body.model_dump()
    spec.update(competitions=chosen, entries=entry_keys(chosen, body.seeds), scale=scale,
                solution=body.solution if body.solution is not None or body.agent_id else "reference")
    try:
        for key in spec["entries"]:
            task_dir = runs_dir / run_id / "tasks" / key
            task_dir.mkdir(parents=True)
            if isinstance(body.solution, dict):
                shutil.copyfile(runs_dir / "uploads" / f"{body.solution[entry_task(key)]}.zip",
                                task_dir / "submission.zip")
        store.add_run(run_id, spec, spec["entries"])
    except BaseException:  # a full disk: no half-made run is left behind
        shutil.rmtree(runs_dir / run_id, ignore_errors=True)
        raise
    scheduler.submit(run_id, spec["entries"])
    return {"run_id": run_id, "status": "queued", "competitions": chosen, "entries": spec["entries"]}


def requested_competitions(body: RunRequest) -> list[str] | str:
    if body.competitions is not None and body.competition_set is not None:
        raise ApiError(400, "give competitions or competition_set, not both")
    given = body.competitions if body.competitions is not None else body.competition_set
    if given is None:
        if not body.lite:
            raise ApiError(400, "no competitions given: name task ids or a split file, or ask for lite")
        return LITE_SPLIT
    return MLE_BENCH_SPLITS.get(given, given) if isinstance(given, str) else given


def check_what_runs(body: RunRequest, chosen: list[str], runs_dir: Path, root: Path, job_limit: float) -> None:
    """An agent or a solution, not both; the agent and its variant exist and fit in a task's job; uploads are
    there."""
    if body.agent_id is None:
        if body.variant is not None or body.agent_time_limit is not None:
            raise ApiError(400, "variant and agent_time_limit need an agent_id")
        check_solution(body, chosen, runs_dir)
        return
    if body.solution is not None:
        raise ApiError(400, "give an agent_id or a solution, not both: the agent's submission is what is graded")
    try:
        agent = find_agent(body.agent_id, root / "agents")
        limit = body.agent_time_limit or agent.time_limit(agent.variant(body.variant or DEFAULT_VARIANT))
    except AgentError as error:
        raise ApiError(400, "; ".join(error.problems), error.problems) from None
    if limit >= job_limit:  # the job (build, agent, grading) would be killed before the agent's own limit
        raise ApiError(400, f"agent {body.agent_id!r} may run {limit:g} s, and a task's whole job is limited to "
                            f"{job_limit:g} s on this server (MLEB_JOB_TIME_LIMIT): lower agent_time_limit")


@router.get("/runs")
def list_runs(store: StoreDep):
    return [{"run_id": r["run_id"], "created": r["created"], "status": r["status"], "message": r["message"],
             "competitions": r["spec"]["competitions"], "progress": progress(r)} for r in store.runs()]


@router.get("/runs/{run_id}")
def run_status(run_id: str, run: RunDep):
    return {"run_id": run_id, "created": run["created"], "status": run["status"], "message": run["message"],
            "spec": run["spec"], "progress": progress(run),
            "resumable": run["status"] in ("interrupted", "cancelled"),
            "tasks": [{"task": t["task"], "status": t["status"], "started": t["started"],
                       "finished": t["finished"]} for t in run["tasks"]]}


@router.get("/runs/{run_id}/summary")
def summary(run: RunDep):
    return run_summary(run)


@router.delete("/runs/{run_id}")
def cancel(run_id: str, run: RunDep, scheduler: SchedulerDep):
    if run["status"] not in ("queued", "running"):
        raise ApiError(409, f"run {run_id} is {run['status']}: only a queued or running run can be cancelled")
    scheduler.cancel(run_id)
    return {"run_id": run_id, "status": "cancelled"}


@router.post("/runs/{run_id}/resume", status_code=202)
def resume(run_id: str, run: RunDep, store: StoreDep, scheduler: SchedulerDep):
    if run["status"] not in ("interrupted", "cancelled"):
        raise ApiError(409, f"run {run_id} is {run['status']}: only an interrupted or cancelled run resumes")
    again = store.requeue_unfinished(run_id)
    scheduler.submit(run_id, again)
    return {"run_id": run_id, "status": "queued", "resumed": again}


def new_run_id() -> str:
    return time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime()) + "_" + secrets.token_hex(3)


def progress(run: dict) -> dict:
    """done: the tasks that really finished (completed or failed); interrupted and cancelled ones are counted apart
    (a run interrupted with 2 of 7 tasks finished said done 7)."""
    statuses = [task["status"] for task in run["tasks"]]
    return {"total": len(statuses), "done": statuses.count("completed") + statuses.count("failed"),
            "running": statuses.count("running"), "interrupted": statuses.count("interrupted"),
            "cancelled": statuses.count("cancelled")}


def resolve_competitions(competitions: list[str] | str, catalogue: TaskCatalogue, root: Path) -> list[str]:
    if isinstance(competitions, str):
        if competitions.endswith(".txt") or "/" in competitions:
            competitions = read_split(root, competitions)
        else:
            competitions = [competitions]
    if not competitions:
        raise ApiError(400, "no competitions given")
    invalid = [task for task in competitions if task in catalogue.broken]
    if invalid:
        raise ApiError(400, f"the definition of {', '.join(invalid)} is invalid on this server",
                       [problem for task in invalid for problem in catalogue.broken[task]])
    known = catalogue.loaded
    unknown = [task for task in competitions if task not in known]
    if unknown:
        raise ApiError(400, f"unknown task(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if len(set(competitions)) != len(competitions):
        raise ApiError(400, "a task is listed twice")
    return list(competitions)


def read_split(root: Path, name: str) -> list[str]:
    splits = (root / "splits").resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(splits) or path.suffix != ".txt":
        raise ApiError(400, f"split file {name!r}: must be a .txt file under splits/")
    if not path.is_file():
        available = sorted(f"splits/{p.name}" for p in splits.glob("*.txt"))  # splits/ may be a link
        raise ApiError(400, f"split file {name!r} not found (available: {', '.join(available) or 'none'})")
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def check_solution(body: RunRequest, chosen: list[str], runs_dir: Path) -> None:
    """An uploaded solution: one upload id per task of the run, each an upload the server keeps."""
    if not isinstance(body.solution, dict):
        return
    missing = [task for task in chosen if task not in body.solution]
    extra = [task for task in body.solution if task not in chosen]
    if missing or extra:
        raise ApiError(400, "solution: give one upload id per task of the run" +
                       (f"; missing: {', '.join(missing)}" if missing else "") +
                       (f"; not in the run: {', '.join(extra)}" if extra else ""))
    for task, upload_id in body.solution.items():
        if not upload_id.isalnum() or not (runs_dir / "uploads" / f"{upload_id}.zip").is_file():
            raise ApiError(400, f"solution[{task!r}]: no upload {upload_id!r} (POST /uploads first)")
