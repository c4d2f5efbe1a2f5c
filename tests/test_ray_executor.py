"""The benchmark server's Ray executor on a real Ray cluster: nodes started with `ray start` on loopback
(server/executors/ray_local.py), the real server (`serve` with MLEB_EXECUTOR=ray) and the real SDK.

Runs spread over two nodes score exactly as in the local pool; a node killed mid-run loses nothing (its tasks
run again on the other node); a job that needs a GPU waits for a node that advertises one and runs nowhere else;
cancelling kills the job's whole tree on its node; a server killed and restarted with --resume finishes its runs.
Each test has a cluster of its own, stopped at its end (its own processes only).
"""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

import ray  # noqa: E402,F401  (the `ray` extra, which `make test` installs: missing, the tests fail, never skip)

# One worker runs them in order: one loopback cluster at a time on the machine (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("ray")

from conftest import FIXTURES, copy_project, processes_with, write_zip  # noqa: E402
from sdk.client import Client  # noqa: E402
from server.store import Store  # noqa: E402
from server.executors.local import JOB_GRACE_SECONDS  # noqa: E402
from server.executors.ray_executor import POLITE_CANCEL_SECONDS  # noqa: E402
from server.executors.ray_local import CLIENT_ENV, LocalRayCluster  # noqa: E402
from test_server import SLOW_BASELINE, TINY, Server  # noqa: E402
from test_server_faults import wait_for  # noqa: E402

def command_lines(pids: list[str]) -> list[str]:
    """What each process runs (for a failure's message)."""
    lines = []
    for pid in pids:
        try:
            lines.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:300])
        except OSError:
            pass
    return lines


GPU_RESOURCE = "test_gpu"  # the custom resource a GPU job asks for here (MLEB_RAY_GPU_RESOURCE)
# A tabular-baseline submission that works for a few seconds, then predicts 0.5 everywhere (ROC AUC 0.5).
SLOW_CONSTANT = """import csv, os, time
print('working', flush=True)
time.sleep(5)
rows = list(csv.DictReader(open(os.path.join(os.environ["DATA_DIR"], "test.csv"))))
with open(os.path.join(os.environ["OUTPUT_DIR"], "predictions.csv"), "w") as handle:
    handle.write("id,target\\n" + "".join(row["id"] + ",0.5\\n" for row in rows))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """tabular-baseline, toy-results, and toy-gpu: toy-results on the GPU image (its jobs need a GPU)."""
    root = copy_project(tmp_path_factory.mktemp("ray-project"), tasks=("tabular-baseline",), toy=True).root
    shutil.copytree(FIXTURES / "toy-results", root / "bundles" / "toy-gpu")
    definition = yaml.safe_load((root / "bundles" / "toy-gpu" / "bundle.yaml").read_text())
    definition.update(id="toy-gpu", docker_image="gpu")
    (root / "bundles" / "toy-gpu" / "bundle.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    return root


@pytest.fixture
def cluster():
    with LocalRayCluster() as running:
        yield running
    assert not running.stragglers()


def ray_server(project: Path, runs: Path, cluster: LocalRayCluster, workers: int = 4, **env) -> Server:
    runs.parent.mkdir(parents=True, exist_ok=True)
    settings = {"MLEB_EXECUTOR": "ray", "MLEB_RAY_ADDRESS": cluster.address, "MLEB_RAY_GPU_RESOURCE": GPU_RESOURCE,
                "MLEB_RAY_SCRATCH": str(runs.parent / "scratch"), **CLIENT_ENV, **env}
    return Server(project, runs, workers=workers, env=settings)


def scores(client: Client, run_id: str) -> dict:
    """Each task's status, validity and scores (without the scoring's duration, a timing)."""
    return {t["task"]: (t["status"], t["valid"], {k: v for k, v in (t["scores"] or {}).items() if k != "duration"})
            for t in client.get_run_summary(run_id)["tasks"]}


def server_store_tasks(server: Server, run_id: str) -> list[dict]:
    """The tasks' results as the server stored them (with the node each ran on)."""
    return [t["result"] for t in Store(server.runs_dir / "state.sqlite").run(run_id)["tasks"]]


def jobs_on(scratch: Path, node: str) -> list[str]:
    """Pids of the job processes (python -m server.job) of this server running on node `node`."""
    found = []
    for pid in processes_with(str(scratch)):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"MLEB_NODE_NAME={node}".encode() in environ and b"server.job" in command:
            found.append(pid)
    return found


@contextlib.contextmanager
def serving(project: Path, cluster: LocalRayCluster, tmp_path: Path, nodes=("a", "b"), **env):
    """The cluster's nodes, and a server with the Ray executor on it: (server, client)."""
    for node in nodes:
        cluster.add_node(node)
    server = ray_server(project, tmp_path / "runs", cluster, **env).start()
    try:
        with Client(server.url) as client:
            yield server, client
    finally:
        server.stop()


