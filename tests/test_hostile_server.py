"""Attackers through the real server: hostile submissions for tabular-baseline (tiny), uploaded with the SDK to a
uvicorn server that holds a bearer token and a (fake) cloud key in its environment.

Each attack is one baseline.py; a run takes one upload per task id (and a task only once), so each attack is a
run of its own, all started at once after one reference run (which fills the data cache the attacks aim at):
  a) predictions.csv is a symbolic link to the host's hidden answers (the cache's test_labels.csv)
  b) the classic chroot escape, then reading the runs folder's state.sqlite and the cached answers
  c) prints its environment (and every environment it can see under /proc)
  d) plants links named like the artifacts (scores.json, detailed_results.html, ingestion_result.json, logs), in
     its working folder and its OUTPUT_DIR, to the server's state.sqlite and to a canary file
  e) a fork bomb from children started with an empty environment, until the task's process limit (the bundle's
     default submission.limits.max_processes, read from the definition) stops it
  f) asking the server for the run's internals (run/..., work/...)
For every run: the answers' bytes, the token, the key, state.sqlite's and the canary's bytes appear in no served
artifact and no metrics zip, no score is forged, and no host file changed.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import sqlite3
import stat
import zipfile
from pathlib import Path

import httpx
import pytest

from bundlegen.definition import load_all
from conftest import copy_project, processes_with, write_zip
from hostile_cases import CONSTANT, zip_of
from programlib.sandbox import probe
from sdk.client import BadRequest, Client
from test_server import Server

TASK = "tabular-baseline"
TOKEN = "hostile-server-token-" + secrets.token_hex(8)
AWS_SECRET = "FAKEawsSecret/" + secrets.token_hex(12)
CANARY = ("canary " + secrets.token_hex(16) + "\n").encode()
SQLITE_HEADER = b"SQLite format 3\x00"
BOMB_MARK = "hostile-bomb-" + secrets.token_hex(6)  # in the command line of every process of the fork bomb


# --- the attacks ---------------------------------------------------------------------------------------------

def symlinked_predictions(host: dict) -> str:
    return f"""
import os
answers = {host['answers']!r}
try:
    open(answers).read()
    print("VERDICT READ the answers")
except OSError as error:
    print("VERDICT the answers are not visible:", error.strerror)
os.symlink(answers, os.path.join(os.environ["OUTPUT_DIR"], "predictions.csv"))
"""


def chroot_escape(host: dict) -> str:
    targets = [host["state"], host["answers"], host["canary"]]
    return f"""
import os
os.makedirs("jail", exist_ok=True)
try:
    os.chroot("jail")
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    print("VERDICT ESCAPED the chroot")
except OSError as error:
    print("VERDICT chroot refused:", error.strerror)
for target in {targets!r}:
    for path in (target, "/proc/1/root" + target, "/proc/self/root" + target, "../" * 40 + target.lstrip("/")):
        try:
            with open(path, "rb") as handle:
                print("VERDICT READ", path, len(handle.read()), "bytes")
        except OSError as error:
            print("VERDICT cannot read", path, "-", error.strerror)
for target in {[host['canary'], host['state']]!r}:  # the folders bwrap made on the private /tmp to bind ours
    try:
        with open(target, "ab") as handle:
            handle.write(b"owned")
        print("VERDICT wrote at the path", target)
    except OSError as error:
        print("VERDICT cannot write", target, "-", error.strerror)
descriptors = []
for fd in sorted(os.listdir("/proc/self/fd"), key=int):
    try:
        descriptors.append((int(fd), os.readlink("/proc/self/fd/" + fd)))
    except OSError:
        pass  # the listing's own descriptor, closed by now
print("VERDICT descriptors:", descriptors)
""" + CONSTANT


PRINTS_ENVIRONMENT = """
import os
print("ENVIRONMENT-FOLLOWS")
for key, value in sorted(os.environ.items()):
    print(key, "=", value)
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    try:
        print("PROC", pid, open("/proc/" + pid + "/environ", "rb").read().replace(b"\\0", b" ").decode())
    except OSError as error:
        print("PROC", pid, "unreadable:", error.strerror)
""" + CONSTANT


def planted_links(host: dict) -> str:
    return f"""
import os
names = ["scores.json", "detailed_results.html", "ingestion_result.json", "logs"]
for folder in (".", os.environ["OUTPUT_DIR"]):
    for name in names:
        os.symlink({host['state']!r}, os.path.join(folder, name))
    os.symlink({host['canary']!r}, os.path.join(folder, "canary.txt"))
    os.symlink(os.path.dirname({host['state']!r}), os.path.join(folder, "runs"), target_is_directory=True)
