"""The benchmark server under load and faults: a real uvicorn server driven by the real SDK.

Twenty mixed runs at once; a task's job process killed under it; the server itself killed and restarted;
the disk of the runs folder filling up (a tmpfs in a user namespace); the state database refusing writes.
"""
from __future__ import annotations

import contextlib
import io
import os
import shlex
import signal
import sqlite3
import subprocess
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import copy_project, processes_with, write_zip
from programlib.cgroups import JobCgroup
from sdk.client import Client, ServerError
from server import scheduler as scheduler_module
from server.store import Store
from test_server import SLOW_BASELINE, TINY, Server, submission_processes

CRASH = "raise SystemExit('my bug: no model')\n"
TOY_IDS = [f"i{k}" for k in range(30)]  # toy-results at the tiny scale (tests/fixtures/toy-results/prepare.py)
MALFORMED = "id,y\n" + "".join(f"{i},{'oops' if i == 'i7' else 0.0}\n" for i in TOY_IDS)
SLEEP_THEN_FAIL = "import time\nprint('working', flush=True)\ntime.sleep(8)\nraise SystemExit('slept 8 s')\n"
# Writes until the disk is full (200 MB > the 40 MB tmpfs); dies of ENOSPC.
FILL_DISK = "with open('big.bin', 'wb') as f:\n    for _ in range(200):\n        f.write(b'x' * 1024**2)\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("faults-project"), tasks=("tabular-baseline",), toy=True).root


@pytest.fixture(scope="module")
def server(project, tmp_path_factory):
    running = Server(project, tmp_path_factory.mktemp("faults") / "runs", workers=2).start()
    yield running
    running.stop()


@pytest.fixture
def client(server):
    with Client(server.url) as sdk:
        yield sdk


def most_at_once(tasks: list[dict]) -> int:
    intervals = [(t["started"], t["finished"]) for t in tasks]
    return max(sum(start <= moment < end for start, end in intervals) for moment, _ in intervals)


def artifact_bytes(sdk: Client, run_id: str, folder: Path) -> dict[str, bytes]:
    """Every artifact of a run, downloaded."""
    return {name: sdk.download_artifact(run_id, name, folder / run_id / name).read_bytes()
            for name in sdk.list_artifacts(run_id)}


