"""The server's state in SQLite under the runs folder, so runs survive a restart.

One row per run and one per (run, task). Each write is its own short transaction; SQLite's WAL
journal lets the HTTP handlers read while the pool's threads write.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    spec TEXT NOT NULL,
    message TEXT
);
CREATE TABLE IF NOT EXISTS tasks (
    run_id TEXT NOT NULL REFERENCES runs(id),
    position INTEGER NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL,
    finished REAL,
    result TEXT,
    PRIMARY KEY (run_id, task)
);
"""
# A run: queued → running → completed | failed | cancelled; interrupted when the server stopped under it.
# A task: queued → running → completed (graded, valid or not) | failed (could not be graded) | cancelled |
# interrupted.
UNFINISHED = ("queued", "running")


class Store:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        # Held open for the store's life: the last connection to close deletes the WAL and its index, and the
        # next one would have to create them again, which a full disk refuses ('disk I/O error') even to readers.
        self._keeper = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL; no transaction kept

    def data_version(self) -> int:
        """Changes whenever a write has been committed since the last call (every write uses a connection of its
        own, and SQLite counts other connections' commits): what the web pages' cache of runs() is keyed on."""
        with self._lock:
            return self._keeper.execute("PRAGMA data_version").fetchone()[0]

    def _connect(self) -> contextlib.closing:  # closed on leaving `with`, not left to the garbage collector
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return contextlib.closing(db)

    @contextlib.contextmanager
    def _transaction(self):
        """One write transaction; on any error (a full disk: 'database or disk is full') it is rolled back and
        the connection closed at once, so no half-written state and no held lock are left behind."""
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise

    def _write(self, sql: str, *args) -> None:
        with self._transaction() as db:
            db.execute(sql, args)

    # --- runs --------------------------------------------------------------------------------------

    def add_run(self, run_id: str, spec: dict, tasks: list[str]) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO runs (id, created, status, spec) VALUES (?, ?, 'queued', ?)",
                       (run_id, time.time(), json.dumps(spec, sort_keys=True)))
            db.executemany("INSERT INTO tasks (run_id, position, task, status) VALUES (?, ?, ?, 'queued')",
                           [(run_id, i, task) for i, task in enumerate(tasks)])

    def set_run(self, run_id: str, status: str, message: str | None = None) -> None:
        self._write("UPDATE runs SET status = ?, message = ? WHERE id = ?", status, message, run_id)

    def run(self, run_id: str) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            tasks = db.execute("SELECT * FROM tasks WHERE run_id = ? ORDER BY position", (run_id,)).fetchall()
        return self._run_dict(row, tasks)

    def runs(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY created DESC, id DESC").fetchall()
            tasks = db.execute("SELECT * FROM tasks ORDER BY run_id, position").fetchall()
        by_run: dict[str, list] = {}
        for task in tasks:
            by_run.setdefault(task["run_id"], []).append(task)
        return [self._run_dict(row, by_run.get(row["id"], [])) for row in rows]

    @staticmethod
    def _run_dict(row, tasks) -> dict:
        return {"run_id": row["id"], "created": row["created"], "status": row["status"], "message": row["message"],
                "spec": json.loads(row["spec"]),
                "tasks": [{"task": t["task"], "status": t["status"], "started": t["started"],
                           "finished": t["finished"], "result": json.loads(t["result"]) if t["result"] else None}
                          for t in tasks]}

    # --- tasks -------------------------------------------------------------------------------------

    def start_task(self, run_id: str, task: str) -> None:
        self._write("UPDATE tasks SET status = 'running', started = ?, finished = NULL, result = NULL "
                    "WHERE run_id = ? AND task = ?", time.time(), run_id, task)

    def finish_task(self, run_id: str, task: str, status: str, result: dict | None,
                    finished: float | None = None) -> None:
        self._write("UPDATE tasks SET status = ?, finished = ?, result = ? WHERE run_id = ? AND task = ?",
                    status, finished or time.time(), json.dumps(result, sort_keys=True) if result is not None else None,
                    run_id, task)

    def set_unfinished_tasks(self, run_id: str, status: str) -> None:
        self._write(f"UPDATE tasks SET status = ? WHERE run_id = ? AND status IN {UNFINISHED}", status, run_id)

    def requeue_unfinished(self, run_id: str) -> list[str]:
        """For resuming: tasks that did not end are queued again; returns them."""
        with self._transaction() as db:
            tasks = [r["task"] for r in db.execute(
                "SELECT task FROM tasks WHERE run_id = ? AND status IN ('queued', 'running', 'interrupted', "
                "'cancelled') ORDER BY position", (run_id,))]
            db.execute("UPDATE tasks SET status = 'queued', started = NULL, finished = NULL, result = NULL "
                       "WHERE run_id = ? AND status IN ('queued', 'running', 'interrupted', 'cancelled')", (run_id,))
            db.execute("UPDATE runs SET status = 'queued', message = NULL WHERE id = ?", (run_id,))
        return tasks

    def mark_interrupted(self) -> list[str]:
        """At start-up: runs a previous server left unfinished are interrupted (and resumable), never lost."""
        message = ("the server stopped before this run finished; finished tasks keep their results; "
                   "POST /runs/{id}/resume runs the others")
        with self._transaction() as db:
            ids = [r["id"] for r in db.execute(f"SELECT id FROM runs WHERE status IN {UNFINISHED}")]
            for run_id in ids:
                db.execute("UPDATE runs SET status = 'interrupted', message = ? WHERE id = ?",
                           (message.replace("{id}", run_id), run_id))
                db.execute(f"UPDATE tasks SET status = 'interrupted' WHERE run_id = ? AND status IN {UNFINISHED}",
                           (run_id,))
        return ids