def slow_runs(client: Client, tmp_path: Path, count: int, program: str = SLOW_CONSTANT) -> list[str]:
    """`count` runs of tabular-baseline with an uploaded program that works for a while."""
    upload = write_zip(tmp_path / "slow.zip", {"baseline.py": program})
    return [client.run(competitions=["tabular-baseline"], solution={"tabular-baseline": upload}, scale=TINY)
            for _ in range(count)]


def test_a_jobs_resources_follow_its_task_and_agent(project):
    from conftest import ROOT
    from server.executors.resources import declared, ray_options

    gpu_task = declared({"project": str(project), "task": "toy-gpu"})
    assert gpu_task == {"cpus": 1, "memory_mb": 16384, "gpus": 1}
    assert ray_options(gpu_task) == {"num_cpus": 1, "memory": 16384 * 1024**2, "num_gpus": 1}
    assert ray_options(gpu_task, GPU_RESOURCE)["resources"] == {GPU_RESOURCE: 1}
    assert declared({"project": str(project), "task": "toy-results"})["gpus"] == 0
    agent = declared({"project": str(ROOT), "task": "tabular-baseline", "agent_id": "dummy"})
    assert agent == {"cpus": 1, "memory_mb": 16384, "gpus": 0}  # the agent's 2 GB, the task's 16 GB limit


def test_a_job_gets_sigterm_when_its_ray_worker_dies(tmp_path):
    """The launcher of ray_node.py: the job (here: a sleep) is signalled when the process that started it dies."""
    from server.executors.ray_node import DEATH_SIGNAL

    parent = ("import subprocess, sys, os, time; p = subprocess.Popen([sys.executable, *sys.argv[1:], "
              "str(os.getpid()), '/bin/sleep', '120'], start_new_session=True); print(p.pid, flush=True); "
              "time.sleep(1); assert p.poll() is None")
    done = subprocess.run([sys.executable, "-c", parent, *DEATH_SIGNAL], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr  # the job ran (slept) while its parent lived
    child = int(done.stdout.split()[0])  # its parent has exited: the kernel sent it SIGTERM
    wait_for(lambda: not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2],
             10, "the job outlived the process that started it")


RUNS = 20  # runs of one task each, over two nodes of one CPU each: 3 of 5 the quickest (toy-results)
KINDS = [("toy-results", "reference"), ("tabular-baseline", "reference"), ("tabular-baseline", "sample")]
MIX = [KINDS[0], KINDS[1], KINDS[0], KINDS[2], KINDS[0]]


def test_runs_spread_over_two_nodes_and_score_as_in_the_local_pool(project, cluster, tmp_path):
    (tmp_path / "local").mkdir()
    local = Server(project, tmp_path / "local" / "runs", workers=2).start()
    with Client(local.url) as client:  # the local pool's scores, while the cluster starts
        started = {kind: client.run(competitions=[kind[0]], solution=kind[1], scale=TINY) for kind in KINDS}
        cluster.add_node("a")
        cluster.add_node("b")
        expected = {kind: scores(client, run_id) for kind, run_id in started.items()
                    if client.wait(run_id, timeout=240, progress=False)}
    local.stop()
    with serving(project, cluster, tmp_path, nodes=()) as (server, client):
        assert client.health()["executor"] == "ray"
        started = time.monotonic()
        kinds = [MIX[i % len(MIX)] for i in range(RUNS)]
        run_ids = [client.run(competitions=[task], solution=solution, scale=TINY) for task, solution in kinds]
        for run_id, kind in zip(run_ids, kinds):
            assert client.wait(run_id, timeout=300, progress=False)["status"] == "completed"
            assert scores(client, run_id) == expected[kind]  # the same statuses, validity and scores
        print(f"{RUNS} runs on 2 nodes: {time.monotonic() - started:.1f} s")
        nodes = Counter(result["node"] for run_id in run_ids for result in server_store_tasks(server, run_id))
        assert set(nodes) == {"a", "b"}, nodes  # both nodes ran jobs
        assert "tabular-baseline/detailed_results.html" in client.list_artifacts(run_ids[1])


def test_a_node_killed_mid_run_loses_nothing(project, cluster, tmp_path):
    scratch = tmp_path / "scratch"
    with serving(project, cluster, tmp_path) as (server, client):
        run_ids = slow_runs(client, tmp_path, 3)
        doomed = wait_for(lambda: jobs_on(scratch, "b"), 120, "no job started on node b")
        cluster.kill("b")  # mid-job: the raylet, its workers, and with them the jobs they ran
        wait_for(lambda: not any(pid in processes_with(str(scratch)) for pid in doomed), 30,
                 "the killed node's job processes still run")
        for run_id in run_ids:
            assert client.wait(run_id, timeout=300, progress=False)["status"] == "completed"
            (task,) = client.get_run_summary(run_id)["tasks"]
            assert task["valid"] and task["scores"]["roc_auc"] == 0.5, task
        assert {result["node"] for run_id in run_ids for result in server_store_tasks(server, run_id)} == {"a"}
        assert not processes_with(str(scratch))


