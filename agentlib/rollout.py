"""A rollout: one agent's run on one task, kept as artifacts in its own folder.

    rollout.json                  the record below (agent, variant, task, status, message, time, memory, grade)
    submission/ code/ logs/       what the agent left in /home/submission, /home/code and /home/logs, copied out
                                  through the sandbox's one door (regular files and folders only, no link followed)
    agent_stdout.txt              what the agent printed (stdout), and agent_stderr.txt
    grading/                      the local compute worker's run of the submission (grade_rollout)

Statuses: completed (exited 0 and left a submission), failed (a non-zero exit, a limit of its resources, or output
that cannot leave the sandbox), timed_out (stopped at its time limit), no_submission (exited 0, left nothing),
sandbox_unavailable (bubblewrap cannot confine it here: it never ran).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from programlib.runner import ProcessResult, tail
from programlib.transfer import replace_atomically

ROLLOUT_FILE = "rollout.json"
OUTPUTS = ("submission", "code", "logs")  # the home's folders a rollout keeps
STATUSES = ("completed", "failed", "timed_out", "no_submission", "sandbox_unavailable")


@dataclass
class Rollout:
    folder: Path
    agent: str
    variant: str
    task: str
    bundle: str
    status: str = "failed"
    message: str = ""
    exit_code: int | None = None
    wall_seconds: float = 0.0
    time_limit: float | None = None
    peak_memory_mb: float | None = None  # the cgroup's peak (sampled without cgroups); None: never measured
    resources: dict = field(default_factory=dict)
    network: str = "none"
    env_passed: list[str] = field(default_factory=list)  # names only: the values (keys) are never recorded
    env_missing: list[str] = field(default_factory=list)  # env_vars the server's environment did not have
    submission_files: list[str] = field(default_factory=list)
    code_files: list[str] = field(default_factory=list)
    log_files: list[str] = field(default_factory=list)
    protections: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    started_at: str = ""
    grade: dict | None = None

    @property
    def submission_dir(self) -> Path:
        return self.folder / "submission"

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def record(self) -> dict:
        data = asdict(self)
        data.pop("folder")
        return data

    def save(self) -> None:
        # trusted: the rollout folder itself is never visible to the agent (only its home, which is gone by now)
        replace_atomically(self.folder / ROLLOUT_FILE, (json.dumps(self.record(), indent=2) + "\n").encode())

    @classmethod
    def load(cls, folder: Path) -> "Rollout":
        data = json.loads((folder / ROLLOUT_FILE).read_text())
        known = {item.name for item in fields(cls)}
        return cls(folder=folder, **{key: value for key, value in data.items() if key in known})


def files_under(folder: Path) -> list[str]:
    """Relative paths of the files of a folder copied out through the door (regular files only by then)."""
    if not folder.is_dir():
        return []
    found = []
    for parent, _dirs, names in os.walk(folder):
        found += [(Path(parent) / name).relative_to(folder).as_posix() for name in names]
    return sorted(found)


def decide(process: ProcessResult, copy_problems: list[str], submission: list[str],
           expected: list[str]) -> tuple[str, str]:
    """(status, message) of a finished agent process."""
    left = f"; what it left cannot be used: {'; '.join(copy_problems)}" if copy_problems else ""
    if process.limit_hit:
        return "failed", f"the agent was stopped at a limit of its resources: {process.limit_hit}{left}"
    if process.timed_out:
        return "timed_out", (f"the agent did not finish within its time limit of {process.time_limit:g} s and was "
                             f"stopped with everything it started{left}")
    if process.stopped:
        return "failed", f"the agent was stopped on request after {process.duration:.1f} s{left}"
    if process.exit_code != 0:
        said = tail(process.stderr_path) or "(nothing)"
        return "failed", f"the agent exited with code {process.exit_code}{left}; the end of its error output:\n{said}"
    if copy_problems:
        return "failed", f"what the agent left cannot be used: {'; '.join(copy_problems)}"
    if not submission:
        return "no_submission", "the agent exited cleanly but left nothing in /home/submission/"
    missing = [name for name in expected if name not in submission]
    lacks = f" (it lacks {', '.join(missing)}, which the task expects)" if missing else ""
    return "completed", f"the agent finished in {process.duration:.1f} s; submission: {', '.join(submission)}{lacks}"
