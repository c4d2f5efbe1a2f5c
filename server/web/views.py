"""What the pages show, computed from the store's rows with the API's own functions (progress, run_summary,
leaderboard, medal, placement), so a page says exactly what the JSON API says."""
from __future__ import annotations

import threading
import time
import weakref
from pathlib import Path

from bundlegen.worker import placement

from ..entries import entry_task
from ..leaderboard import leaderboard, medal
from ..routes.runs import MLE_BENCH_SPLITS, progress, read_split
from ..summary import run_summary, solution_of

STATUSES = ("queued", "running", "completed", "failed", "cancelled", "interrupted")
UNFINISHED = ("queued", "running")
CUSTOM = "custom"  # a run whose tasks are no split file's


_runs_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # {store: (its data_version, its runs())}
_runs_lock = threading.Lock()


def stored_runs(store) -> list[dict]:
    """store.runs(), read again only once something was written since: what GET /runs and GET /leaderboard read,
    without decoding every result of every run on each page view. Shared: never to be modified."""
    version = store.data_version()  # read before the runs: a write in between only makes the next call read again
    with _runs_lock:
        cached = _runs_cache.get(store)
    if cached and cached[0] == version:
        return cached[1]
    runs = store.runs()
    with _runs_lock:
        _runs_cache[store] = (version, runs)
    return runs


def splits(root: Path) -> dict[str, list[str]]:
    """{'splits/lite.txt': its tasks} for every split file of the project."""
    folder = root / "splits"
    return {f"splits/{path.name}": read_split(root, f"splits/{path.name}") for path in sorted(folder.glob("*.txt"))}


def split_of(spec: dict, known: dict[str, list[str]]) -> str:
    """The split a run was asked for: its competition_set, else the split file listing exactly its tasks."""
    if spec.get("competition_set"):
        return MLE_BENCH_SPLITS.get(spec["competition_set"], spec["competition_set"])
    tasks = spec["competitions"]
    return next((name for name, listed in known.items() if listed == tasks), None) or \
        next((name for name, listed in known.items() if sorted(listed) == sorted(tasks)), CUSTOM)


def elapsed(run: dict, now: float) -> float:
    """Seconds from the run's creation to now while it goes, to its last task's end (or start: a cancelled one) once
    it has ended."""
    if run["status"] in UNFINISHED:
        return max(0.0, now - run["created"])
    ends = [task["finished"] or task["started"] for task in run["tasks"] if task["finished"] or task["started"]]
    return max(0.0, max(ends, default=run["created"]) - run["created"])


def run_row(run: dict, known: dict[str, list[str]], now: float) -> dict:
    counts = progress(run)
    counts["queued"] = sum(task["status"] == "queued" for task in run["tasks"])
    spec = run["spec"]
    return {"run_id": run["run_id"], "created": run["created"], "status": run["status"], "message": run["message"],
            "agent": spec.get("agent_id"), "variant": spec.get("variant") or ("default" if spec.get("agent_id")
                                                                              else None),
            "solution": solution_of(spec), "split": split_of(spec, known), "lite": bool(spec.get("lite")),
            "seeds": spec.get("seeds", 1), "scale": spec.get("scale"), "progress": counts,
            "elapsed": elapsed(run, now), "live": run["status"] in UNFINISHED,
            "cancellable": run["status"] in UNFINISHED, "resumable": run["status"] in ("interrupted", "cancelled")}


def run_rows(runs: list[dict], root: Path, filters: dict) -> tuple[list[dict], dict]:
    """The rows the filters keep (newest first, as GET /runs lists them) and the filters' choices."""
    known, now = splits(root), time.time()
    rows = [run_row(run, known, now) for run in runs]
    choices = {"agent": sorted({row["agent"] for row in rows if row["agent"]}),
               "split": sorted(known) + [CUSTOM], "status": list(STATUSES)}
    kept = [row for row in rows if keeps(row, filters)]
    return kept, choices


