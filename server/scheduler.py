"""A bounded pool that runs the tasks of every run, one job process per task, in submission order.

At most `workers` tasks run at once across all runs; more wait in a FIFO queue. How each job process is started
and waited for is the executor's (server/executors/: a local subprocess, or a Ray task on a cluster). Cancelling a
run skips its queued tasks and kills its running job processes (the whole tree, participant code included).
A worker thread never dies of an error (a full disk, say): the task fails with the error's message, and a
result the state database would not take is kept in memory and stored again every few seconds.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import sqlite3
import threading
import time
import traceback
import uuid
from pathlib import Path

from programlib.runner import CGROUP_LABEL

from .disk import DISK_FULL, FREED, disk_full, free_space, why
from .entries import entry_seed, entry_task
from .executors import Executor, JobOutcome, JobRequest
from .executors.local import CODE_ROOT, LocalExecutor, cgroup_label, remove_job_cgroups, warn
from .job import RESULT, SPEC
from .store import Store

STOP = object()
JOB_MARKER = "MLEB_SERVER_JOB_OF"
RETRY_SECONDS = 2.0  # how often an idle worker tries again to store what the state database refused


def kill_orphans(runs_dir: Path) -> list[int]:
    """Processes left running by a server of this runs folder that died (SIGKILL, power loss): kill them."""
    needle = f"{JOB_MARKER}={runs_dir}".encode()
    killed = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
    return killed + remove_job_cgroups(cgroup_label(runs_dir))


class Scheduler:
    def __init__(self, store: Store, runs_dir: Path, project_root: Path, workers: int, job_time_limit: float,
                 executor: Executor | None = None):
        self.store, self.runs_dir, self.project_root = store, runs_dir, project_root
        self.workers, self.job_time_limit = workers, job_time_limit
        self.executor = executor or LocalExecutor()  # how a job process is started and waited for
        self.queue: queue.Queue = queue.Queue()
        self.cancelled: dict[str, threading.Event] = {}
        self.running = 0
        self.shutting_down = False
        self.unsaved: dict[tuple[str, str], tuple] = {}  # (run, task) → finish_task's arguments, to store again
        self.unsettled: set[str] = set()  # runs whose end could not be stored
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, name=f"task-worker-{i}", daemon=True)
                         for i in range(workers)]

    def start(self) -> None:
        self.executor.start()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Kill what runs, mark unfinished runs interrupted (resumable), and end the threads."""
        self.shutting_down = True
        try:
            self.store.mark_interrupted()
        except (sqlite3.Error, OSError) as error:  # the next start marks them
            warn(f"could not mark unfinished runs interrupted: {error}")
        for event in list(self.cancelled.values()):
            event.set()
        for _ in self._threads:
            self.queue.put(STOP)
        for thread in self._threads:
            thread.join(timeout=15)
        self.executor.close()

    def submit(self, run_id: str, tasks: list[str]) -> None:
        self.cancelled.setdefault(run_id, threading.Event()).clear()
        for task in tasks:
            self.queue.put((run_id, task))

    def resume(self, run_ids: list[str]) -> None:
        """Queue again the tasks that did not end of these (interrupted) runs."""
        for run_id in run_ids:
            self.submit(run_id, self.store.requeue_unfinished(run_id))

    def cancel(self, run_id: str) -> None:
        self.cancelled.setdefault(run_id, threading.Event()).set()
        self.store.set_unfinished_tasks(run_id, "cancelled")  # queued ones; running ones end as cancelled
        self.store.set_run(run_id, "cancelled", "cancelled on request")

    def load(self) -> dict:
        with self._lock:
            return {"workers": self.workers, "executor": self.executor.name, "running": self.running,
                    "queued": self.queue.qsize(), "unsaved": len(self.unsaved) + len(self.unsettled)}

    # --- the worker threads ------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            self._store_unsaved()
            try:
                item = self.queue.get(timeout=RETRY_SECONDS)
            except queue.Empty:
                continue
            if item is STOP:
                return
            run_id, task = item
            if self.cancelled.get(run_id, threading.Event()).is_set():
                continue
            with self._lock:
                self.running += 1
            try:
                self._run_task(run_id, task)
            except Exception as error:  # noqa: BLE001 - a full disk or our bug: the task fails, the thread lives on
                words = DISK_FULL if disk_full(self.runs_dir, error) else "internal error"
                warn(f"{run_id}/{task}: {traceback.format_exc()}")
                self._finish(run_id, task, "failed", {"error": f"{words}: {why(error)}", "valid": False})
            finally:
                with self._lock:
                    self.running -= 1

    def _finish(self, run_id: str, task: str, status: str, result: dict) -> None:
        """Store a task's end; when the disk is full, first free the task's run files and say why it failed."""
        task_dir = self.runs_dir / run_id / "tasks" / task
        if status == "failed" and disk_full(task_dir):
            free_space(task_dir)
            if DISK_FULL not in (result.get("error") or ""):
                result["error"] = f"{DISK_FULL}; {FREED}: {result.get('error')}"
        with self._lock:
            self.unsaved[(run_id, task)] = (status, result, time.time())
        self._store_unsaved()  # and the run ends when this was its last task

    def _store_unsaved(self) -> None:
        """Store the task ends and settle the runs that the state database refused before (a full disk)."""
        with self._lock:
            pending, runs = dict(self.unsaved), set(self.unsettled)
        for (run_id, task), (status, result, finished) in pending.items():
            try:
                self.store.finish_task(run_id, task, status, result, finished=finished)
            except (sqlite3.Error, OSError) as error:
                warn(f"could not store the end of {run_id}/{task} (tried again in {RETRY_SECONDS:g} s): {error}")
                continue
            with self._lock:
                self.unsaved.pop((run_id, task), None)
            runs.add(run_id)
        for run_id in runs:
            self._settle(run_id)

    def _run_task(self, run_id: str, task: str) -> None:
        run = self.store.run(run_id)
        if run is None or run["status"] in ("cancelled", "interrupted"):
            return
        if run["status"] == "queued":
            self.store.set_run(run_id, "running")
        spec = run["spec"]
        task_dir = self.runs_dir / run_id / "tasks" / task
        upload = task_dir / "submission.zip"
        for child in list(task_dir.iterdir()) if task_dir.is_dir() else []:  # a resumed task starts clean
            if child != upload:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        task_dir.mkdir(parents=True, exist_ok=True)
        solution = spec["solution"] if isinstance(spec["solution"], str) or spec["solution"] is None else "upload"
        (task_dir / SPEC).write_text(json.dumps({  # trusted: written before anything of the task runs
            "task": entry_task(task), "entry": task, "attempt": entry_seed(task), "project": str(self.project_root),
            "scale": spec.get("scale"), "seed": spec.get("seed"), "time_limit": spec.get("time_limit"),
            "solution": solution, "agent_id": spec.get("agent_id"), "variant": spec.get("variant"),
            "agent_time_limit": spec.get("agent_time_limit"),
            "cache_dir": str(self.runs_dir / "cache"), "bundles_dir": str(self.runs_dir / "bundles")}, indent=2))
        self.store.start_task(run_id, task)
        outcome = self.executor.run(self._job_request(run_id, task, task_dir))
        if outcome.left:
            warn(f"{run_id}/{task}: killed {len(outcome.left)} process(es) the job left in its participants' cgroups")
        self._job_ended(run_id, task, task_dir, outcome)

    def _job_request(self, run_id: str, task: str, task_dir: Path) -> JobRequest:
        # trusted: the job is our own program; the participant's code gets only allowed_environment() (runner.py)
        ours = {"PYTHONPATH": os.pathsep.join(filter(None, [str(CODE_ROOT), os.environ.get("PYTHONPATH")])),
                JOB_MARKER: str(self.runs_dir),  # inherited by everything the job starts: found again after a crash
                CGROUP_LABEL: f"{cgroup_label(self.runs_dir)}-{uuid.uuid4().hex[:12]}"}
        # trusted: the job process is ours; participant code runs in a sandbox that starts from an empty environment
        env = dict(os.environ, **ours)
        # Jobs share the cores: OpenMP programs that each take all of them spin against each other (8× slower).
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // self.workers)))
        return JobRequest(run_id=run_id, task=task, task_dir=task_dir, env=env, job_env=ours,
                          label=ours[CGROUP_LABEL], time_limit=self.job_time_limit, stop=self.cancelled[run_id])

    def _job_ended(self, run_id: str, task: str, task_dir: Path, outcome: JobOutcome) -> None:
        result_path = task_dir / RESULT
        if outcome.stopped and self.shutting_down:
            self._finish(run_id, task, "interrupted", {"error": "the server stopped", "valid": False})
        elif outcome.stopped:
            self._finish(run_id, task, "cancelled", {"error": "cancelled on request", "valid": False})
        elif outcome.timed_out:
            self._finish(run_id, task, "failed", {"error": f"the task's job did not finish within "
                                                           f"{self.job_time_limit:g} s", "valid": False})
        elif outcome.error:
            self._finish(run_id, task, "failed", {"error": outcome.error, "valid": False, "node": outcome.node})
        elif result_path.is_file():
            result = json.loads(result_path.read_text())
            if outcome.node:
                result["node"] = outcome.node
            self._finish(run_id, task, result["status"], result)
        else:
            errors = task_dir / "job.err"
            tail = errors.read_text(errors="replace")[-2000:] if errors.is_file() else ""
            self._finish(run_id, task, "failed", {
                "error": f"the task's job process ended with code {outcome.exit_code} and no result" +
                         (f":\n{tail}" if tail else ""), "valid": False})

    def _settle(self, run_id: str) -> None:
        """When no task of the run is left to do, the run ends: failed if any task could not be graded."""
        try:
            run = self.store.run(run_id)
            if run is None or run["status"] in ("cancelled", "interrupted"):
                pass
            elif not any(task["status"] in ("queued", "running") for task in run["tasks"]):
                failed = [task["task"] for task in run["tasks"] if task["status"] == "failed"]
                if failed:
                    self.store.set_run(run_id, "failed", f"could not grade: {', '.join(failed)}")
                else:
                    self.store.set_run(run_id, "completed")
        except (sqlite3.Error, OSError) as error:
            warn(f"could not store the end of run {run_id} (tried again in {RETRY_SECONDS:g} s): {error}")
            with self._lock:
                self.unsettled.add(run_id)
            return
        with self._lock:
            self.unsettled.discard(run_id)