print("VERDICT planted", sorted(os.listdir(".")), sorted(os.listdir(os.environ["OUTPUT_DIR"])))
""" + CONSTANT  # predictions.csv too: only the links stand in the way of a score


def fork_bomb(limit: int) -> str:
    """4 children with an empty environment, each forking sleepers: past `limit` by 240, and bounded (should the
    limit not hold, it ends by itself within a minute)."""
    bomb = f"""
import os, time
# {BOMB_MARK}
born = 0
while born < {limit // 4 + 60}:
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
    born += 1
"""
    return f"""
import subprocess, sys
children = [subprocess.Popen([sys.executable, "-c", {bomb!r}, {BOMB_MARK!r}], env={{}}) for _ in range(4)]
print("VERDICT the bomb's children ended with", [child.wait() for child in children], flush=True)
"""  # no predictions either way (the runner notices the refused fork within its poll, maybe after this line)


def process_limit() -> int:
    """The bundle's default (tabular-baseline's bundle.yaml sets no submission.limits)."""
    limit = load_all()[TASK].model.submission.limits.max_processes
    assert isinstance(limit, int), f"tabular-baseline has no process limit ({limit!r}): nothing stops a fork bomb"
    return limit


# --- fixtures ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    problem = probe()
    if problem:
        pytest.fail(f"bubblewrap cannot confine participant code on this machine: {problem}")
    host = tmp_path_factory.mktemp("hostile-host")
    (host / "canary.txt").write_bytes(CANARY)  # next to the runs folder: nothing may change it
    project = copy_project(tmp_path_factory.mktemp("hostile-project"), tasks=(TASK,)).root
    with Server(project, host / "runs", workers=2,
                env={"MLEB_SERVER_TOKEN": TOKEN, "AWS_SECRET_ACCESS_KEY": AWS_SECRET}) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with Client(server.url, token=TOKEN) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def reference(server, client) -> dict:
    """A reference run (it fills the data cache); the host's files the attacks aim at, as they were before."""
    run_id = client.run(competitions=[TASK], solution="reference", scale="tiny")
    assert client.wait(run_id, timeout=300, progress=False)["status"] == "completed"
    # The answers of phase 0's hidden draw, which the server grades on (the final phase's draw is cached apart).
    found = sorted(path for path in (server.runs_dir / "cache").rglob("test_labels.csv")
                   if "-draw" not in path.parent.parent.name)
    assert len(found) == 1, f"expected one cached test_labels.csv of the first draw, found {found}"
    answers, state, canary = found[0], server.runs_dir / "state.sqlite", server.runs_dir.parent / "canary.txt"
    body = answers.read_bytes().split(b"\n", 1)[1]
    return {"run_id": run_id, "answers": str(answers), "state": str(state), "canary": str(canary),
            "answers_bytes": answers.read_bytes(), "answers_body": body[:600], "answers_stat": answers.stat(),
            "state_inode": state.stat().st_ino, "canary_stat": canary.stat(),
            "host_listing": sorted(p.name for p in server.runs_dir.parent.iterdir())}


@pytest.fixture(scope="module")
def attacks(server, client, reference, tmp_path_factory) -> dict:
    """Every attack uploaded and started at once (a run each), then waited for: {attack: what it left}."""
    scripts = {"a_symlinked_predictions": symlinked_predictions(reference),
               "b_chroot_escape": chroot_escape(reference), "c_prints_environment": PRINTS_ENVIRONMENT,
               "d_planted_artifact_links": planted_links(reference), "e_fork_bomb": fork_bomb(process_limit())}
    folder = tmp_path_factory.mktemp("hostile-uploads")
    runs = {name: client.run(competitions=[TASK], solution={TASK: write_zip(folder / f"{name}.zip",
                                                                            {"baseline.py": script})},
                             scale="tiny", time_limit=120)  # a safety net: none of them should come near it
            for name, script in scripts.items()}
    outcomes = {}
    for name, run_id in runs.items():
        status = client.wait(run_id, timeout=300, progress=False)["status"]
        task = client.get_run_summary(run_id)["tasks"][0]
        ingestion_path = server.runs_dir / run_id / "tasks" / TASK / "run" / "prediction" / "output" / \
            "ingestion_result.json"
        outcomes[name] = {"run_id": run_id, "status": status, "task": task,
                          "ingestion": json.loads(ingestion_path.read_text()),
                          "stdout": served(client, run_id, "logs/submission_stdout.txt").decode(),
                          "stderr": served(client, run_id, "logs/submission_stderr.txt").decode()}
    return outcomes