def keeps(row: dict, filters: dict) -> bool:
    agent, split, status = filters.get("agent"), filters.get("split"), filters.get("status")
    if agent and (row["agent"] or "(no agent)") != agent:
        return False
    return (not split or row["split"] == split) and (not status or row["status"] == status)


def band(score: float | None, thresholds: dict, sorting: str | None) -> dict:
    """A score's place among the task's thresholds: the leaderboard's medal (server/leaderboard.py), else how it
    stands to the trivial baseline, with the worker's placement text (bundlegen/worker.py) as the detail."""
    sorting = sorting or "desc"
    if score is None:
        return {"label": "no score", "css": "none", "text": "no valid score"}
    text = placement(score, {"thresholds": thresholds, "sorting": sorting, "scale": None,
                             "thresholds_scale": None}) if thresholds else "no thresholds"
    won = medal(score, thresholds, sorting)
    if won:
        return {"label": won, "css": won, "text": text}
    for relation, label, css in (("beats", "beats trivial", "above-trivial"), ("matches", "at trivial", "none"),
                                 ("does not beat", "below trivial", "below")):
        if f"{relation} the trivial" in text:
            return {"label": label, "css": css, "text": text}
    return {"label": "no medal", "css": "below", "text": text}


def task_rows(run: dict, artifacts: list[str], now: float) -> list[dict]:
    """The run summary's tasks (GET /runs/{id}/summary), each with its band, duration and artifact links."""
    summary = run_summary(run)
    links: dict[str, list[str]] = {}
    for path in artifacts:
        key, _, name = path.partition("/")
        links.setdefault(key, []).append(name)
    rows = []
    for task, stored in zip(summary["tasks"], run["tasks"]):
        duration = task["duration"]
        if duration is None and stored["status"] == "running" and stored["started"]:
            duration = now - stored["started"]
        failed = task["status"] == "failed" or (task["error"] and task["status"] != "running")
        rows.append({**task, "task_id": entry_task(task["task"]), "duration": duration, "failed": bool(failed),
                     "band": band(task["score"], task["thresholds"], (stored["result"] or {}).get("sorting")),
                     "links": sorted(links.get(task["task"], []), key=artifact_order)})
    return rows


ARTIFACT_ORDER = ("detailed_results.html", "scores.json", "job.log", "submission.zip", "rollout.json", "rollout.zip")


def artifact_order(name: str) -> tuple:
    return (ARTIFACT_ORDER.index(name) if name in ARTIFACT_ORDER else len(ARTIFACT_ORDER), name)


def run_view(run: dict, artifacts: list[str], root: Path) -> dict:
    now = time.time()
    tasks = task_rows(run, artifacts, now)
    return {"row": run_row(run, splits(root), now), "tasks": tasks, "failures": [t for t in tasks if t["failed"]],
            "spec": run["spec"]}


def task_thresholds(runs: list[dict]) -> dict[str, tuple[dict, str]]:
    """Per task, the thresholds and sorting its latest graded agent attempt was ranked with."""
    found: dict[str, tuple[dict, str]] = {}
    for run in reversed(runs):  # oldest first: the newest wins
        if not run["spec"].get("agent_id"):
            continue
        for task in run["tasks"]:
            result = task["result"] or {}
            if task["status"] in ("completed", "failed") and "thresholds" in result:
                found[entry_task(task["task"])] = (result["thresholds"] or {}, result.get("sorting") or "desc")
    return found


def leaderboard_view(runs: list[dict], chosen: list[str] | None) -> dict:
    """GET /leaderboard's answer as it is (server/leaderboard.py), with each mean's band among the thresholds."""
    board = leaderboard(runs, chosen)
    limits = task_thresholds(runs)
    tasks = {}
    for task in board["competitions"]:
        thresholds, sorting = limits.get(task, ({}, "desc"))
        ranked = [{**item, "band": band(item["score"]["mean"], thresholds, item["sorting"])}
                  for item in board["by_task"][task]]
        tasks[task] = {"ranked": ranked, "thresholds": thresholds, "sorting": sorting}
    return {"board": board, "tasks": tasks}
