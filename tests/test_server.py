"""The benchmark server and its SDK: a real uvicorn server on a loopback port, driven by the real Client."""
from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bundlegen.definition import load_task
from bundlegen.project import Project
from conftest import ROOT, copy_project, processes_with, write_zip
from sdk.client import BadRequest, Client, NotFound, Unauthorized

TINY = "tiny"
SLOW_BASELINE = "import time\nprint('working', flush=True)\ntime.sleep(300)\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python build_bundle.py serve` in its own process, on a free loopback port."""

    def __init__(self, project: Path, runs_dir: Path, workers: int = 2, env: dict | None = None):
        self.project, self.runs_dir, self.workers = project, runs_dir, workers
        self.env = dict(os.environ, MLEB_PROJECT=str(project), **(env or {}))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [sys.executable, str(ROOT / "build_bundle.py"), "serve", "--port", str(self.port), "--runs-dir",
                str(self.runs_dir), "--workers", str(self.workers)]

    def start(self) -> "Server":
        log = open(self.runs_dir.parent / f"server-{self.port}.log", "ab")
        self.process = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.runs_dir.parent / f"server-{self.port}.log").read_text()
            try:
                if httpx.get(f"{self.url}/health", headers=self.auth(), timeout=1).status_code in (200, 401):
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("the server did not start within 60 s")

    def auth(self) -> dict:
        token = self.env.get("MLEB_SERVER_TOKEN")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("server-project"), tasks=("tabular-baseline",), toy=True).root


@pytest.fixture(scope="module")
def server(project, tmp_path_factory):
    runs = tmp_path_factory.mktemp("server") / "runs"
    running = Server(project, runs, workers=2).start()
    yield running
    running.stop()


@pytest.fixture
def client(server):
    with Client(server.url) as sdk:
        yield sdk


def test_health_and_competitions(client):
    assert client.health()["workers"] == 2
    listed = {c["id"]: c for c in client.list_competitions()}
    assert set(listed) == {"tabular-baseline", "toy-results"}
    assert listed["tabular-baseline"]["submission_kind"] == "code" and listed["tabular-baseline"]["metric"] == "score"
    assert listed["toy-results"]["submission_kind"] == "results" and listed["toy-results"]["higher_is_better"] is False


def test_a_run_of_two_tiny_tasks_with_the_reference_solution(client, project, tmp_path):
    run_id = client.run(competitions=["tabular-baseline", "toy-results"], solution="reference", scale=TINY)
    assert client.get_run(run_id)["status"] in ("queued", "running")  # answered at once
    assert client.wait(run_id, timeout=240, progress=False)["status"] == "completed"
    summary = client.get_run_summary(run_id)
    tasks = {t["task"]: t for t in summary["tasks"]}
    assert summary["valid"] == summary["total"] == 2
    assert tasks["tabular-baseline"]["scores"]["roc_auc"] > 0.75 and tasks["tabular-baseline"]["primary"] == "score"
    declared = load_task(project / "bundles" / "tabular-baseline", Project(project)).model.thresholds
    assert tasks["tabular-baseline"]["thresholds"] == declared.model_dump(exclude_none=True)
    assert "trivial baseline" in tasks["tabular-baseline"]["placement"]
    toy = tasks["toy-results"]
    assert toy["score"] == toy["scores"]["mae"] and toy["duration"] > 0
    # artifacts: the metrics of every task, and the submission each task ran
    metrics = client.download_metrics(run_id, tmp_path / "metrics")
    assert (metrics / "summary.json").is_file() and (metrics / "tabular-baseline" / "detailed_results.html").is_file()
    assert '"roc_auc"' in (metrics / "tabular-baseline" / "scores.json").read_text()
    with zipfile.ZipFile(client.download_submission(run_id, "tabular-baseline", tmp_path)) as archive:
        assert "baseline.py" in archive.namelist()
    assert "tabular-baseline/logs/submission_stdout.txt" in client.list_artifacts(run_id)
    runs = client.list_runs()
    assert runs[0]["run_id"] == run_id and runs[0]["progress"] == {"total": 2, "done": 2, "running": 0, "interrupted": 0, "cancelled": 0}


def test_sample_and_uploaded_submissions(client, tmp_path):
    upload = write_zip(tmp_path / "mine.zip", {"baseline.py": "raise SystemExit('my bug: no model')\n"})
    run_id = client.run(competitions="tabular-baseline", solution={"tabular-baseline": upload}, scale=TINY)
    sample = client.run(competitions=["tabular-baseline", "toy-results"], solution="sample", scale=TINY)
    client.wait(run_id, timeout=240, progress=False)
    client.wait(sample, timeout=240, progress=False)
    mine = client.get_run_summary(run_id)["tasks"][0]
    assert mine["status"] == "completed" and not mine["valid"] and "my bug: no model" in mine["error"]
    tasks = {t["task"]: t for t in client.get_run_summary(sample)["tasks"]}
    assert tasks["tabular-baseline"]["valid"] and tasks["tabular-baseline"]["scores"]["roc_auc"] == 0.5
    assert tasks["toy-results"]["status"] == "failed" and "no sample submission" in tasks["toy-results"]["error"]
    assert client.get_run(sample)["status"] == "failed"


