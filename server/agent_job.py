"""A job's agent part: run the agent on the task's bundle (sandboxed, agentlib), keep its rollout as artifacts,
and hand its submission to the grading that follows (server/job.py), exactly as an upload's.

Artifacts: rollout.json (the record: status, message, wall time, memory, exit code; the agent's reported usage)
and rollout.zip (what it left in /home/submission, /home/code and /home/logs, and what it printed).
"""
from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

from agentlib.definition import find_agent
from agentlib.rollout import ROLLOUT_FILE, Rollout
from agentlib.run import RolloutError, run_agent
from programlib.transfer import copy_file_out

ROLLOUT_ARTIFACTS = ("rollout.json", "rollout.zip")
ROLLOUT_PARTS = ("submission", "code", "logs", "agent_stdout.txt", "agent_stderr.txt", ROLLOUT_FILE)
USAGE_FILE = "logs/usage.json"  # what an agent may report of its LLM use: {"tokens": {...}, "cost_usd": ...}
USAGE_MAX_BYTES = 64 * 1024


def agent_submission(spec: dict, bundle_path: Path, project, task_dir: Path, result: dict, *, sandbox: bool,
                     log) -> Path | None:
    """Run the run's agent on this task; its submission folder, or None when it left nothing."""
    agent = find_agent(spec["agent_id"], project.root / "agents")
    # env: the job's environment, that is the server's: the agent receives only the variables its definition names
    rollout = run_agent(agent, spec.get("variant"), bundle_path, task_dir / "rollout",
                        time_limit=spec.get("agent_time_limit"), sandbox=sandbox, log=log)
    if rollout.status == "sandbox_unavailable":  # never ran: the server's fault, not a grade
        raise RolloutError(rollout.message)
    result["agent"] = agent_record(rollout, spec.get("attempt", 0))
    result["artifacts"] = keep_rollout(rollout.folder, task_dir)
    return rollout.submission_dir if rollout.submission_files else None


def agent_record(rollout: Rollout, attempt: int) -> dict:
    return {"agent": rollout.agent, "variant": rollout.variant, "attempt": attempt, "status": rollout.status,
            "message": rollout.message, "exit_code": rollout.exit_code, "wall_seconds": rollout.wall_seconds,
            "time_limit": rollout.time_limit, "peak_memory_mb": rollout.peak_memory_mb,
            "submission_files": rollout.submission_files, "env_missing": rollout.env_missing,
            "warnings": rollout.warnings, "usage": reported_usage(rollout.folder / USAGE_FILE)}


def reported_usage(path: Path) -> dict | None:
    """The agent's own account of its tokens and cost, if it wrote one: numbers only (it is the agent's word,
    read from a plain file it left; anything else in it is dropped)."""
    if not path.is_file() or path.is_symlink() or path.stat().st_size > USAGE_MAX_BYTES:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return numbers_only(data) if isinstance(data, dict) else None


def numbers_only(data: dict, depth: int = 0) -> dict:
    kept = {}
    for key, value in list(data.items())[:50]:
        if isinstance(value, bool) or not isinstance(key, str) or len(key) > 64:
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            kept[key] = value
        elif isinstance(value, dict) and depth < 2:
            kept[key] = numbers_only(value, depth + 1)
    return kept


def keep_rollout(rollout_dir: Path, task_dir: Path) -> list[str]:
    """rollout.json at the top of the task folder, and rollout.zip of what the agent left and printed."""
    # trusted: ours (run_agent's record), copied without following a link
    copy_file_out(rollout_dir / ROLLOUT_FILE, task_dir / "rollout.json", below=rollout_dir)
    # trusted: a new file of ours; what goes in are plain files copy_out made (links and FIFOs never left the sandbox)
    with zipfile.ZipFile(task_dir / "rollout.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for part in ROLLOUT_PARTS:
            path = rollout_dir / part
            paths = sorted(path.rglob("*")) if path.is_dir() and not path.is_symlink() else [path]
            for file in paths:  # plain files only: copy_out let nothing else out of the sandbox
                if file.is_file() and not file.is_symlink():
                    archive.write(file, file.relative_to(rollout_dir).as_posix())
    return list(ROLLOUT_ARTIFACTS)