def wait_for(condition, timeout: float, what):
    """`what`: the failure's words, or a function giving them (said at the moment of failing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what() if callable(what) else what}: not within {timeout} s")


# --- 1. load: twenty mixed runs at once ---------------------------------------------------------------

def test_twenty_mixed_runs_at_once_all_end_right_within_the_pool(server, tmp_path):
    malformed = write_zip(tmp_path / "malformed.zip", {"predictions.csv": MALFORMED})
    crash = write_zip(tmp_path / "crash.zip", {"baseline.py": CRASH})
    slow = write_zip(tmp_path / "slow.zip", {"baseline.py": SLOW_BASELINE})
    kinds = ["valid"] * 8 + ["malformed"] * 4 + ["crash"] * 4 + ["slow"] * 4
    requests = {"valid": dict(competitions=["toy-results"], solution="reference"),
                "malformed": dict(competitions=["toy-results"], solution={"toy-results": malformed}),
                "crash": dict(competitions=["tabular-baseline"], solution={"tabular-baseline": crash}),
                "slow": dict(competitions=["tabular-baseline"], solution={"tabular-baseline": slow}, time_limit=3)}
    barrier = threading.Barrier(len(kinds))

    def submit(kind: str) -> str:
        with Client(server.url) as sdk:  # a client per thread, as separate users would have
            barrier.wait()
            return sdk.run(scale=TINY, **requests[kind])

    started = time.monotonic()
    with ThreadPoolExecutor(len(kinds)) as pool:
        run_ids = list(pool.map(submit, kinds))
    submitted = time.monotonic() - started
    assert len(set(run_ids)) == 20
    with Client(server.url) as sdk:
        finished = [sdk.wait(run_id, timeout=240, progress=False) for run_id in run_ids]
        elapsed = time.monotonic() - started
        summaries = {run_id: sdk.get_run_summary(run_id)["tasks"][0] for run_id in run_ids}
        for kind, run_id in zip(kinds, run_ids):
            run, task = next(r for r in finished if r["run_id"] == run_id), summaries[run_id]
            assert run["status"] == "completed" and task["status"] == "completed", (kind, run, task)
            assert task["valid"] == (kind == "valid"), (kind, task)
            if kind == "valid":
                assert task["score"] == pytest.approx(0.05, abs=1e-6) and "toy-results/scores.json" in \
                    sdk.list_artifacts(run_id)
            elif kind == "malformed":
                assert "predictions.csv, line 9, column 'y': 'oops' is not a number" in task["error"], task
            elif kind == "crash":
                assert "my bug: no model" in task["error"], task
            else:
                assert "Execution Time Limit exceeded" in task["error"] and "after 3 s" in task["error"], task
        listed = {run["run_id"]: run for run in sdk.list_runs()}
        assert all(listed[run_id]["progress"] == {"total": 1, "done": 1, "running": 0, "interrupted": 0,
                                                  "cancelled": 0} for run_id in run_ids)
        health = sdk.health()
    assert (health["running"], health["queued"], health["unsaved"]) == (0, 0, 0)
    assert most_at_once([t for run in finished for t in run["tasks"]]) == server.workers
    print(f"\n20 runs: submitted in {submitted:.1f} s, all finished after {elapsed:.1f} s; task durations: " +
          ", ".join(f"{kind} {summaries[r]['duration']:.1f}" for kind, r in zip(kinds, run_ids)))


# --- 2. a task's job process killed; the server killed and restarted ---------------------------------

def job_processes(token: str) -> list[int]:
    """The `python -m server.job <task_dir>` processes whose command line holds `token`."""
    pids = []
    for pid in processes_with(token):
        try:
            if b"server.job" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def toy_predictions(runs_dir: Path) -> bytes:
    """toy-results' reference predictions, from the bundle the server built."""
    with zipfile.ZipFile(runs_dir / "bundles" / f"{TINY}-seed0" / "toy-results.zip") as bundle, \
            zipfile.ZipFile(io.BytesIO(bundle.read("solution.zip"))) as solution:
        return solution.read("predictions.csv")


def test_a_killed_job_process_fails_its_task_and_nothing_else(client, server, tmp_path):
    before = client.run(competitions=["toy-results"], solution="reference", scale=TINY, wait=True, timeout=120)
    kept = artifact_bytes(client, before, tmp_path / "before")
    toy = write_zip(tmp_path / "toy.zip", {"predictions.csv": toy_predictions(server.runs_dir)})
    slow = write_zip(tmp_path / "slow.zip", {"baseline.py": SLOW_BASELINE})
    run_id = client.run(competitions=["tabular-baseline", "toy-results"], scale=TINY,
                        solution={"tabular-baseline": slow, "toy-results": toy})
    wait_for(lambda: submission_processes(run_id), 60, "the slow submission started")
    [job] = job_processes(f"{run_id}/tasks/tabular-baseline")  # not the toy-results task's job
    started = time.monotonic()
    os.kill(job, signal.SIGKILL)
    run = client.wait(run_id, timeout=60, progress=False)
    took = time.monotonic() - started
    assert run["status"] == "failed" and run["message"] == "could not grade: tabular-baseline"
    tasks = {t["task"]: t for t in client.get_run_summary(run_id)["tasks"]}
    assert tasks["tabular-baseline"]["status"] == "failed"
    assert tasks["tabular-baseline"]["error"].startswith("the task's job process ended with code -9 and no result")
    assert tasks["toy-results"]["status"] == "completed" and tasks["toy-results"]["valid"]  # the other task
    wait_for(lambda: not processes_with(run_id), 10, "the killed job's children (ingestion, participant code) end")
    # The ingestion program died before it could remove the participant's cgroup: the server removed it.
    assert JobCgroup.labelled(scheduler_module.cgroup_label(server.runs_dir)) == []
    health = client.health()
    assert health["status"] == "ok" and health["running"] == 0 and health["unsaved"] == 0
    assert artifact_bytes(client, before, tmp_path / "after") == kept  # another run's artifacts are intact
    assert "toy-results/scores.json" in client.list_artifacts(run_id)
    fresh = client.run(competitions=["toy-results"], solution="reference", scale=TINY, wait=True, timeout=120)
    assert client.get_run_summary(fresh)["tasks"][0]["valid"]
    print(f"\nkilled job: the run ended {took:.1f} s after the kill; error: {tasks['tabular-baseline']['error']!r}")


