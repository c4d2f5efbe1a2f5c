"""The Ray executor: each task's job is a Ray task on a node of a cluster, with the CPUs, memory and GPUs its task
and agent declare (resources.py), so a GPU job waits for a node that has one and runs nowhere else.

    build_bundle.py serve --executor ray --ray-address HEAD:6379 [--ray-storage shared|object]

- Dispatch: the scheduler's worker thread submits `ray_node.run_on_node` and waits on it, polling its stop event.
- Data: the inputs and the artifacts go through shared storage or Ray's object store (ray_node.py).
- Faults: a node or worker that dies mid-job is a system failure to Ray: it runs the task again on a live node,
  at most `ray_max_retries` times; after that the task fails with Ray's reason. A failure of the job itself (a
  bad submission, a failed build) is a result, never retried.
- Cancel: ray.cancel raises KeyboardInterrupt in the Ray task, so run_process SIGTERMs the job, which stops what it
  started (the participant's sandbox and cgroup), then kills its tree; if that has not ended after the job's
  grace twice over, the worker is killed (force), and the kernel SIGTERMs the job (PR_SET_PDEATHSIG).
- State: only in the server's SQLite store. A restarted server connects again; the jobs of the one that died
  died with it (Ray kills a dead driver's tasks); its runs are interrupted and resumable (`serve --resume`).
"""
from __future__ import annotations

import io
import json
import logging
import os
import zipfile

from ..job import NO_SANDBOX_VARIABLE, SPEC
from . import JobOutcome, JobRequest
from .local import JOB_GRACE_SECONDS, warn
from .ray_node import CANCEL_MARK, OUTPUTS, run_on_node
from .resources import declared, ray_options

POLL_SECONDS = 0.2
# A polite cancel unwinds the job and then sweeps its node's participant cgroups; a forced one skips that sweep
# (the worker dies), so it comes only once the polite one has had the job's grace twice over, and more.
POLITE_CANCEL_SECONDS = 2 * JOB_GRACE_SECONDS + 15
NAMESPACE = "mleb-server"


class RayExecutor:
    name = "ray"

    def __init__(self, settings, runs_dir):
        self.settings, self.runs_dir = settings, runs_dir
        self.remote = None

    def start(self) -> None:
        import ray

        if not ray.is_initialized():  # no address: a one-node cluster of this machine's own, as `ray.init()` starts
            alone = {} if self.settings.ray_address else {"include_dashboard": False}
            ray.init(address=self.settings.ray_address, namespace=NAMESPACE, logging_level=logging.WARNING,
                     log_to_driver=False, **alone)
        self.remote = ray.remote(max_retries=self.settings.ray_max_retries, retry_exceptions=False)(run_on_node)

    def close(self) -> None:
        import ray

        ray.shutdown()

    def payload(self, job: JobRequest) -> dict:
        settings = self.settings
        return {"task_dir": str(job.task_dir), "label": job.label, "env": job.job_env, "time_limit": job.time_limit,
                "storage": settings.ray_storage, "server_runs": str(self.runs_dir),
                "runs_path": settings.ray_runs_path, "scratch": settings.ray_scratch}

    def inputs(self, job: JobRequest):
        """Object storage: job.json and the upload, put in Ray's object store (None: read from shared storage)."""
        if self.settings.ray_storage != "object":
            return None
        import ray

        return ray.put({path.name: path.read_bytes() for path in (job.task_dir / SPEC, job.task_dir / "submission.zip")
                        if path.is_file()})

    def run(self, job: JobRequest) -> JobOutcome:
        import ray

        (job.task_dir / CANCEL_MARK).unlink(missing_ok=True)  # a resumed task: an earlier cancel is over
        wanted = declared(json.loads((job.task_dir / SPEC).read_text()))
        payload = self.payload(job)
        payload["env"] = dict(payload["env"], OMP_NUM_THREADS=str(wanted["cpus"]))
        if os.environ.get(NO_SANDBOX_VARIABLE) == "1":  # `serve --no-sandbox`: said by the server, for its jobs
            payload["env"][NO_SANDBOX_VARIABLE] = "1"
        options = ray_options(wanted, self.settings.ray_gpu_resource)
        ref = self.remote.options(**options, name=f"mleb {job.run_id}/{job.task}").remote(payload, self.inputs(job))
        while not ray.wait([ref], timeout=POLL_SECONDS)[0]:
            if job.stop.is_set():
                return self.cancel(ref, job)
        return self.ended(ref, job)

    def cancel(self, ref, job: JobRequest) -> JobOutcome:
        import ray

        # trusted: a fixed name in the server's own task folder (only plain artifact files are copied in, and a
        # link there is removed first); the node's job sees it and stops itself (ray_node.watch_for_cancel)
        (job.task_dir / CANCEL_MARK).unlink(missing_ok=True)
        (job.task_dir / CANCEL_MARK).write_text("cancelled\n")
        ray.cancel(ref, force=False)  # KeyboardInterrupt in the task: the job gets SIGTERM, then its tree is killed
        if not ray.wait([ref], timeout=POLITE_CANCEL_SECONDS)[0]:
            ray.cancel(ref, force=True)  # the worker dies; the kernel sends the job SIGTERM (PR_SET_PDEATHSIG)
        return JobOutcome(stopped=True)

    def ended(self, ref, job: JobRequest) -> JobOutcome:
        import ray

        try:
            reply = ray.get(ref)
        except ray.exceptions.RayError as error:  # retries spent (node or worker lost), or our bug on the node
            warn(f"{job.run_id}/{job.task}: {type(error).__name__}: {error}")
            return JobOutcome(error=failure(error, self.settings.ray_max_retries + 1))
        if reply["artifacts"] is not None:
            receive(reply["artifacts"], job.task_dir)
        return JobOutcome(exit_code=reply["exit_code"], timed_out=reply["timed_out"], node=reply["node"],
                          left=reply["left"])


def failure(error, tries: int) -> str:
    """Why a task failed on the cluster: its node lost on every try, or an error on the node (not retried)."""
    import ray

    if isinstance(error, ray.exceptions.RayTaskError):  # staging or copying back raised: not the job's own end
        cause = error.cause if isinstance(error.cause, BaseException) else error
        return f"the task's job could not be set up on its Ray node: {type(cause).__name__}: {cause}"[:2000]
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"the task's job could not run on the Ray cluster ({tries} attempt(s)): {type(error).__name__}: {reason}"


def receive(artifacts: bytes, task_dir) -> None:
    """Object storage: the artifacts' zip into the task folder; only the names a job leaves (nothing else)."""
    with zipfile.ZipFile(io.BytesIO(artifacts)) as archive:
        for name in archive.namelist():
            if name in OUTPUTS:
                (task_dir / name).parent.mkdir(parents=True, exist_ok=True)
                (task_dir / name).write_bytes(archive.read(name))