def test_a_job_whose_retries_are_spent_fails_with_the_reason(project, cluster, tmp_path):
    with serving(project, cluster, tmp_path, MLEB_RAY_MAX_RETRIES="0") as (server, client):
        run_ids = slow_runs(client, tmp_path, 2)
        wait_for(lambda: jobs_on(tmp_path / "scratch", "b"), 120, "no job started on node b")
        cluster.kill("b")
        ends = [client.wait(run_id, timeout=240, progress=False)["status"] for run_id in run_ids]
        assert sorted(ends) == ["completed", "failed"], ends
        (lost,) = [client.get_run_summary(r)["tasks"][0] for r, end in zip(run_ids, ends) if end == "failed"]
        assert lost["status"] == "failed" and "could not run on the Ray cluster (1 attempt(s))" in lost["error"]
        print(lost["error"])


def test_a_gpu_job_waits_for_a_gpu_node_and_runs_only_there(project, cluster, tmp_path):
    with serving(project, cluster, tmp_path) as (server, client):
        gpu = client.run(competitions=["toy-gpu"], solution="reference", scale=TINY)
        cpu = client.run(competitions=["toy-results"], solution="reference", scale=TINY)
        assert client.wait(cpu, timeout=120, progress=False)["status"] == "completed"  # the CPU nodes work
        time.sleep(3)
        assert client.get_run(gpu)["status"] in ("queued", "running")  # no node has a GPU yet: it waits
        assert not (server.runs_dir / gpu / "tasks" / "toy-gpu" / "result.json").exists()
        cluster.add_node("gpu", resources={GPU_RESOURCE: 1})
        assert client.wait(gpu, timeout=120, progress=False)["status"] == "completed"
        (result,) = server_store_tasks(server, gpu)
        assert result["node"] == "gpu" and result["valid"]
        assert server_store_tasks(server, cpu)[0]["node"] in ("a", "b")


def test_cancel_kills_the_remote_tree(project, cluster, tmp_path):
    scratch = tmp_path / "scratch"
    with serving(project, cluster, tmp_path, nodes=("a",)) as (server, client):
        (run_id,) = slow_runs(client, tmp_path, 1, SLOW_BASELINE)
        wait_for(lambda: set(processes_with(str(scratch))) & set(processes_with("baseline.py")), 120,
                 "the slow submission never started on the node")
        started = time.monotonic()
        assert client.cancel(run_id)["status"] == "cancelled"
        # by design: a polite cancel ends it within the job's grace; if the task ignores it, a forced cancel
        # follows after POLITE_CANCEL_SECONDS and the job then unwinds within its own grace (20 s of slack for
        # a loaded machine)
        wait_for(lambda: not processes_with(str(scratch)), POLITE_CANCEL_SECONDS + JOB_GRACE_SECONDS + 20,
                 lambda: f"the job's tree still runs on the node: {command_lines(processes_with(str(scratch)))}")
        print(f"the remote tree ended {time.monotonic() - started:.1f} s after the cancel")
        run = client.get_run(run_id)
        assert run["status"] == "cancelled" and run["tasks"][0]["status"] == "cancelled"


def test_a_killed_server_restarted_with_resume_finishes_its_runs(project, cluster, tmp_path):
    """With the data through Ray's object store (nothing shared but the code): the upload goes to the node in
    it, the artifacts come back in it."""
    scratch, objects = tmp_path / "scratch", {"MLEB_RAY_STORAGE": "object"}
    with serving(project, cluster, tmp_path, nodes=("a",), **objects) as (server, client):
        (run_id,) = slow_runs(client, tmp_path, 1)
        wait_for(lambda: jobs_on(scratch, "a"), 120, "the job never started on the node")
        server.stop(kill=True)  # the driver is gone: Ray ends its tasks, the kernel the jobs they started
    wait_for(lambda: not processes_with(str(scratch)), 60, "the dead server's job still runs")
    again = ray_server(project, tmp_path / "runs", cluster, MLEB_RESUME="1", **objects).start()
    try:
        with Client(again.url) as client:
            assert client.wait(run_id, timeout=240, progress=False)["status"] == "completed"
            (task,) = client.get_run_summary(run_id)["tasks"]
            assert task["valid"] and task["scores"]["roc_auc"] == 0.5
            assert {"tabular-baseline/scores.json", "tabular-baseline/detailed_results.html", "tabular-baseline/"
                    "logs/submission_stdout.txt"} <= set(client.list_artifacts(run_id))
            assert not (tmp_path / "runs" / "cache").exists()  # the node kept its own data cache
    finally:
        again.stop()
