"""What runs on a Ray node for one task's job (the body of the Ray task; server/executors/ray_executor.py
submits it). Each attempt works in a folder of its own under the node's scratch folder:

1. its inputs arrive: job.json and, for an upload, submission.zip, read from the runs folder on shared storage
   (storage 'shared') or handed over through Ray's object store (storage 'object');
2. `python -m server.job` runs there exactly as in the local pool (the same sandbox for participant code; the
   answers are unpacked only inside the job's scoring stage), under a launcher that asks the kernel to SIGTERM it
   when this Ray worker dies (a node lost, a forced cancel), so nothing of it outlives its attempt;
3. what the server serves of a task (ARTIFACTS, job.err) goes back: copied into the task folder (shared) or
   returned as a zip through the object store (object). An attempt that dies writes nothing back.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import uuid
import zipfile
from pathlib import Path

from ..job import ARTIFACTS, RESULT, SPEC
from .local import run_job_process

INPUTS = (SPEC, "submission.zip")
OUTPUTS = (*ARTIFACTS, "job.err")
CANCEL_MARK = "cancel.requested"  # written into the task folder by the server when the task is cancelled
# PR_SET_PDEATHSIG (prctl option 1), then exec the job: it gets SIGTERM when the thread that started it dies.
DEATH_SIGNAL = ("-c", "import ctypes, os, sys; ctypes.CDLL(None, use_errno=True).prctl(1, %d); "
                      "os.getppid() == int(sys.argv[1]) or sys.exit(143); "
                      "os.execv(sys.argv[2], sys.argv[2:])" % signal.SIGTERM)


def node_name() -> str:
    """MLEB_NODE_NAME as the node was started with, else the host and Ray's node id."""
    import ray

    return os.environ.get("MLEB_NODE_NAME") or f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:12]}"


def node_path(path: str, payload: dict) -> Path:
    """A path of the server's runs folder as this node sees it (shared storage mounted elsewhere)."""
    server, here = payload["server_runs"], payload.get("runs_path") or payload["server_runs"]
    return Path(here) / Path(path).relative_to(server)


def stage_inputs(payload: dict, inputs: dict[str, bytes] | None, work: Path, scratch: Path) -> None:
    if inputs is None:  # shared storage: the task folder itself
        source = node_path(payload["task_dir"], payload)
        inputs = {name: (source / name).read_bytes() for name in INPUTS if (source / name).is_file()}
    spec = json.loads(inputs[SPEC])
    for key in ("cache_dir", "bundles_dir"):  # the data cache and the built bundles: shared, or this node's own
        spec[key] = str(node_path(spec[key], payload) if payload["storage"] == "shared"
                        else scratch / key.removesuffix("_dir"))
    # trusted: `work` was made by this attempt just now (mkdir, no participant code has run in it)
    (work / SPEC).write_text(json.dumps(spec, indent=2))
    if "submission.zip" in inputs:
        (work / "submission.zip").write_bytes(inputs["submission.zip"])


def send_outputs(payload: dict, work: Path) -> bytes | None:
    """The task's artifacts (plain files only, never through a link): into the shared task folder, or a zip."""
    found = [name for name in OUTPUTS if (work / name).is_file() and not (work / name).is_symlink()]
    if payload["storage"] == "object":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in found:
                archive.write(work / name, name)
        return buffer.getvalue()
    target = node_path(payload["task_dir"], payload)
    for name in sorted(found, key=lambda name: name == RESULT):  # result.json last: the sign of a whole copy
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / name, target / name)
    return None


def watch_for_cancel(payload: dict) -> tuple[threading.Event, threading.Event]:
    """(stop, done): `stop` is set once the server's cancel mark appears in the shared task folder, so the job
    is stopped by this worker's own run_process (SIGTERM, grace, its tree and cgroups swept) whatever becomes of
    Ray's cancel. With object storage the task folder is not seen here: Ray's cancel alone stops the job."""
    stop, done = threading.Event(), threading.Event()
    if payload["storage"] != "shared":
        return stop, done
    mark = node_path(payload["task_dir"], payload) / CANCEL_MARK

    def watch() -> None:
        while not done.wait(0.5):
            if mark.exists():
                stop.set()
                return

    threading.Thread(target=watch, daemon=True).start()
    return stop, done


def run_on_node(payload: dict, inputs: dict[str, bytes] | None) -> dict:
    """One attempt of one task's job on this node; how it ended, and (object storage) its artifacts."""
    scratch = Path(payload.get("scratch") or Path(tempfile.gettempdir()) / "mleb-ray")
    work = scratch / "jobs" / f"{payload['label']}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    stop, done = watch_for_cancel(payload)
    try:
        stage_inputs(payload, inputs, work, scratch)
        # trusted: the job is ours; the participant's sandbox starts from an empty environment, not this one
        env = dict(os.environ, **payload["env"])
        outcome = run_job_process(work, env, payload["label"], payload["time_limit"], stop,
                                  command_prefix=(sys.executable, *DEATH_SIGNAL, str(os.getpid())))
        artifacts = send_outputs(payload, work)
    finally:
        done.set()
        shutil.rmtree(work, ignore_errors=True)
    return {"exit_code": outcome.exit_code, "timed_out": outcome.timed_out, "left": outcome.left,
            "node": node_name(), "artifacts": artifacts}