def served(client: Client, run_id: str, name: str) -> bytes:
    """One artifact of the task, as the server serves it."""
    return client._request("GET", f"/runs/{run_id}/artifacts/{TASK}/{name}").content


def describe(outcome: dict) -> str:
    task, ingestion = outcome["task"], outcome["ingestion"]
    return (f"run {outcome['status']}, task {task['status']}, valid {task['valid']}, scores {task['scores']}, "
            f"error {task['error']!r}, ingestion {ingestion.get('status')}: {ingestion.get('message')!r}; "
            f"stdout {outcome['stdout'][-1500:]!r}; stderr {outcome['stderr'][-800:]!r}")


def assert_not_forged(outcome: dict) -> None:
    """Not scored, or scored as the constant 0.5 it wrote after its attack: nothing better than chance."""
    task = outcome["task"]
    assert not task["valid"] or task["scores"]["roc_auc"] == 0.5, describe(outcome)


# --- the attacks, one test each --------------------------------------------------------------------------------

def test_a_predictions_linked_to_the_answers_are_refused(attacks, client, reference):
    outcome = attacks["a_symlinked_predictions"]
    assert_not_forged(outcome)
    assert not outcome["task"]["valid"] and outcome["task"]["scores"] is None, describe(outcome)
    assert outcome["ingestion"]["status"] == "failed", describe(outcome)
    message = "the predictions folder/predictions.csv: is a symbolic link"
    assert message in outcome["ingestion"]["message"], describe(outcome)
    assert message in outcome["task"]["error"], describe(outcome)  # what the participant is told, via the scorer
    assert "VERDICT the answers are not visible: No such file or directory" in outcome["stdout"], describe(outcome)
    # the same link shipped in the upload itself is refused before anything runs
    linked = zip_of([("baseline.py", CONSTANT.encode(), None),
                     ("predictions.csv", reference["answers"].encode(), 0o120777)])
    with pytest.raises(BadRequest) as refused:
        client._request("POST", "/uploads", content=linked, headers={"Content-Type": "application/zip"})
    assert refused.value.status == 400 and "'predictions.csv' is a symbolic link" in refused.value.message


def test_b_the_chroot_escape_fails_and_scores_as_a_constant(attacks, reference):
    outcome = attacks["b_chroot_escape"]
    stdout = outcome["stdout"]
    assert "VERDICT chroot refused: Operation not permitted" in stdout, describe(outcome)
    assert "ESCAPED" not in stdout, describe(outcome)
    assert "VERDICT READ" not in stdout, describe(outcome)
    for target in (reference["state"], reference["answers"], reference["canary"]):
        assert f"VERDICT cannot read {target} - No such file or directory" in stdout, describe(outcome)
    # it may write at those paths: into the folders bwrap made on its private /tmp, which vanish with it
    assert Path(reference["canary"]).read_bytes() == CANARY
    assert Path(reference["state"]).read_bytes()[:16] == SQLITE_HEADER
    assert outcome["ingestion"]["status"] == "ok" and outcome["task"]["valid"], describe(outcome)
    assert outcome["task"]["scores"]["roc_auc"] == 0.5, describe(outcome)
    assert_not_forged(outcome)


