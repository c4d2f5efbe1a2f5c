"""The agents' leaderboard, MLE-bench style: per task and agent, the primary score's mean ± std over seeds and how
often it earns a medal; over a set of tasks, the share of tasks with any medal (mean ± std over seeds).

A medal is what the task's thresholds (bundle.json) define: gold, silver or bronze where it has them (real data,
from Kaggle's leaderboard); a task with no medal thresholds counts reaching its reference solution's score as its
medal (the synthetic tasks' bar). An invalid or missing submission earns nothing and scores as absent.
"""
from __future__ import annotations

import statistics
from collections import defaultdict

from .entries import entry_seed, entry_task, run_entries

MEDALS = ("gold", "silver", "bronze")


def reaches(score: float, level: float, sorting: str) -> bool:
    return score >= level if sorting != "asc" else score <= level


def medal(score: float | None, thresholds: dict, sorting: str) -> str | None:
    """gold/silver/bronze where the task defines them, else 'reference' when the reference score is reached."""
    if score is None:
        return None
    if any(name in thresholds for name in MEDALS):
        return next((name for name in MEDALS if name in thresholds and reaches(score, thresholds[name], sorting)),
                    None)
    if "reference" in thresholds and (reaches(score, thresholds["reference"], sorting)
                                      or abs(score - thresholds["reference"]) < 5e-5):
        return "reference"
    return None


def mean_std(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}


def attempts(runs: list[dict], tasks: set[str] | None) -> list[dict]:
    """Every graded agent attempt: one per (run, task, seed) of an agent run whose job finished."""
    found = []
    for run in runs:
        spec = run["spec"]
        if not spec.get("agent_id"):
            continue
        by_key = {task["task"]: task for task in run["tasks"]}
        for key in run_entries(spec):
            entry, task = by_key.get(key), entry_task(key)
            if entry is None or entry["status"] not in ("completed", "failed") or (tasks and task not in tasks):
                continue
            result = entry.get("result") or {}
            score = (result.get("scores") or {}).get(result.get("primary")) if result.get("valid") else None
            sorting = result.get("sorting") or "desc"
            found.append({"agent": spec["agent_id"], "variant": spec.get("variant") or "default", "task": task,
                          "replicate": (run["run_id"], entry_seed(key)), "score": score, "sorting": sorting,
                          "medal": medal(score, result.get("thresholds") or {}, sorting)})
    return found


def leaderboard(runs: list[dict], tasks: list[str] | None = None) -> dict:
    """Agents ranked by their share of tasks with a medal, then per task by mean primary score."""
    chosen = set(tasks) if tasks else None
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for attempt in attempts(runs, chosen):
        groups[(attempt["agent"], attempt["variant"])].append(attempt)
    rows = [agent_row(agent, variant, found) for (agent, variant), found in groups.items()]
    rows.sort(key=lambda row: (-(row["any_medal"]["mean"] or 0.0), row["agent"], row["variant"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    names = sorted(chosen or {a["task"] for found in groups.values() for a in found})
    return {"competitions": names, "agents": rows, "by_task": {task: task_ranking(rows, task) for task in names}}


def agent_row(agent: str, variant: str, found: list[dict]) -> dict:
    per_task: dict[str, list[dict]] = defaultdict(list)
    per_replicate: dict[tuple, list[dict]] = defaultdict(list)
    for attempt in found:
        per_task[attempt["task"]].append(attempt)
        per_replicate[attempt["replicate"]].append(attempt)
    tasks = {}
    for task, attempts_of_task in sorted(per_task.items()):
        scores = [a["score"] for a in attempts_of_task if a["score"] is not None]
        tasks[task] = {"score": mean_std(scores), "sorting": attempts_of_task[0]["sorting"],
                       "attempts": len(attempts_of_task), "valid": len(scores),
                       "medals": sum(a["medal"] is not None for a in attempts_of_task),
                       "medal_share": sum(a["medal"] is not None for a in attempts_of_task) / len(attempts_of_task)}
    # MLE-bench's headline: per seed, the share of its tasks with any medal; then mean ± std over the seeds
    shares = [sum(a["medal"] is not None for a in group) / len(group) for group in per_replicate.values()]
    return {"agent": agent, "variant": variant, "any_medal": mean_std(shares), "tasks": tasks}


def task_ranking(rows: list[dict], task: str) -> list[dict]:
    ranked = [{"agent": row["agent"], "variant": row["variant"], **row["tasks"][task]}
              for row in rows if task in row["tasks"]]
    def order(item: dict) -> tuple:
        mean = item["score"]["mean"]
        better = float("inf") if mean is None else (-mean if item["sorting"] != "asc" else mean)
        return -item["medal_share"], better

    ranked.sort(key=order)
    return ranked
