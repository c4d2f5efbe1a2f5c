"""A run's summary: per task, its scores, whether the submission was valid, the error, the time taken,
and the task's medal-style reference points where it defines them."""
from __future__ import annotations


def task_summary(task: dict) -> dict:
    result = task.get("result") or {}
    return {
        "task": task["task"],
        "status": task["status"],
        "valid": bool(result.get("valid")),
        "primary": result.get("primary"),
        "score": (result.get("scores") or {}).get(result.get("primary")) if result.get("primary") else None,
        "scores": result.get("scores"),
        "error": result.get("error"),
        "warnings": result.get("warnings") or [],
        "duration": result.get("duration"),
        "thresholds": result.get("thresholds") or {},
        "placement": result.get("placement"),
        "artifacts": result.get("artifacts") or [],
        "agent": result.get("agent"),  # an agent run: its rollout's status, message, time, memory, usage
    }


def run_summary(run: dict) -> dict:
    tasks = [task_summary(task) for task in run["tasks"]]
    return {
        "run_id": run["run_id"],
        "status": run["status"],
        "message": run["message"],
        "solution": solution_of(run["spec"]),
        "agent_id": run["spec"].get("agent_id"),
        "variant": run["spec"].get("variant"),
        "seeds": run["spec"].get("seeds", 1),
        "lite": run["spec"].get("lite", False),
        "scale": run["spec"].get("scale"),
        "tasks": tasks,
        "valid": sum(task["valid"] for task in tasks),
        "total": len(tasks),
    }


def solution_of(spec: dict) -> str:
    if spec.get("agent_id"):
        return f"agent:{spec['agent_id']}"
    return spec["solution"] if isinstance(spec["solution"], str) else "upload"