def test_c_the_printed_environment_holds_no_secret(attacks):
    outcome = attacks["c_prints_environment"]
    stdout = outcome["stdout"]
    assert "ENVIRONMENT-FOLLOWS" in stdout and "DATA_DIR =" in stdout and "PROC 1 " in stdout, describe(outcome)
    for secret in (TOKEN, AWS_SECRET, "MLEB_SERVER_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        assert secret not in stdout and secret not in outcome["stderr"], secret
    assert outcome["task"]["valid"] and outcome["task"]["scores"]["roc_auc"] == 0.5, describe(outcome)


def test_d_links_named_like_artifacts_are_refused_and_never_read(attacks, reference, server):
    outcome = attacks["d_planted_artifact_links"]
    assert "VERDICT planted" in outcome["stdout"], describe(outcome)
    assert_not_forged(outcome)
    assert not outcome["task"]["valid"] and outcome["ingestion"]["status"] == "failed", describe(outcome)
    message = outcome["ingestion"]["message"]
    assert message.startswith("what the program left cannot be used: the working folder/") and \
        ": is a symbolic link" in message, describe(outcome)
    assert "is a symbolic link" in outcome["task"]["error"], describe(outcome)
    task_dir = server.runs_dir / outcome["run_id"] / "tasks" / TASK
    for name in ("scores.json", "detailed_results.html", "logs", "result.json"):  # ours, where they exist
        assert not (task_dir / name).is_symlink(), name
    state = Path(reference["state"])
    assert state.stat().st_ino == reference["state_inode"] and not state.is_symlink()


def test_e_a_fork_bomb_stops_at_the_process_limit(attacks):
    limit = process_limit()
    outcome = attacks["e_fork_bomb"]
    assert outcome["ingestion"]["status"] == "limit", describe(outcome)
    expected = f"baseline.py was stopped at a limit of this task: processes: ran more than {limit} processes at once"
    assert outcome["ingestion"]["message"].startswith(expected), describe(outcome)
    assert expected in outcome["task"]["error"], describe(outcome)
    assert not outcome["task"]["valid"], describe(outcome)
    assert processes_with(BOMB_MARK) == []  # the run is over: run_process returns once its cgroup is empty


def test_f_run_internals_are_404(server, reference, attacks):
    task_dir = server.runs_dir / reference["run_id"] / "tasks" / TASK
    assert (task_dir / "run" / "scoring" / "input" / "ref" / "test_labels.csv").is_file()  # there, and not served
    for run_id in (reference["run_id"], attacks["a_symlinked_predictions"]["run_id"]):
        for path in ("run/scoring/input/ref/test_labels.csv", "run/prediction/output/ingestion_result.json",
                     "run/prediction/output/predictions/predictions.csv", "work/upload/baseline.py", "work", "run"):
            response = httpx.get(f"{server.url}/runs/{run_id}/artifacts/{TASK}/{path}", headers=server.auth())
            assert response.status_code == 404, (path, response.text[:300])
            assert set(response.json()) == {"error", "details"} and path in response.json()["error"]
            assert reference["answers_body"] not in response.content


# --- what every run left -------------------------------------------------------------------------------------

def leaks(data: bytes, reference: dict) -> list[str]:
    secrets_ = {"the answers": reference["answers_bytes"], "the answers' rows": reference["answers_body"],
                "the token": TOKEN.encode(), "the AWS key": AWS_SECRET.encode(), "state.sqlite": SQLITE_HEADER,
                "the canary": CANARY}
    return [name for name, secret in secrets_.items() if secret in data]


def test_nothing_served_leaks_and_no_host_file_changed(server, client, reference, attacks):
    run_ids = [reference["run_id"]] + [outcome["run_id"] for outcome in attacks.values()]
    for run_id in run_ids:
        listed = client.list_artifacts(run_id)
        assert f"{TASK}/logs/submission_stdout.txt" in listed and f"{TASK}/result.json" in listed, (run_id, listed)
        for name in listed:
            data = client._request("GET", f"/runs/{run_id}/artifacts/{name}").content
            assert leaks(data, reference) == [], (run_id, name)
        metrics = client._request("GET", f"/runs/{run_id}/metrics").content
        with zipfile.ZipFile(io.BytesIO(metrics)) as archive:
            for member in archive.namelist():
                assert leaks(archive.read(member), reference) == [], (run_id, member)
    # the host's files: the canary, the cached answers and the server's state, as they were
    canary = Path(reference["canary"])
    assert canary.read_bytes() == CANARY
    assert (canary.stat().st_mtime_ns, canary.stat().st_ino) == (reference["canary_stat"].st_mtime_ns,
                                                                 reference["canary_stat"].st_ino)
    answers = Path(reference["answers"])
    assert answers.read_bytes() == reference["answers_bytes"]
    assert answers.stat().st_mtime_ns == reference["answers_stat"].st_mtime_ns
    state = os.lstat(reference["state"])
    assert stat.S_ISREG(state.st_mode) and state.st_nlink == 1 and state.st_ino == reference["state_inode"]
    assert Path(reference["state"]).read_bytes()[:16] == SQLITE_HEADER
    with contextlib.closing(sqlite3.connect(f"file:{reference['state']}?mode=ro", uri=True)) as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert set(run_ids) <= {run["run_id"] for run in client.list_runs()}
    assert sorted(p.name for p in server.runs_dir.parent.iterdir()) == reference["host_listing"]
