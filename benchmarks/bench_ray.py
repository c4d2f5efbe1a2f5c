"""The Ray executor against the local pool: the per-job dispatch overhead, and the throughput with 1 and 2 nodes.

Jobs: tabular-baseline at the tiny scale with its sample submission (a real job: bundle from the data cache, the
sandboxed ingestion, the scoring), through the server's own Scheduler and Store in this process (no HTTP).
- Overhead: JOBS jobs one after the other (1 worker); per job, its wall time as the store records it (started to
  finished) less the job's own work (its result's `duration`), median; through Ray (a one-node cluster on
  loopback; storage shared, then object) against the same in the local pool, in the same run. Target: Ray adds
  under 1 s.
- Throughput: BURST jobs submitted at once (4 in flight) on a cluster of 1 node, then of 2 nodes (1 CPU each,
  this machine's loopback), in tasks per minute.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from run import Measure

from server.executors import make_executor
from server.executors.ray_local import CLIENT_ENV, LocalRayCluster
from server.scheduler import Scheduler
from server.settings import Settings
from server.store import Store

ROOT = Path(__file__).resolve().parent.parent
TASK = "tabular-baseline"
JOBS, BURST = 4, 8
TARGET_OVERHEAD_S = 1.0


def run_jobs(workdir: Path, count: int, workers: int, **settings) -> list[dict]:
    """`count` runs of one job each through a Scheduler with these settings; their tasks as stored."""
    runs_dir = workdir / "runs"
    store = Store(runs_dir / "state.sqlite")
    options = Settings(runs_dir=runs_dir, workers=workers, project_root=ROOT, job_time_limit=600, **settings)
    scheduler = Scheduler(store, runs_dir, ROOT, workers, 600, make_executor(options, runs_dir))
    scheduler.start()
    run_ids = [f"{workdir.name}-{i}" for i in range(count)]
    spec = {"competitions": [TASK], "entries": [TASK], "solution": "sample", "scale": "tiny", "seed": None,
            "time_limit": None, "agent_id": None, "variant": None, "agent_time_limit": None}
    for run_id in run_ids:
        (runs_dir / run_id / "tasks" / TASK).mkdir(parents=True)
        store.add_run(run_id, spec, [TASK])
        scheduler.submit(run_id, [TASK])
    while any(store.run(run_id)["status"] in ("queued", "running") for run_id in run_ids):
        time.sleep(0.2)
    scheduler.stop()
    tasks = [store.run(run_id)["tasks"][0] for run_id in run_ids]
    assert all(t["status"] == "completed" and t["result"]["valid"] for t in tasks), tasks
    return tasks


def overhead(tasks: list[dict]) -> float:
    """Median seconds of a job's wall time (as stored) around its own work (the job's `duration`): starting the
    process, dispatching it, moving its data and reporting its end."""
    return statistics.median(t["finished"] - t["started"] - t["result"]["duration"] for t in tasks)


def per_minute(tasks: list[dict]) -> float:
    return 60 * len(tasks) / (max(t["finished"] for t in tasks) - min(t["started"] for t in tasks))


def bench(workdir: Path) -> list[Measure]:
    os.environ.update(CLIENT_ENV)  # this process is the Ray driver of the loopback cluster
    run_jobs(workdir / "warm", 1, 1)  # the data cache and the bundle, for every side alike
    local = overhead(run_jobs(workdir / "local", JOBS, 1))
    with LocalRayCluster() as cluster:
        cluster.add_node("a")
        ray = {"executor": "ray", "ray_address": cluster.address}
        run_jobs(workdir / "ray-warm", 1, 1, **ray)  # Ray's worker process, started once per node
        shared = overhead(run_jobs(workdir / "ray-shared", JOBS, 1, **ray))
        objects = overhead(run_jobs(workdir / "ray-object", JOBS, 1, ray_storage="object", **ray))
        one = per_minute(run_jobs(workdir / "one-node", BURST, 4, **ray))
        cluster.add_node("b")
        run_jobs(workdir / "b-warm", 2, 2, **ray)
        two = per_minute(run_jobs(workdir / "two-nodes", BURST, 4, **ray))
    return [
        Measure("per-job overhead through Ray (shared storage)", shared, "s", "the local pool's", local,
                f"< {TARGET_OVERHEAD_S:g} s more than the local pool", shared - local < TARGET_OVERHEAD_S),
        Measure("per-job overhead through Ray (object store)", objects, "s", "the local pool's", local,
                f"< {TARGET_OVERHEAD_S:g} s more than the local pool", objects - local < TARGET_OVERHEAD_S),
        Measure("Ray throughput, 2 nodes (tasks/min)", two, " ", "1 node (tasks/min)", one,
                "more than with 1 node", two > one),
    ]
