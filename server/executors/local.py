"""The local pool's executor (the default): the job is a subprocess of the server. Also what a Ray node runs
(server/executors/ray_node.py): the same process, the same kill of its whole tree, the same cgroup cleanup."""
from __future__ import annotations

import hashlib
import sys
import threading
from pathlib import Path

from programlib.cgroups import JobCgroup
from programlib.runner import run_process

from . import JobOutcome, JobRequest

CODE_ROOT = Path(__file__).resolve().parents[2]  # where bundlegen/, programlib/ and server/ live
# A stopped job unwinds (the worker stops ingestion, which empties the participant's cgroup): time for that chain.
JOB_GRACE_SECONDS = 15.0


def warn(message: str) -> None:
    print(f"scheduler: {message}", file=sys.stderr, flush=True)


def cgroup_label(runs_dir: Path) -> str:
    """The start of the cgroup names of this runs folder's jobs (see remove_job_cgroups)."""
    return "job-" + hashlib.sha256(str(runs_dir).encode()).hexdigest()[:8]


def remove_job_cgroups(label: str) -> list[int]:
    """Kill what is left in the participants' cgroups of a job (or of every job, given cgroup_label(...)):
    a job process killed before its ingestion program emptied them leaves them behind."""
    killed = []
    for group in JobCgroup.labelled(label):
        try:
            killed += group.pids()
            group.remove()
        except OSError as error:
            warn(f"could not empty the cgroup {group.name}: {error}")
    return killed


def run_job_process(task_dir: Path, env: dict[str, str], label: str, time_limit: float,
                    stop: threading.Event | None, command_prefix: tuple[str, ...] = ()) -> JobOutcome:
    """`python -m server.job TASK_DIR` to its end, its time limit or `stop` (then its whole tree is killed),
    and then whatever it left in its participants' cgroups."""
    try:
        process = run_process([*command_prefix, sys.executable, "-m", "server.job", str(task_dir)], cwd=CODE_ROOT,
                              env=env, stdout_path=task_dir / "job.log", stderr_path=task_dir / "job.err",
                              time_limit=time_limit, stop=stop, grace=JOB_GRACE_SECONDS)
    finally:
        left = remove_job_cgroups(label)
    return JobOutcome(exit_code=process.exit_code, timed_out=process.timed_out, stopped=process.stopped, left=left)


class LocalExecutor:
    name = "local"

    def start(self) -> None:
        pass

    def run(self, job: JobRequest) -> JobOutcome:
        return run_job_process(job.task_dir, job.env, job.label, job.time_limit, job.stop)

    def close(self) -> None:
        pass
