"""Agents through the benchmark server (issue 14): prepare → agent → grade with the real server, the real SDK and
real sandboxed agents; rollouts as artifacts; the leaderboard; agents that misbehave end with a clear status while
the other tasks of their run complete."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, copy_project
from programlib.sandbox import probe
from sdk.client import BadRequest, Client
from test_server import Server

pytestmark = pytest.mark.skipif(probe() is not None, reason=f"bubblewrap cannot confine agents here: {probe()}")
LITE = [line.strip() for line in (ROOT / "splits" / "lite.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")]
BUILT_IN = ("dummy", "reference", "starting-kit")
TWO = ["churn-spec", "tabular-baseline"]  # the misbehaving agent misbehaves on the first only


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A project of the lite tasks, with the built-in agents and the test's misbehaving one."""
    project = copy_project(tmp_path_factory.mktemp("agents-project"), tasks=tuple(LITE)).root
    (project / "splits").symlink_to(ROOT / "splits")
    runs = tmp_path_factory.mktemp("agents-server") / "runs"
    agents = project / "agents"
    agents.mkdir()
    for agent in BUILT_IN:
        (agents / agent).symlink_to(ROOT / "agents" / agent)
    for test_agent in ("misbehaving", "scripted-coder"):
        shutil.copytree(ROOT / "tests" / "agents" / test_agent, agents / test_agent)
    definition = agents / "misbehaving" / "agent.yaml"
    data = yaml.safe_load(definition.read_text())
    data["variants"]["peek"]["env"] = {"SERVER_RUNS_DIR": str(runs)}  # where the answers are cached, on the host
    definition.write_text(yaml.safe_dump(data, sort_keys=False))
    running = Server(project, runs, workers=2).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server):
    with Client(server.url) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def lite_runs(client) -> dict[str, str]:
    """The user's call, for each built-in agent: run(competitions=<split>, agent_id=..., lite=True)."""
    runs = {agent: client.run(competitions="splits/lite.txt", agent_id=agent, lite=True) for agent in BUILT_IN}
    for run_id in runs.values():
        assert client.wait(run_id, timeout=1200, progress=False)["status"] == "completed"
    return runs


def test_the_built_in_agents_run_over_the_lite_split(client, lite_runs):
    for agent, run_id in lite_runs.items():
        summary = client.get_run_summary(run_id)
        assert summary["solution"] == f"agent:{agent}" and summary["scale"] == "tiny" and summary["lite"] is True
        assert [task["task"] for task in summary["tasks"]] == LITE
        for task in summary["tasks"]:
            assert task["agent"]["status"] == "completed", (agent, task["task"], task["agent"]["message"])
            assert task["valid"], (agent, task["task"], task["error"])
            assert {"rollout.json", "rollout.zip", "scores.json"} <= set(task["artifacts"])
            if agent == "reference":  # the bundle's solution, through the agent path, still reaches its reference
                assert task["score"] == pytest.approx(task["thresholds"]["reference"], rel=0.05, abs=1e-9)


def test_a_rollout_is_downloadable_with_what_the_agent_left(client, lite_runs, tmp_path):
    folder = client.download_rollout(lite_runs["dummy"], "eda-notebook", tmp_path / "rollout")
    record = json.loads((folder / "rollout.json").read_text())
    assert record["agent"] == "dummy" and record["status"] == "completed" and record["wall_seconds"] > 0
    assert (folder / "submission" / "eda.ipynb").is_file() and (folder / "code" / "main.py").is_file()
    log = (folder / "logs" / "dummy.log").read_text()
    assert "uid 65534 (not root)" in log and "private data" in log and "FAIL" not in log


def test_the_leaderboard_ranks_the_agents(client, lite_runs):
    board = client.leaderboard("splits/lite.txt")
    assert board["competitions"] == sorted(LITE)
    rows = {row["agent"]: row for row in board["agents"]}
    assert set(BUILT_IN) <= set(rows)
    # the reference solution reaches every task's reference score (the synthetic tasks' medal); the sample does not
    assert rows["reference"]["any_medal"] == {"mean": 1.0, "std": 0.0, "n": 1} and rows["reference"]["rank"] == 1
    assert rows["dummy"]["any_medal"]["mean"] == 0.0
    for task in LITE:
        ranking = [item["agent"] for item in board["by_task"][task] if item["agent"] in BUILT_IN]
        assert ranking[0] == "reference", (task, ranking)
        assert board["by_task"][task][0]["score"]["n"] == 1