def test_ten_runs_at_once_all_complete_within_the_pool_limit(client, server):
    with ThreadPoolExecutor(10) as pool:
        run_ids = list(pool.map(lambda _: client.run(competitions=["toy-results"], solution="reference", scale=TINY),
                                range(10)))
    assert len(set(run_ids)) == 10
    finished = [client.wait(run_id, timeout=300, progress=False) for run_id in run_ids]
    assert [run["status"] for run in finished] == ["completed"] * 10
    scores = {client.get_run_summary(run_id)["tasks"][0]["scores"]["mae"] for run_id in run_ids}
    assert len(scores) == 1  # same task, same data, same solution: same score, nothing mixed up
    intervals = [(t["started"], t["finished"]) for run in finished for t in run["tasks"]]
    most_at_once = max(sum(start <= moment < end for start, end in intervals) for moment, _ in intervals)
    assert most_at_once == server.workers  # the pool was used, and never beyond its size
    listed = {run["run_id"] for run in client.list_runs()}
    assert set(run_ids) <= listed


def wait_for_status(client, run_id, status, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get_run(run_id)
        if any(task["status"] == status for task in run["tasks"]):
            return run
        time.sleep(0.2)
    raise AssertionError(f"no task of {run_id} became {status}")


def submission_token(run_id: str) -> str:
    """In the command line of the participant's program (its --data-dir), and of the ingestion program's."""
    return f"{run_id}/tasks/tabular-baseline/run/prediction/input_data"


def submission_processes(run_id: str) -> list[str]:
    """The participant's program itself, running: in the sandbox (its own user namespace, not bubblewrap),
    with the run's data folder in its command line."""
    found = []
    for pid in processes_with(submission_token(run_id)):
        try:
            sandboxed = os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
            if sandboxed and Path(f"/proc/{pid}/comm").read_text().strip() != "bwrap":
                found.append(pid)
        except OSError:
            continue
    return found


def test_cancel_kills_the_running_submission(client, tmp_path):
    upload = write_zip(tmp_path / "slow.zip", {"baseline.py": SLOW_BASELINE})
    run_id = client.run(competitions=["tabular-baseline"], solution={"tabular-baseline": upload}, scale=TINY)
    wait_for_status(client, run_id, "running")
    deadline = time.monotonic() + 60
    while not submission_processes(run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert submission_processes(run_id), "the slow submission never started"
    assert client.cancel(run_id)["status"] == "cancelled"
    deadline = time.monotonic() + 30
    while processes_with(run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_with(run_id)  # the job and the participant's program
    run = client.get_run(run_id)
    assert run["status"] == "cancelled" and run["resumable"]
    with pytest.raises(BadRequest, match="only a queued or running run can be cancelled"):
        client.cancel(run_id)


def test_bad_requests_get_4xx_with_a_message(client, server, tmp_path):
    cases = [
        (dict(competitions=["no-such-task"]), "unknown task(s): no-such-task"),
        (dict(competitions="splits/nowhere.txt"), "split file 'splits/nowhere.txt' not found"),
        (dict(competitions="../../etc/passwd.txt"), "must be a .txt file under splits/"),
        (dict(competitions=[]), "no competitions given"),
        (dict(competitions=["toy-results"], solution={"toy-results": "deadbeef"}), "no upload 'deadbeef'"),
        (dict(competitions=["toy-results", "tabular-baseline"], solution={"toy-results": "x"}),
         "missing: tabular-baseline"),
        (dict(competitions=["toy-results"], scale="huge"), "scale"),
    ]
    for body, message in cases:
        with pytest.raises(BadRequest) as caught:
            client.run(**body)
        assert message in caught.value.message, (body, caught.value.message)
        assert 400 <= caught.value.status < 500
    response = httpx.post(f"{server.url}/runs", json={"competitions": ["toy-results"], "solution": 3, "extra": 1})
    error = response.json()["error"]
    assert response.status_code == 422 and "solution" in error and "extra" in error
    response = httpx.post(f"{server.url}/runs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"].startswith("invalid request")
    with pytest.raises(NotFound, match="no run 'nope'"):
        client.get_run_summary("nope")
    with pytest.raises(NotFound):
        client.download_artifact("nope", "x/scores.json", tmp_path / "x")


def test_uploads_are_checked_before_they_are_kept(client, server, tmp_path):
    not_zip = tmp_path / "notes.zip"
    not_zip.write_text("hello")
    with pytest.raises(BadRequest, match="not a zip file"):
        client.upload(not_zip)
    escaping = io.BytesIO()
    with zipfile.ZipFile(escaping, "w") as archive:
        archive.writestr("baseline.py", "print(1)")
        archive.writestr("../../escaped.py", "print('out')")
    with pytest.raises(BadRequest, match="escapes the target folder") as caught:
        client.upload(_write(tmp_path / "evil.zip", escaping))
    assert caught.value.status == 400
    assert not list(server.runs_dir.parent.rglob("escaped.py"))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "baseline.py").write_text("print(1)\n")
    assert client.upload(folder).isalnum()  # a folder is zipped on the fly


def _write(path: Path, buffer: io.BytesIO) -> Path:
    path.write_bytes(buffer.getvalue())
    return path


def test_upload_size_limit_and_bearer_token(project, tmp_path):
    server = Server(project, tmp_path / "runs", workers=1,
                    env={"MLEB_MAX_UPLOAD_MB": "0.01", "MLEB_SERVER_TOKEN": "s3cret"}).start()
    try:
        with Client(server.url) as anonymous:
            with pytest.raises(Unauthorized, match="bearer token"):
                anonymous.list_runs()
        assert httpx.get(f"{server.url}/health").status_code == 401  # every endpoint
        with Client(server.url, token="s3cret") as sdk:
            assert sdk.health()["workers"] == 1
            big = write_zip(tmp_path / "big.zip", {"baseline.py": os.urandom(40_000)})
            with pytest.raises(BadRequest, match="limit") as caught:
                sdk.upload(big)
            assert caught.value.status == 413
    finally:
        server.stop()


def test_serving_beyond_loopback_needs_a_token(project, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLEB_SERVER_TOKEN"}
    done = subprocess.run([sys.executable, str(ROOT / "build_bundle.py"), "serve", "--host", "0.0.0.0",
                           "--runs-dir", str(tmp_path / "runs")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "set MLEB_SERVER_TOKEN" in done.stderr


def test_a_killed_server_loses_no_run(project, tmp_path):
    runs = tmp_path / "runs"
    server = Server(project, runs, workers=1).start()
    try:
        with Client(server.url) as sdk:
            finished = sdk.run(competitions=["toy-results"], solution="reference", scale=TINY, wait=True, timeout=120)
            upload = write_zip(tmp_path / "slow.zip", {"baseline.py": SLOW_BASELINE})
            interrupted = sdk.run(competitions=["toy-results", "tabular-baseline"], scale=TINY,
                                  solution={"toy-results": _toy_solution(tmp_path), "tabular-baseline": upload})
            deadline = time.monotonic() + 60
            while not submission_processes(interrupted) and time.monotonic() < deadline:
                time.sleep(0.2)
        server.stop(kill=True)  # SIGKILL: no chance to clean up
        server = Server(project, runs, workers=1).start()
        assert not processes_with(interrupted), "the dead server's job was left running"
        with Client(server.url) as sdk:
            listed = {run["run_id"]: run for run in sdk.list_runs()}
            assert listed[finished]["status"] == "completed"
            assert listed[interrupted]["status"] == "interrupted" and "resume" in listed[interrupted]["message"]
            assert sdk.get_run(interrupted)["resumable"]
            assert sdk.get_run_summary(finished)["tasks"][0]["valid"]  # results and artifacts survive
            assert (runs / finished / "tasks" / "toy-results" / "scores.json").is_file()
            fresh = sdk.run(competitions=["toy-results"], solution="reference", scale=TINY, wait=True, timeout=120)
            assert sdk.get_run(fresh)["status"] == "completed"
    finally:
        server.stop()


def _toy_solution(tmp_path: Path) -> Path:
    """toy-results' reference predictions, taken from the bundle the server built for the finished run."""
    bundles = sorted(tmp_path.rglob("toy-results.zip"))
    with zipfile.ZipFile(bundles[0]) as bundle, zipfile.ZipFile(io.BytesIO(bundle.read("solution.zip"))) as solution:
        return write_zip(tmp_path / "toy-solution.zip", {name: solution.read(name) for name in solution.namelist()})


def readme_demo() -> tuple[list[str], str]:
    """The README's two-terminal demo: the serve command of terminal 1 and the Python of terminal 2."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Benchmark server and Python SDK", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```")
    bash = next(b for b in blocks if b.startswith("bash") and "serve" in b)
    python = next(b for b in blocks if b.startswith("python") and "Client(" in b)
    command = next(line for line in bash.splitlines() if "build_bundle.py serve" in line)
    return command.split(), python.removeprefix("python")


def test_the_readme_demo_works_as_written(tmp_path):
    command, script = readme_demo()
    port = free_port()
    assert command[0] == ".venv/bin/python" and "--port" in command and "8000" in script
    # issue 12: the demo wrote metrics/ into the repository; it writes under /tmp (redirected here to tmp_path)
    assert 'download_metrics(run_id, f"/tmp/mleb-metrics/{run_id}")' in script
    assert 'agent_id="dummy", lite=True' in script  # issue 14: the user's call, as the seed wrote it
    script = script.replace("/tmp/mleb-metrics", str(tmp_path / "metrics"))
    script = script.replace("/tmp/mleb-rollouts", str(tmp_path / "rollouts"))
    ignored = subprocess.run(["git", "check-ignore", "-q", "metrics/summary.json"], cwd=ROOT)
    assert ignored.returncode == 0  # and a metrics/ folder made there anyway stays out of git
    command = [sys.executable] + command[1:]
    command[command.index("--port") + 1] = str(port)
    command[command.index("--runs-dir") + 1] = str(tmp_path / "runs")
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, "-c", script.replace("8000", str(port))], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        lite = [line.strip() for line in (ROOT / "splits" / "lite.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
        printed = [line.split() for line in done.stdout.splitlines()]
        tasks, agents = printed[:len(lite)], printed[len(lite):]
        assert [row[0] for row in tasks] == lite and all(row[1] == "completed" for row in tasks)  # the agent's end
        assert [row[:2] for row in agents] == [["dummy", "1"]]  # the leaderboard: the one agent that ran
        assert list(tmp_path.glob("rollouts/*/rollout.json"))
        assert [p.parent.parent for p in tmp_path.glob("metrics/*/summary.json")] == [tmp_path / "metrics"]
        assert not (tmp_path / "metrics" / "summary.json").exists() and not (ROOT / "metrics").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def test_a_second_server_on_the_same_runs_folder_fails_in_one_line(server):
    """Issue 12: the refusal came as a 14-line traceback from uvicorn's lifespan."""
    second = subprocess.run([sys.executable, str(ROOT / "build_bundle.py"), "serve", "--runs-dir",
                             str(server.runs_dir), "--port", "0"], cwd=ROOT, env=server.env, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 1
    assert "Traceback" not in second.stdout + second.stderr and second.stdout == ""
    assert second.stderr.splitlines() == [f"another server uses {server.runs_dir.resolve()} (its server.lock is held); "
                                          f"stop it or choose another --runs-dir"]
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200  # the first one is untouched


def test_progress_counts_only_tasks_that_really_finished(tmp_path):
    """Issue 12: a run interrupted with 2 of 7 tasks finished reported done 7."""
    from server.app import progress
    from server.store import Store

    store = Store(tmp_path / "state.sqlite")
    tasks = [f"t{i}" for i in range(7)]
    store.add_run("r1", {"competitions": tasks}, tasks)
    store.finish_task("r1", "t0", "completed", {"valid": True})
    store.finish_task("r1", "t1", "failed", {"valid": False})
    store.start_task("r1", "t2")
    assert progress(store.run("r1")) == {"total": 7, "done": 2, "running": 1, "interrupted": 0, "cancelled": 0}
    assert store.mark_interrupted() == ["r1"]  # what a restarted server does with a previous server's runs
    assert progress(store.run("r1")) == {"total": 7, "done": 2, "running": 0, "interrupted": 5, "cancelled": 0}

    store.add_run("r2", {"competitions": tasks[:3]}, tasks[:3])
    store.finish_task("r2", "t0", "completed", {"valid": True})
    store.set_unfinished_tasks("r2", "cancelled")  # what cancelling a run does with its queued tasks
    assert progress(store.run("r2")) == {"total": 3, "done": 1, "running": 0, "interrupted": 0, "cancelled": 2}


def test_docs_are_served_offline_from_local_assets(server):
    """Issue 12: /docs was blank offline (Swagger UI came from a CDN)."""
    import re

    page = httpx.get(f"{server.url}/docs", timeout=10)
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
    assert {"/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css", "/openapi.json"} <= set(urls)
    assert "//" not in page.text.replace("://127.0.0.1", "")  # no other host: every URL is local
    for url in urls:
        response = httpx.get(f"{server.url}{url}", timeout=10)
        assert response.status_code == 200, url
        assert response.content, url
    assert "SwaggerUIBundle" in httpx.get(f"{server.url}/docs-assets/swagger-ui-bundle.js", timeout=10).text
