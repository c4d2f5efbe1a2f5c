"""A run's entries: what one job does, a task, or with several seeds (MLE-bench's repeated runs of an agent on a
task), one (task, seed) pair each. An entry's key names its folder (runs/<run>/tasks/<key>), its row in the
state database and its artifacts' paths: the task id for a run of one seed, `<task>@<seed>` otherwise."""
from __future__ import annotations

SEED_MARK = "@"  # never in a task id (bundle.yaml's id: lowercase letters, digits and dashes)


def entry_keys(tasks: list[str], seeds: int) -> list[str]:
    """Task by task, each task's seeds in order."""
    if seeds == 1:
        return list(tasks)
    return [f"{task}{SEED_MARK}{seed}" for task in tasks for seed in range(seeds)]


def entry_task(key: str) -> str:
    return key.split(SEED_MARK, 1)[0]


def entry_seed(key: str) -> int:
    _task, _mark, seed = key.partition(SEED_MARK)
    return int(seed) if seed else 0


def run_entries(spec: dict) -> list[str]:
    """A run's entry keys (a run stored before seeds existed has one entry per task)."""
    return spec.get("entries") or spec["competitions"]
