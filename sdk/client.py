"""Python SDK of the benchmark server: a remote control for prepare → submission → grading.

    from sdk.client import Client
    client = Client("http://127.0.0.1:8000")
    run_id = client.run(competitions="splits/lite.txt", agent_id="dummy", lite=True)
    client.wait(run_id)
    print(client.get_run_summary(run_id))

Errors the server reports become typed exceptions carrying the server's message.
"""
from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import httpx
from tqdm import tqdm

FINISHED = ("completed", "failed", "cancelled", "interrupted")


class ServerError(Exception):
    """The server answered with an error; `status` is the HTTP status, `message` the server's words."""

    def __init__(self, status: int, message: str, details: list | None = None):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.details = status, message, details or []


class BadRequest(ServerError):
    """400/409/413/422: the request was wrong (unknown task, bad split file, unsafe or oversized upload, ...)."""


class Unauthorized(ServerError):
    """401: a bearer token is needed (Client(token=...) or MLEB_SERVER_TOKEN)."""


class NotFound(ServerError):
    """404: no such run or artifact."""


class RunTimeout(TimeoutError):
    """wait() gave up before the run finished; the run goes on on the server."""


def _error_for(response: httpx.Response) -> ServerError:
    try:
        body = response.json()
        message, details = body.get("error") or response.text, body.get("details") or []
    except ValueError:
        message, details = response.text or response.reason_phrase, []
    kind = {401: Unauthorized, 404: NotFound}.get(response.status_code)
    if kind is None:
        kind = BadRequest if 400 <= response.status_code < 500 else ServerError
    return kind(response.status_code, message, details)


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class Client:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 60.0):
        token = token or os.environ.get("MLEB_SERVER_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise _error_for(response)
        return response

    # --- runs --------------------------------------------------------------------------------------

    def run(self, competitions: str | list[str] | None = None, agent_id: str | None = None, lite: bool = False,
            seeds: int = 1, variant: str | None = None, solution: str | dict | None = None,
            scale: str | None = None, seed: int | None = None, time_limit: float | None = None,
            agent_time_limit: float | None = None, competition_set: str | None = None,
            wait: bool = False, timeout: float | None = None) -> str:
        """Start a run and return its id: prepare → submission → grading for every task of `competitions` (task
        ids or a split file; with `lite` and no tasks: the lite split, at the tiny scale).

        What is graded: `agent_id` (GET /agents; `variant`, `seeds` attempts per task, `agent_time_limit`) runs
        the agent sandboxed on each task and grades what it submitted; otherwise `solution`: "reference" (the
        default), "sample", or {task id: zip file, folder (each is uploaded first) or the id upload() returned}.
        With wait=True, return once the run has finished."""
        if competitions is None and competition_set is None and not lite:
            competitions = "splits/lite.txt"
        if isinstance(solution, dict):  # files and folders are uploaded; anything else is an upload id
            solution = {task: self.upload(value) if Path(value).exists() else str(value)
                        for task, value in solution.items()}
        body = {"competitions": competitions, "competition_set": competition_set, "agent_id": agent_id,
                "variant": variant, "lite": lite or None, "seeds": seeds if seeds != 1 else None,
                "solution": solution, "scale": scale, "seed": seed, "time_limit": time_limit,
                "agent_time_limit": agent_time_limit}
        run_id = self._request("POST", "/runs", json={k: v for k, v in body.items() if v is not None}).json()["run_id"]
        if wait:
            self.wait(run_id, timeout=timeout)
        return run_id

    def upload(self, submission: str | Path) -> str:
        """Upload a submission (a zip file, or a folder zipped on the fly); returns its upload id."""
        path = Path(submission)
        data = _zip_folder(path) if path.is_dir() else path.read_bytes()
        response = self._request("POST", "/uploads", content=data, headers={"Content-Type": "application/zip"})
        return response.json()["upload_id"]

    def wait(self, run_id: str, timeout: float | None = None, poll: float = 0.5, progress: bool = True) -> dict:
        """Poll until the run has finished (with a progress bar of its tasks); returns its status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = None
        with tqdm(total=None, desc=run_id, unit="task", disable=not progress) as bar:
            while True:
                run = self.get_run(run_id)
                done, total = run["progress"]["done"], run["progress"]["total"]
                if (done, run["status"]) != seen:  # redraw only when something changed
                    seen = (done, run["status"])
                    bar.total, bar.n = total, done
                    bar.set_postfix_str(run["status"], refresh=False)
                    bar.refresh()
                if run["status"] in FINISHED:
                    return run
                if deadline is not None and time.monotonic() > deadline:
                    raise RunTimeout(f"run {run_id} is still {run['status']} after {timeout} s ({done}/{total} tasks)")
                time.sleep(poll)

    def get_run(self, run_id: str) -> dict:
        return self._request("GET", f"/runs/{run_id}").json()

    def get_run_summary(self, run_id: str) -> dict:
        return self._request("GET", f"/runs/{run_id}/summary").json()

    def list_runs(self) -> list[dict]:
        return self._request("GET", "/runs").json()

    def cancel(self, run_id: str) -> dict:
        return self._request("DELETE", f"/runs/{run_id}").json()

    def resume(self, run_id: str) -> dict:
        return self._request("POST", f"/runs/{run_id}/resume").json()

    def list_competitions(self) -> list[dict]:
        return self._request("GET", "/competitions").json()

    def health(self) -> dict:
        return self._request("GET", "/health").json()

    # --- artifacts ---------------------------------------------------------------------------------

    def list_artifacts(self, run_id: str) -> list[str]:
        return self._request("GET", f"/runs/{run_id}/artifacts").json()

    def download_artifact(self, run_id: str, path: str, dest: str | Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(self._request("GET", f"/runs/{run_id}/artifacts/{path}").content)
        return dest

    def download_submission(self, run_id: str, task: str, dest: str | Path) -> Path:
        """The submission a task ran: the uploaded zip, or the task's reference/sample files the server used.
        Writes dest (a .zip file, or a folder to put <task>-submission.zip in)."""
        dest = Path(dest)
        if dest.is_dir() or not dest.suffix:
            dest = dest / f"{task}-submission.zip"
        return self.download_artifact(run_id, f"{task}/submission.zip", dest)

    def download_rollout(self, run_id: str, task: str, dest: str | Path) -> Path:
        """An agent's rollout on a task (`task`, or `task@k` for attempt k of a run with several seeds): what it
        left in /home/submission, /home/code and /home/logs, what it printed, and rollout.json, unpacked into the
        folder dest."""
        dest = Path(dest)
        data = self._request("GET", f"/runs/{run_id}/artifacts/{task}/rollout.zip").content
        unpack(data, dest, "the rollout zip")
        return dest

    def list_agents(self) -> list[dict]:
        return self._request("GET", "/agents").json()["agents"]

    def leaderboard(self, competitions: str | list[str] | None = None) -> dict:
        """Agents ranked per task and over `competitions` (task ids or a split file; default: every task an agent
        was graded on): mean ± std of the primary score over seeds, and the share of tasks with a medal."""
        if isinstance(competitions, list):
            competitions = ",".join(competitions)
        params = {"competitions": competitions} if competitions else {}
        return self._request("GET", "/leaderboard", params=params).json()

    def download_metrics(self, run_id: str, dest: str | Path) -> Path:
        """summary.json and each task's scores.json and detailed_results.html, unpacked into the folder dest."""
        dest = Path(dest)
        unpack(self._request("GET", f"/runs/{run_id}/metrics").content, dest, "the metrics zip")
        return dest


def unpack(data: bytes, dest: Path, what: str) -> None:
    """A zip from the server into dest, refusing any path that would land outside it."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.endswith("/"):
                continue
            target = (dest / name).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise ServerError(200, f"{what} holds an unsafe path {name!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
