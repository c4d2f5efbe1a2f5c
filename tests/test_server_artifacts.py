"""The server serves a run's artifacts, and nothing else: an allowlist of names at the top of each task folder,
opened without following a link; the hidden answers under run/ never leave it. Every error has one shape."""
from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import copy_project, write_zip
from sdk.client import Client
from server.job import ARTIFACTS, collect_artifacts
from test_server import Server

TOKEN = "artifact-test-token-3f9c1b"
TASK = "tabular-baseline"
PRINTS_ENVIRON = ("import os, sys\nprint('ENVIRONMENT-FOLLOWS', flush=True)\n"
                  "for key, value in sorted(os.environ.items()):\n    print(key, value, flush=True)\n"
                  "sys.exit('no model')\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("artifacts-project"), tasks=(TASK,)).root
    with Server(project, tmp_path_factory.mktemp("artifacts") / "runs", workers=2,
                env={"MLEB_SERVER_TOKEN": TOKEN}) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with Client(server.url, token=TOKEN) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def finished(server, client) -> tuple[str, Path, bytes]:
    """One reference run of tabular-baseline, tiny: (its id, its task folder, the hidden answers' bytes)."""
    run_id = client.run(competitions=[TASK], solution="reference", scale="tiny")
    assert client.wait(run_id, timeout=300, progress=False)["status"] == "completed"
    task_dir = server.runs_dir / run_id / "tasks" / TASK
    answers = sorted(p for p in (task_dir / "run" / "scoring" / "input" / "ref").rglob("*") if p.is_file())
    assert answers, "the run kept no hidden answers to try to steal"
    return run_id, task_dir, answers[0].read_bytes()


def raw_get(server: Server, path: str) -> tuple[int, bytes]:
    """A GET sent exactly as written (httpx would remove the dot segments of `..` paths)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    try:
        connection.request("GET", path, headers=server.auth())
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def assert_error(status: int, body: bytes, expected: int, secret: bytes | None = None) -> None:
    assert status == expected, (status, body[:300])
    error = json.loads(body)
    assert set(error) == {"error", "details"} and isinstance(error["error"], str) and error["error"]
    assert isinstance(error["details"], list)
    if secret is not None:
        assert secret not in body


def test_every_allowlisted_artifact_is_served(server, client, finished):
    run_id, task_dir, _answers = finished
    listed = client.list_artifacts(run_id)
    expected = {f"{TASK}/{name}" for name in ARTIFACTS if (task_dir / name).is_file()}
    assert set(listed) == expected
    assert {f"{TASK}/{name}" for name in ("scores.json", "detailed_results.html", "submission.zip", "result.json",
                                          "logs/submission_stdout.txt", "logs/prediction.stdout.txt",
                                          "logs/scoring.stdout.txt")} <= expected
    for name in listed:
        response = httpx.get(f"{server.url}/runs/{run_id}/artifacts/{name}", headers=server.auth())
        assert response.status_code == 200, name
        assert response.content == (server.runs_dir / run_id / "tasks" / name).read_bytes(), name
    metrics = client._request("GET", f"/runs/{run_id}/metrics").content
    with zipfile.ZipFile(io.BytesIO(metrics)) as archive:
        assert {"summary.json", f"{TASK}/scores.json", f"{TASK}/detailed_results.html"} == set(archive.namelist())


def test_run_internals_and_escapes_are_404(server, finished):
    run_id, task_dir, answers = finished
    ref = task_dir / "run" / "scoring" / "input" / "ref"
    answers_name = next(p for p in sorted(ref.rglob("*")) if p.is_file()).relative_to(task_dir).as_posix()
    assert (task_dir / "run" / "prediction" / "program" / "task.json").is_file()
    (task_dir / "work").mkdir(exist_ok=True)  # the job deletes work/ at its end: put something there again
    (task_dir / "work" / "answers.csv").write_bytes(answers)
    base = f"/runs/{run_id}/artifacts"
    paths = [f"{TASK}/{answers_name}", f"{TASK}/run/prediction/program/task.json", f"{TASK}/work/answers.csv",
             f"{TASK}/job.json", f"{TASK}/job.err", f"{TASK}/logs", f"{TASK}/", TASK, "", "../../state.sqlite",
             f"{TASK}/../../state.sqlite", f"{TASK}/logs/../{answers_name}", f"{TASK}/run/../scores.json",
             "%2e%2e/%2e%2e/state.sqlite", f"{TASK}/%2e%2e/%2e%2e/state.sqlite",
             f"{TASK}%2f{answers_name.replace('/', '%2f')}", f"{TASK}/run%2fscoring%2finput%2fref",
             f"/{server.runs_dir}/{run_id}/tasks/{TASK}/scores.json", f"{TASK}/./scores.json",
             f"{TASK}/scores.json/", "/etc/passwd", f"{TASK}//scores.json"]
    for path in paths:
        status, body = raw_get(server, f"{base}/{path}")
        assert_error(status, body, 404, secret=answers)
    assert_error(*raw_get(server, f"/runs/{run_id}/../../state.sqlite"), 404)


@contextmanager
def replaced(path: Path, plant):
    """`path` replaced by what `plant(path)` makes, put back afterwards."""
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    try:
        plant(path)
        yield
    finally:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        aside.rename(path)


def test_planted_links_fifos_and_hard_links_are_never_read(server, client, finished, tmp_path):
    run_id, task_dir, answers = finished
    answers_path = next(p for p in sorted((task_dir / "run" / "scoring" / "input" / "ref").rglob("*")) if p.is_file())
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "prediction.stdout.txt").symlink_to(answers_path)
    shutil.copyfile(answers_path, decoy / "submission_stdout.txt")
    plants = {"scores.json": lambda p: p.symlink_to(answers_path),
              "detailed_results.html": os.mkfifo,  # reading it would block for ever
              "logs/scoring.stdout.txt": lambda p: os.link(answers_path, p),
              "logs": lambda p: p.symlink_to(decoy, target_is_directory=True)}
    for name, plant in plants.items():
        with replaced(task_dir / name, plant):
            started = time.monotonic()
            urls = [f"/runs/{run_id}/artifacts/{TASK}/{name}"]
            if name == "logs":
                urls += [f"/runs/{run_id}/artifacts/{TASK}/logs/{leaf}" for leaf in os.listdir(decoy)]
            for url in urls:
                assert_error(*raw_get(server, url), 404, secret=answers)
            listed = client.list_artifacts(run_id)
            assert f"{TASK}/{name}" not in listed and not any(item.startswith(f"{TASK}/logs/") for item in listed
                                                               if name == "logs")
            metrics = client._request("GET", f"/runs/{run_id}/metrics").content
            with zipfile.ZipFile(io.BytesIO(metrics)) as archive:
                assert all(answers not in archive.read(member) for member in archive.namelist())
            assert time.monotonic() - started < 10, f"{name}: the server hung on it"


def test_errors_have_the_documented_shape(server, finished):
    run_id = finished[0]
    with httpx.Client(base_url=server.url, headers=server.auth(), timeout=15) as http:
        for response, status in [
            (http.post("/runs", json={"competitions": 3, "solution": "nope", "extra": 1}), 422),
            (http.post("/runs", content=b"{not json", headers={"Content-Type": "application/json"}), 422),
            (http.post("/runs", json={"competitions": ["no-such-task"]}), 400),
            (http.get("/no/such/route"), 404),
            (http.get(f"/runs/{run_id}/nothing-here"), 404),
            (http.get("/runs/no-such-run/artifacts"), 404),
            (http.put("/runs"), 405),
            (http.delete(f"/runs/{run_id}/artifacts"), 405),
        ]:
            assert_error(response.status_code, response.content, status)
        assert httpx.get(f"{server.url}/no/such/route").json() == {
            "error": "missing or wrong bearer token (Authorization: Bearer ...)", "details": []}


def test_collect_artifacts_follows_no_planted_link(tmp_path, capsys):
    run_dir, task_dir, secret = tmp_path / "run", tmp_path / "task", tmp_path / "answers.csv"
    secret.write_text("id,label\n1,SECRET\n")
    logs = run_dir / "prediction" / "output" / "logs"
    logs.mkdir(parents=True)
    (logs / "stdout.txt").symlink_to(secret)  # planted by the participant's program
    os.mkfifo(logs / "stderr.txt")
    (run_dir / "scoring" / "output").mkdir(parents=True)
    (run_dir / "scoring" / "output" / "scores.json").write_text('{"score": 1}')
    (task_dir / "logs").mkdir(parents=True)
    (task_dir / "scores.json").write_text("an earlier collection")  # ours: replaced
    (task_dir / "logs" / "submission_stdout.txt").symlink_to(secret)
    assert collect_artifacts(run_dir, task_dir) == ["scores.json"]
    assert (task_dir / "scores.json").read_text() == '{"score": 1}'
    assert not (task_dir / "logs" / "submission_stdout.txt").exists()
    assert not (task_dir / "logs" / "submission_stderr.txt").exists()
    printed = capsys.readouterr().out
    assert "logs/submission_stdout.txt not collected" in printed and "symbolic link" in printed
    assert "logs/submission_stderr.txt not collected" in printed and "FIFO" in printed
    shutil.rmtree(logs)  # a linked folder on the way is refused too
    (run_dir / "elsewhere").mkdir()
    (run_dir / "elsewhere" / "stdout.txt").write_text("SECRET")
    logs.symlink_to(run_dir / "elsewhere", target_is_directory=True)
    assert collect_artifacts(run_dir, task_dir) == ["scores.json"]
    assert not (task_dir / "logs" / "submission_stdout.txt").exists()
    assert "is a symbolic link" in capsys.readouterr().out


def test_the_server_token_stays_out_of_a_submissions_logs(server, client, tmp_path):
    upload = write_zip(tmp_path / "environ.zip", {"baseline.py": PRINTS_ENVIRON})
    run_id = client.run(competitions=[TASK], solution={TASK: upload}, scale="tiny")
    client.wait(run_id, timeout=300, progress=False)
    stdout = client.download_artifact(run_id, f"{TASK}/logs/submission_stdout.txt", tmp_path / "stdout.txt")
    printed = stdout.read_text()
    assert "ENVIRONMENT-FOLLOWS" in printed  # the program ran and its output was served
    assert TOKEN not in printed and "MLEB_SERVER_TOKEN" not in printed
    for name in client.list_artifacts(run_id):
        assert TOKEN.encode() not in client.download_artifact(run_id, name, tmp_path / name).read_bytes(), name