def test_a_killed_server_restarted_loses_no_run_and_no_artifact(project, tmp_path):
    runs = tmp_path / "runs"
    server = Server(project, runs, workers=1).start()
    try:
        with Client(server.url) as sdk:
            valid = sdk.run(competitions=["toy-results"], solution="reference", scale=TINY, wait=True, timeout=120)
            crash = write_zip(tmp_path / "crash.zip", {"baseline.py": CRASH})
            invalid = sdk.run(competitions=["tabular-baseline"], solution={"tabular-baseline": crash}, scale=TINY,
                              wait=True, timeout=120)
            kept = {run_id: artifact_bytes(sdk, run_id, tmp_path / "before") for run_id in (valid, invalid)}
            summaries = {run_id: sdk.get_run_summary(run_id) for run_id in (valid, invalid)}
            sleeper = write_zip(tmp_path / "sleeper.zip", {"baseline.py": SLEEP_THEN_FAIL})
            running = sdk.run(competitions=["toy-results", "tabular-baseline"], scale=TINY,
                              solution={"toy-results": write_zip(tmp_path / "toy.zip", {
                                  "predictions.csv": toy_predictions(runs)}), "tabular-baseline": sleeper})
            queued = sdk.run(competitions=["toy-results"], solution="reference", scale=TINY)  # behind it (1 worker)
            wait_for(lambda: submission_processes(running), 60, "the sleeper started")
        server.stop(kill=True)  # SIGKILL: no chance to clean up
        server = Server(project, runs, workers=1).start()
        assert not processes_with(running), "the dead server's job was left running"
        with Client(server.url) as sdk:
            listed = {run["run_id"]: run for run in sdk.list_runs()}
            assert set(listed) == {valid, invalid, running, queued}
            for run_id in (valid, invalid):
                assert sdk.get_run_summary(run_id) == summaries[run_id]
                assert artifact_bytes(sdk, run_id, tmp_path / "after") == kept[run_id]  # every byte of every file
            for run_id in (running, queued):
                assert listed[run_id]["status"] == "interrupted" and sdk.get_run(run_id)["resumable"]
            done = {t["task"]: t["status"] for t in sdk.get_run(running)["tasks"]}
            assert done == {"toy-results": "completed", "tabular-baseline": "interrupted"}  # kept, not run again
            assert sdk.resume(running)["resumed"] == ["tabular-baseline"]
            assert sdk.resume(queued)["resumed"] == ["toy-results"]
            assert sdk.wait(running, timeout=120, progress=False)["status"] == "completed"
            assert sdk.wait(queued, timeout=120, progress=False)["status"] == "completed"
            tasks = {t["task"]: t for t in sdk.get_run_summary(running)["tasks"]}
            assert tasks["toy-results"]["valid"] and "slept 8 s" in tasks["tabular-baseline"]["error"]
            assert sdk.get_run_summary(queued)["tasks"][0]["valid"]
    finally:
        server.stop()


# --- 3. a full disk -----------------------------------------------------------------------------------

TMPFS_MB = 40