def test_a_scripted_coding_agent_is_graded_end_to_end(client, tmp_path):
    """Like an LLM agent: reads the instructions, writes code into /home/code, runs it, checks the format, submits."""
    run_id = client.run(competitions=["tabular-baseline"], agent_id="scripted-coder", scale="tiny")
    assert client.wait(run_id, timeout=300, progress=False)["status"] == "completed"
    [task] = client.get_run_summary(run_id)["tasks"]
    assert task["agent"]["status"] == "completed" and task["valid"], task
    assert task["score"] > task["thresholds"]["trivial"]
    folder = client.download_rollout(run_id, "tabular-baseline", tmp_path / "rollout")
    assert list((folder / "code").glob("attempt_*.py")) and (folder / "submission" / "baseline.py").is_file()
    assert "validate_submission.sh: exit code 0" in (folder / "logs" / "steps.log").read_text()  # format valid


@pytest.mark.parametrize("variant, status, words", [
    ("crash", "failed", "exited with code 3"),
    ("overrun", "timed_out", "did not finish within its time limit of 6 s"),
    ("nothing", "no_submission", "left nothing in /home/submission/"),
])
def test_a_misbehaving_agent_ends_clearly_and_the_other_task_completes(client, variant, status, words):
    run_id = client.run(competitions=TWO, agent_id="misbehaving", variant=variant, scale="tiny")
    assert client.wait(run_id, timeout=300, progress=False)["status"] == "completed"
    bad, other = client.get_run_summary(run_id)["tasks"]
    assert bad["agent"]["status"] == status and words in bad["agent"]["message"], bad["agent"]
    assert not bad["valid"] and "the agent left no submission" in bad["error"]
    assert other["agent"]["status"] == "completed" and other["valid"], other


def test_an_agent_hunting_for_the_answers_finds_nothing(client, server, tmp_path):
    run_id = client.run(competitions=TWO, agent_id="misbehaving", variant="peek", scale="tiny")
    assert client.wait(run_id, timeout=300, progress=False)["status"] == "completed"
    cached = sorted((server.runs_dir / "cache" / "churn-spec").rglob("private/facts.json"))
    assert cached, "the answers are on the host, in the server's data cache"
    seen = json.loads((client.download_rollout(run_id, "churn-spec", tmp_path / "r") / "logs" / "peek.json")
                      .read_text())
    assert seen == {"runs_dir_visible": False, "answers_found": []}
    assert client.get_run_summary(run_id)["tasks"][0]["valid"]  # it submitted the sample: graded as usual


def test_several_seeds_are_several_attempts(client, tmp_path):
    run_id = client.run(competitions=["churn-spec"], agent_id="dummy", seeds=2, scale="tiny")
    assert client.wait(run_id, timeout=300, progress=False)["status"] == "completed"
    tasks = client.get_run_summary(run_id)["tasks"]
    assert [task["task"] for task in tasks] == ["churn-spec@0", "churn-spec@1"]
    assert [task["agent"]["attempt"] for task in tasks] == [0, 1] and all(task["valid"] for task in tasks)
    assert (client.download_rollout(run_id, "churn-spec@1", tmp_path / "r") / "rollout.json").is_file()
    row = next(r for r in client.leaderboard(["churn-spec"])["agents"] if r["agent"] == "dummy")
    assert row["tasks"]["churn-spec"]["attempts"] >= 2


def test_bad_agent_requests_are_refused_with_the_reason(client):
    with pytest.raises(BadRequest, match="no agent 'nobody'.*known: .*dummy"):
        client.run(competitions=TWO, agent_id="nobody")
    with pytest.raises(BadRequest, match="no variant 'fast'"):
        client.run(competitions=TWO, agent_id="dummy", variant="fast")
    with pytest.raises(BadRequest, match="an agent_id or a solution, not both"):
        client.run(competitions=TWO, agent_id="dummy", solution="reference")
    with pytest.raises(BadRequest, match="split file 'splits/nope.txt' not found"):
        client.run(competitions="splits/nope.txt", agent_id="dummy")
    listed = {agent["id"]: agent for agent in client.list_agents()}
    assert set(BUILT_IN) | {"misbehaving", "scripted-coder"} <= set(listed)
    assert listed["misbehaving"]["variants"] == ["default", "crash", "overrun", "nothing", "peek"]
