"""The web pages (server/web) with 1,000 runs in the state database: each page's load time, against GET /runs
(the JSON the runs page shows, from the same store) in the same run. Target: every page under 300 ms.

The store is filled directly (server/store.py) with runs shaped like real ones: agents over the lite split with one
to three seeds, solutions over single tasks, every status, graded results with scores, thresholds and placements.
The server is the real app (create_app) in-process, through Starlette's TestClient; no job runs (0 workers).
"""
from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from run import Measure

from bundlegen.worker import placement
from server.entries import entry_keys
from server.leaderboard import medal
from server.store import Store

ROOT = Path(__file__).resolve().parent.parent
RUNS = 1000
TARGET_MS = 300.0
REPEATS = 5
AGENTS = ("dummy", "reference", "starting-kit", "aide")
STATUSES = ("completed",) * 6 + ("failed", "cancelled", "interrupted", "running", "queued")
THRESHOLDS = {"trivial": 0.5, "reference": 0.9}


def lite_tasks() -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "splits" / "lite.txt").read_text().splitlines()]
    return [line for line in lines if line]


def result(task: str, rng: random.Random, agent: str) -> dict:
    """A graded entry's result as server/job.py stores it."""
    if rng.random() < 0.1:
        return {"task": task, "status": "failed", "valid": False, "scores": None, "error": "the agent crashed",
                "duration": rng.uniform(5, 60), "thresholds": THRESHOLDS, "sorting": "desc"}
    score = min(1.0, max(0.0, rng.gauss({"reference": 0.9, "dummy": 0.5}.get(agent, 0.7), 0.05)))
    return {"task": task, "status": "completed", "valid": True, "scores": {"score": score}, "primary": "score",
            "error": None, "duration": rng.uniform(5, 600), "thresholds": THRESHOLDS, "sorting": "desc",
            "warnings": [], "artifacts": ["scores.json", "detailed_results.html", "job.log"],
            "placement": placement(score, {"thresholds": THRESHOLDS, "sorting": "desc"}),
            "medal": medal(score, THRESHOLDS, "desc")}


def fill(store: Store, runs: int = RUNS, seed: int = 0) -> None:
    rng, tasks = random.Random(seed), lite_tasks()
    for index in range(runs):
        agent = rng.choice(AGENTS) if index % 4 else None
        chosen = tasks if agent else [rng.choice(tasks)]
        seeds = rng.choice((1, 1, 2, 3)) if agent else 1
        status = rng.choice(STATUSES) if index < 50 else "completed"  # old runs have ended
        spec = {"competitions": chosen, "entries": entry_keys(chosen, seeds), "agent_id": agent, "seeds": seeds,
                "lite": bool(agent), "scale": "tiny", "solution": None if agent else "reference",
                "variant": None, "competition_set": None}
        run_id = f"2026-01-01T00-00-00Z_{index:06x}"
        store.add_run(run_id, spec, spec["entries"])
        for key in spec["entries"] if status != "queued" else []:
            store.start_task(run_id, key)
            if status != "running" or rng.random() < 0.5:
                store.finish_task(run_id, key, "completed", result(key.split("@")[0], rng, agent or "reference"))
        store.set_run(run_id, status)


def timed_get(client, path: str, before=None) -> float:
    """Milliseconds, the median of REPEATS (after one warm-up request: the app's first-request costs); `before`
    runs ahead of each, untimed."""
    client.get(path)
    times = []
    for _ in range(REPEATS):
        if before:
            before()
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return statistics.median(times)


def cold_chart_ms(client) -> float:
    """The leaderboard page when its chart must be drawn (the numbers changed since the last view)."""
    from server.web import chart

    client.get("/ui/leaderboard")  # matplotlib imported, fonts cached
    chart._draw.cache_clear()
    started = time.perf_counter()
    assert client.get("/ui/leaderboard").status_code == 200
    return (time.perf_counter() - started) * 1000


def bench(workdir: Path) -> list[Measure]:
    from fastapi.testclient import TestClient

    from server.app import Settings, create_app

    app = create_app(Settings(runs_dir=workdir / "runs", workers=1))
    with TestClient(app) as client:
        fill(app.state.store)  # after the start-up: never submitted to the scheduler, so running runs stay running
        assert len(client.get("/runs").json()) == RUNS
        baseline = timed_get(client, "/runs")
        run_id = client.get("/runs").json()[0]["run_id"]
        pages = {"runs": "/ui/runs", "runs, filtered": "/ui/runs?agent=reference&status=completed",
                 "runs' live table": "/ui/runs/rows", "a run": f"/ui/runs/{run_id}",
                 "leaderboard": "/ui/leaderboard", "leaderboard, lite": "/ui/leaderboard?competitions=splits/lite.txt",
                 "tasks": "/ui/tasks"}
        measures = [page_measure(name, timed_get(client, path), baseline) for name, path in pages.items()]
        # while runs go, the store changes between two views: the pages read every run again (no cache helps)
        store, oldest = app.state.store, client.get("/runs").json()[-1]["run_id"]
        touched = iter(range(1_000_000))
        def write() -> None:
            store.set_run(oldest, "completed", f"touched {next(touched)}")  # a change: an equal write is none
        for name, path in (("runs", "/ui/runs"), ("leaderboard", "/ui/leaderboard")):
            measures.append(page_measure(f"{name} after a write", timed_get(client, path, write), baseline))
        cold = cold_chart_ms(client)
    measures.append(Measure(f"web page: leaderboard, chart drawn, {RUNS} runs", cold / 1000, "s", "GET /runs",
                            baseline / 1000, "under 1 s (once per change)", cold < 1000))
    return measures


def page_measure(name: str, ms: float, baseline_ms: float) -> Measure:
    return Measure(f"web page: {name}, {RUNS} runs", ms / 1000, "s", "GET /runs (JSON)", baseline_ms / 1000,
                   f"under {TARGET_MS:.0f} ms", ms < TARGET_MS)
