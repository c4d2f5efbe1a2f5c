"""Each task's bundled reference solution against its time limit: the project's rule is under a quarter of it.

For every task under bundles/, at the scale `make bundles` builds (the task's default; data from the shared
cache), the bundle's solution runs as `make bundles` runs it (validate: through the local worker, sandboxed,
the bundle's own programs confined too). One row per job the worker ran (prediction, scoring), each against
the phase's execution_time_limit, which the worker applies to each job.

Baseline, through the same worker in the same run: the task's sample submission (the server's "sample": the
kit's sample_submission/, else the public data's sample_<file>), or where a task has none a program that does
nothing; that is the fixed cost of the worker and the bundle's programs, which the solution's row includes.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from run import Measure

from bundlegen.build import build_bundle
from bundlegen.definition import TaskDefinition, load_all
from bundlegen.worker import Bundle, WorkerError, run_submission
from server.job import reference_solution, sample_submission

SHARE = 0.25  # of the time limit
EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def heartbeat(message: str) -> None:
    """Only the worker's heartbeat ('  prediction job: 60 s of 420 s; ...'): a slow job shows it is alive."""
    if message.startswith("  ") and " s of " in message:
        print(f"   {message.strip()}", flush=True)


def solution_phase(bundle: Bundle) -> int:
    """The phase `make bundles` runs solutions[0] on (validate: the first phase that shares one of its tasks)."""
    tasks = set(bundle.competition["solutions"][0]["tasks"])
    return next(i for i, phase in enumerate(bundle.competition["phases"]) if tasks & set(phase["tasks"]))


def trivial_program(task: TaskDefinition, target: Path) -> Path:
    """A submission whose entry does nothing (a task without any sample submission)."""
    entry = task.model.submission.entry
    target.mkdir(parents=True, exist_ok=True)
    text = json.dumps(EMPTY_NOTEBOOK) if entry.endswith(".ipynb") else "pass\n"
    (target / entry).write_text(text)
    return target


def baseline_submission(bundle: Bundle, task: TaskDefinition, target: Path) -> tuple[str, Path]:
    bundle.info.setdefault("submission_files", list(task.model.submission.files))  # as the server's job does
    try:
        return "sample", sample_submission(bundle, target)
    except WorkerError:
        return "trivial program", trivial_program(task, target)


def job_times(bundle_path: Path, submission: Path, phase: int, workdir: Path) -> tuple[dict[str, float], str | None]:
    """{job name: wall seconds} of one run through the local worker as validate runs a solution, and its error."""
    result = run_submission(bundle_path, submission, phase_index=phase, workdir=workdir, log=heartbeat,
                            sandbox=True, confine_programs=True)
    return {job.name: job.process.duration for job in result.jobs}, result.error


def describe(times: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in times.items()) or "no job ran"


def bench_task(task: TaskDefinition, workdir: Path) -> list[Measure]:
    scale = task.scale().name
    print(f"   {task.id}: building (scale {scale}) and running its solution", flush=True)
    started = time.monotonic()
    bundle_path = build_bundle(task, workdir / "dist", log=lambda _m: None)  # default scale and data cache
    bundle = Bundle(bundle_path)
    phase = solution_phase(bundle)
    limit = float(bundle.phase_and_task(phase)[0].get("execution_time_limit") or 600)  # as the worker reads it
    solution = reference_solution(bundle, workdir / "solution" / "submission")
    times, error = job_times(bundle_path, solution, phase, workdir / "solution-run")
    times = times or {"solution run": math.nan}  # no job ran: still a row, missed
    kind, sample = baseline_submission(bundle, task, workdir / "sample" / "submission")
    baseline, _ = job_times(bundle_path, sample, phase, workdir / "sample-run")
    print(f"   {task.id}: solution {describe(times)} of {limit:g} s "
          f"({', '.join(f'{s / limit:.0%}' for s in times.values())}); {kind} {describe(baseline)}; "
          f"{time.monotonic() - started:.0f} s in all" + (f"; FAILED: {error}" if error else ""), flush=True)
    return [Measure(f"{task.id}: {name}", seconds, "s", f"{kind} (same worker)", baseline.get(name, math.nan),
                    f"< {SHARE:.0%} of the {limit:g} s limit",
                    error is None and seconds < SHARE * limit)
            for name, seconds in times.items()]


def bench(workdir: Path) -> list[Measure]:
    measures = []
    for task_id, task in load_all().items():
        measures += bench_task(task, workdir / task_id)
    return measures