def tmpfs_in_user_namespace(where: Path) -> str | None:
    """Why a tmpfs cannot be mounted in a user namespace here, or None when it can."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                               f"mount -t tmpfs -o size=1m tmpfs {shlex.quote(str(where))}"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    return None if done.returncode == 0 else done.stderr.strip() or f"exit code {done.returncode}"


class SmallDiskServer(Server):
    """The server in its own user and mount namespaces, its runs folder a 40 MB tmpfs (no root needed)."""

    def command(self) -> list[str]:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        serve = " ".join(map(shlex.quote, super().command()))
        return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                f"mount -t tmpfs -o size={TMPFS_MB}m tmpfs {shlex.quote(str(self.runs_dir))} && exec {serve}"]

    @property
    def runs_view(self) -> Path:
        """The runs folder as the server sees it (the tmpfs is mounted in its namespace only)."""
        return Path(f"/proc/{self.process.pid}/root") / str(self.runs_dir).lstrip("/")


class DiskFiller(threading.Thread):
    """Something else that fills the disk, and keeps taking whatever space comes free, until stopped."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.stopped, self.full = path, threading.Event(), threading.Event()

    def run(self) -> None:
        with open(self.path, "wb", buffering=0) as out:
            while not self.stopped.is_set():
                try:
                    out.write(b"\0" * 1024**2 if not self.full.is_set() else b"\0" * 4096)
                except OSError as error:
                    assert error.errno == 28, error
                    self.full.set()
                    time.sleep(0.02)

    def __enter__(self) -> "DiskFiller":
        self.start()
        assert self.full.wait(30), "the disk did not fill"
        return self

    def __exit__(self, *_exc) -> None:
        self.stopped.set()
        self.join()
        self.path.unlink()


