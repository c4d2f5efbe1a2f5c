"""The agents' leaderboard arithmetic (server/leaderboard.py) on stored runs as the state database returns them."""
from __future__ import annotations

import pytest

from server.leaderboard import leaderboard, medal

KAGGLE = {"gold": 0.9, "silver": 0.8, "bronze": 0.7, "median": 0.5}
SYNTHETIC = {"trivial": 0.2, "reference": 0.85}


def entry(key: str, score: float | None, thresholds: dict, sorting: str = "desc", status: str = "completed") -> dict:
    result = {"valid": score is not None, "primary": "score", "scores": {"score": score} if score is not None else None,
              "thresholds": thresholds, "sorting": sorting}
    return {"task": key, "status": status, "result": result}


def run(run_id: str, agent: str, entries: list[dict], seeds: int = 1, variant: str | None = None) -> dict:
    tasks = sorted({e["task"].split("@")[0] for e in entries})
    return {"run_id": run_id, "status": "completed", "tasks": entries,
            "spec": {"agent_id": agent, "variant": variant, "seeds": seeds, "competitions": tasks,
                     "entries": [e["task"] for e in entries]}}


def test_medals_follow_the_task_thresholds_and_direction():
    assert [medal(s, KAGGLE, "desc") for s in (0.95, 0.85, 0.75, 0.6, None)] == ["gold", "silver", "bronze", None, None]
    assert medal(0.85, SYNTHETIC, "desc") == "reference" and medal(0.84, SYNTHETIC, "desc") is None
    assert medal(0.3, {"bronze": 0.5}, "asc") == "bronze" and medal(0.6, {"bronze": 0.5}, "asc") is None  # an RMSE


def test_seeds_give_mean_and_std_and_the_medal_share_per_seed():
    runs = [run("r1", "a", [entry("t1@0", 0.95, KAGGLE), entry("t1@1", 0.75, KAGGLE),
                            entry("t2@0", 0.9, SYNTHETIC), entry("t2@1", 0.1, SYNTHETIC)], seeds=2),
            run("r2", "b", [entry("t1", 0.6, KAGGLE), entry("t2", None, SYNTHETIC)])]
    board = leaderboard(runs)
    first, second = board["agents"]
    assert (first["agent"], first["rank"], second["agent"], second["rank"]) == ("a", 1, "b", 2)
    # seed 0: both tasks earn a medal (1.0); seed 1: t1 a bronze, t2 nothing (0.5)
    assert first["any_medal"] == {"mean": 0.75, "std": 0.25, "n": 2}
    assert first["tasks"]["t1"]["score"] == {"mean": pytest.approx(0.85), "std": pytest.approx(0.1), "n": 2}
    assert second["tasks"]["t2"] == {"score": {"mean": None, "std": None, "n": 0}, "sorting": "desc", "attempts": 1,
                                     "valid": 0, "medals": 0, "medal_share": 0.0}  # invalid: no score, no medal
    assert [item["agent"] for item in board["by_task"]["t1"]] == ["a", "b"]


def test_a_task_filter_and_runs_without_agents_or_results():
    runs = [run("r1", "a", [entry("t1", 0.95, KAGGLE), entry("t2", 0.1, SYNTHETIC, status="running")]),
            {"run_id": "r2", "status": "completed", "tasks": [entry("t1", 1.0, KAGGLE)],
             "spec": {"solution": "reference", "competitions": ["t1"]}}]
    board = leaderboard(runs, ["t1"])
    assert board["competitions"] == ["t1"] and [row["agent"] for row in board["agents"]] == ["a"]
    assert board["agents"][0]["tasks"]["t1"]["attempts"] == 1  # the reference run is not an agent's attempt
    assert leaderboard(runs, ["t2"])["agents"] == []  # a task still running counts for nothing yet