def test_a_full_disk_fails_the_task_with_a_clear_error_and_the_server_goes_on(project, tmp_path):
    why = tmpfs_in_user_namespace(tmp_path / "probe")
    if why:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here (unshare --user --map-root-user --mount): {why}")
    server = SmallDiskServer(project, tmp_path / "runs", workers=1).start()
    try:
        view = server.runs_view
        with Client(server.url) as sdk:
            assert sdk.health()["disk_free_mb"] == pytest.approx(TMPFS_MB, abs=1)
            first = sdk.run(competitions=["toy-results"], solution="reference", scale=TINY, wait=True, timeout=120)
            assert sdk.get_run(first)["status"] == "completed"

            # (a) the participant's program fills the disk
            filler = write_zip(tmp_path / "fill.zip", {"baseline.py": FILL_DISK})
            started = time.monotonic()
            full = sdk.run(competitions=["tabular-baseline"], solution={"tabular-baseline": filler}, scale=TINY,
                           wait=True, timeout=120)
            took = time.monotonic() - started
            run, task = sdk.get_run(full), sdk.get_run_summary(full)["tasks"][0]
            assert run["status"] == "failed" and run["message"] == "could not grade: tabular-baseline"
            assert task["status"] == "failed" and not task["valid"]
            assert task["error"].startswith("the disk of the runs folder is full (No space left on device, ENOSPC)")
            assert "[Errno 28] No space left on device" in task["error"]
            kept = sdk.list_artifacts(full)  # logs and result kept, the big run/ folder deleted
            assert {"tabular-baseline/job.log", "tabular-baseline/logs/prediction.stdout.txt"} <= set(kept), kept
            assert not (view / full / "tasks" / "tabular-baseline" / "run").exists()
            health = sdk.health()
            assert health["status"] == "ok" and health["disk_free_mb"] > TMPFS_MB - 5 and health["unsaved"] == 0
            print(f"\nparticipant filled the disk: run failed after {took:.1f} s: {task['error'][:160]!r}")

            # (b) something else fills the disk while a task runs and another one waits (one worker)
            slow = write_zip(tmp_path / "slow.zip", {"baseline.py": SLOW_BASELINE})
            running = sdk.run(competitions=["tabular-baseline"], solution={"tabular-baseline": slow}, scale=TINY,
                              time_limit=8)
            queued = sdk.run(competitions=["toy-results"], solution="reference", scale=TINY)
            wait_for(lambda: submission_processes(running), 60, "the slow submission started")
            with DiskFiller(view / "filler.bin"):
                health = sdk.health()
                assert health["status"] == "ok" and health["disk_free_mb"] < 1
                with pytest.raises(ServerError) as refused:
                    sdk.upload(filler)
                assert refused.value.status == 507 and "disk is full" in refused.value.message
                ended = [running, queued]
                try:  # refused at once (the state database had no room for it), or accepted and failed below
                    ended.append(sdk.run(competitions=["toy-results"], solution="reference", scale=TINY))
                except ServerError as error:
                    assert error.status == 507 and "disk is full" in error.message, error

                # the pool gets through every task while the disk is full; an end SQLite refused waits in memory
                def idle() -> dict | None:  # twice, as a task just taken off the queue is not counted yet
                    health = sdk.health()
                    return health if health["running"] == health["queued"] == 0 else None

                health = wait_for(lambda: idle() and (time.sleep(0.3) or idle()), 60, "all tasks ran")
                assert health["status"] == "ok" and [sdk.get_run(run_id)["status"] for run_id in ended]  # reads work
                unsaved = health["unsaved"]
            # space is back: what was refused is stored now
            for run_id in ended:
                run, task = sdk.wait(run_id, timeout=30, progress=False), sdk.get_run_summary(run_id)["tasks"][0]
                assert run["status"] == "failed", (task, sdk.health())
                assert task["error"].startswith("the disk of the runs folder is full (No space left on device"), task
                assert not (view / run_id / "tasks" / task["task"] / "run").exists()  # freed
                print(f"{task['task']} on a full disk: {task['error'][:220]!r}")
            assert not list(view.glob("uploads/.*"))  # no half-written upload
            print(f"task ends SQLite refused while the disk was full: {unsaved}")

            after = sdk.run(competitions=["toy-results"], solution="reference", scale=TINY, wait=True, timeout=120)
            assert sdk.get_run_summary(after)["tasks"][0]["valid"]
            statuses = {run["run_id"]: run["status"] for run in sdk.list_runs()}
            assert statuses[first] == statuses[after] == "completed" and statuses[full] == "failed"
            assert len(statuses) == 3 + len(ended)  # nothing lost
            folders = {path.name for path in view.iterdir() if path.is_dir()} - {"uploads", "bundles", "cache"}
            assert folders == set(statuses)  # and no half-made run of a refused request
            assert sdk.health()["unsaved"] == 0
        with contextlib.closing(sqlite3.connect(view / "state.sqlite")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        server.stop()
        print((tmp_path / f"server-{server.port}.log").read_text()[-3000:])


# --- 4. the state database refuses writes ---------------------------------------------------------------

class RefusingStore(Store):
    """A store whose disk is full for the first `refusals` writes of a task's end and of a run's end."""

    def __init__(self, path: Path, refusals: int):
        super().__init__(path)
        self.refusals = {"finish_task": refusals, "set_run": refusals}

    def _refuse(self, name: str) -> None:
        if self.refusals[name] > 0:
            self.refusals[name] -= 1
            raise sqlite3.OperationalError("database or disk is full")

    def finish_task(self, *args, **kwargs) -> None:
        self._refuse("finish_task")
        super().finish_task(*args, **kwargs)

    def set_run(self, run_id: str, status: str, message: str | None = None) -> None:
        if status in ("completed", "failed"):
            self._refuse("set_run")
        super().set_run(run_id, status, message)


def test_a_refused_state_write_is_stored_later_and_the_workers_live_on(project, tmp_path, monkeypatch):
    monkeypatch.setattr(scheduler_module, "RETRY_SECONDS", 0.5)
    runs = tmp_path / "runs"
    store = RefusingStore(runs / "state.sqlite", refusals=2)
    pool = scheduler_module.Scheduler(store, runs, project, workers=1, job_time_limit=120)
    pool.start()
    try:
        for run_id in ("first", "second"):
            (runs / run_id / "tasks" / "toy-results").mkdir(parents=True)
            store.add_run(run_id, {"competitions": ["toy-results"], "solution": "reference", "scale": TINY},
                          ["toy-results"])
            pool.submit(run_id, ["toy-results"])
        for run_id in ("first", "second"):
            run = wait_for(lambda: (r := store.run(run_id))["status"] not in ("queued", "running") and r, 120,
                           f"run {run_id} ended")
            assert run["status"] == "completed" and run["tasks"][0]["result"]["valid"], run
        assert store.refusals == {"finish_task": 0, "set_run": 0}  # each was refused twice, then stored
        assert pool.load()["unsaved"] == 0 and all(thread.is_alive() for thread in pool._threads)
    finally:
        pool.stop()
