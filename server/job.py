"""One task of a run, in its own process: build the bundle (data cached by content hash), pick the
submission, run it through the local worker, and leave the results and artifacts in the task folder.

    python3 -m server.job TASK_DIR      (TASK_DIR/job.json says what to do; result.json is written last)

The server starts one such process per task, so a task that crashes, runs away or is cancelled takes
nothing else down, and its whole process tree can be killed.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sys
import time
import traceback
import zipfile
from pathlib import Path

from bundlegen.build import build_bundle
from bundlegen.bundle_format import NotInBundle, reference_solution, sample_submission
from bundlegen.data import PrepareError
from bundlegen.definition import DefinitionError, load_task
from bundlegen.project import Project
from bundlegen.worker import Bundle, WorkerError, placement, run_submission
from programlib.archive import UnsafeArchiveError, safe_extract
from programlib.errors import SubmissionError
from programlib.transfer import copy_file_out, replace_atomically

from agentlib.definition import AgentError
from agentlib.run import RolloutError

from .agent_job import ROLLOUT_ARTIFACTS, agent_submission
from .disk import DISK_FULL, FREED, disk_full, free_space, why

NO_SANDBOX_VARIABLE = "MLEB_NO_SANDBOX"  # set by `serve --no-sandbox`: participant code runs without isolation
RESULT = "result.json"
SPEC = "job.json"


def log(message: str) -> None:
    try:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)
    except OSError:  # job.log is on a full disk: the line is lost, the job goes on to write its result
        pass


def write_folder_zip(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())


JOB_LOGS = tuple(f"logs/{job}.{stream}.txt" for job in ("prediction", "scoring") for stream in ("stdout", "stderr"))
SUBMISSION_LOGS = ("logs/submission_stdout.txt", "logs/submission_stderr.txt")
# Everything the server serves of a task, by exact name at the top of its folder (never under run/ or work/).
ARTIFACTS = ("scores.json", "detailed_results.html", *JOB_LOGS, *SUBMISSION_LOGS, "submission.zip", RESULT, "job.log",
             *ROLLOUT_ARTIFACTS)


def artifact_sources(run_dir: Path) -> dict[Path, str]:
    """What users ask for (scores, detailed results, logs): {where it is in the run folder: its name}."""
    wanted = {run_dir / "scoring" / "output" / "scores.json": "scores.json",
              run_dir / "scoring" / "output" / "detailed_results.html": "detailed_results.html"}
    for name in JOB_LOGS:  # the worker's own logs of its prediction and scoring jobs
        wanted[run_dir / name] = name
    for name in ("stdout.txt", "stderr.txt"):  # the participant's program's output, as the ingestion program kept it
        wanted[run_dir / "prediction" / "output" / "logs" / name] = f"logs/submission_{name}"
    return wanted


def collect_artifacts(run_dir: Path, task_dir: Path) -> list[str]:
    """Copy what users ask for to the top of the task folder, following no link: a participant's planted link,
    FIFO, device or hard link is skipped and named in the job's log, never read through."""
    copied = []
    for source, name in artifact_sources(run_dir).items():
        if not os.path.lexists(source):
            continue
        target = task_dir / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)  # ours (an earlier collection): copy_file_out writes a new file
            copy_file_out(source, target, below=run_dir)  # no link followed anywhere below the run folder
        except SubmissionError as error:
            if disk_full(task_dir, error):  # not the participant's doing: the caller frees space
                raise OSError(errno.ENOSPC, f"No space left on device: {error}") from None
            log(f"artifact {name} not collected: {error}")
            continue
        copied.append(name)
    return copied


def run_job(task_dir: Path) -> dict:
    spec = json.loads((task_dir / SPEC).read_text())
    project = Project(Path(spec["project"]))
    started = time.monotonic()
    result = {"task": spec["task"], "status": "failed", "valid": False, "scores": None, "error": None}
    try:
        task = load_task(project.bundles_dir / spec["task"], project)
        log(f"building the bundle of {task.id} (scale {spec.get('scale') or task.model.default_scale})")
        # Shared by all runs: rebuilt each time from the data cache (cheap, and byte-identical), replaced atomically.
        scale = task.scale(spec.get("scale")).name
        seed = task.model.seed if spec.get("seed") is None else spec["seed"]
        bundle_path = build_bundle(task, Path(spec["bundles_dir"]) / f"{scale}-seed{seed}", scale_name=scale,
                                   seed=seed, cache_dir=Path(spec["cache_dir"]), log=log)
        bundle = Bundle(bundle_path)
        result["thresholds"], result["sorting"] = bundle.info.get("thresholds") or {}, bundle.info.get("sorting")
        submission = pick_submission(spec, task, bundle, bundle_path, project, task_dir, result)
        if submission is None:  # the agent left nothing: graded as an invalid submission, like MLE-bench's
            agent = result["agent"]
            result.update(status="completed", error=f"the agent left no submission ({agent['status']}: "
                                                    f"{agent['message']})")
            return finish(result, started)
        log(f"running the {submission_label(spec)} submission")
        run = run_submission(bundle_path, submission, workdir=task_dir / "run", time_limit=spec.get("time_limit"),
                             log=log, sandbox=sandboxed())
        if not run.ok and disk_full(task_dir):  # what went wrong is a symptom of the full disk, not the grade
            raise OSError(errno.ENOSPC, f"No space left on device; the run ended with: {run.error}")
        result["artifacts"] = collect_artifacts(task_dir / "run", task_dir) + result.get("artifacts", [])
        result["warnings"] = run.warnings
        if run.ok:
            primary = task.primary_column.key
            result.update(status="completed", valid=True, scores=run.scores, primary=primary,
                          placement=placement(run.scores[primary], bundle.info))
        else:
            result.update(status="completed", error=run.error)  # graded: the submission is invalid
    except Exception as error:  # noqa: BLE001 - the run must end with a message, whatever went wrong
        if disk_full(task_dir, error):  # first: a full disk can surface as any of the errors below
            result.update(status="failed", valid=False, scores=None, error=f"{DISK_FULL}; {FREED}: {why(error)}")
            free_space(task_dir)
        elif isinstance(error, (DefinitionError, PrepareError, WorkerError, NotInBundle, UnsafeArchiveError,
                                AgentError, RolloutError)):
            result["error"] = str(error)
        else:  # our bug
            result["error"] = "internal error:\n" + traceback.format_exc(limit=5)
    finally:
        shutil.rmtree(task_dir / "work", ignore_errors=True)
    return finish(result, started)


def finish(result: dict, started: float) -> dict:
    result["duration"] = round(time.monotonic() - started, 3)
    log(f"done: {'valid' if result['valid'] else 'invalid'}" + (f": {result['error']}" if result["error"] else ""))
    return result


def sandboxed() -> bool:
    return os.environ.get(NO_SANDBOX_VARIABLE) != "1"


def submission_label(spec: dict) -> str:
    if spec.get("agent_id"):
        return f"agent {spec['agent_id']}'s"
    return spec["solution"] if spec["solution"] in ("reference", "sample") else "uploaded"


def pick_submission(spec: dict, task, bundle: Bundle, bundle_path: Path, project: Project, task_dir: Path,
                    result: dict) -> Path | None:
    """The folder to grade: what the agent submitted (None: nothing), the reference or sample solution, or the
    upload. The reference and sample are kept beside the results as submission.zip, as an upload is."""
    if spec.get("agent_id"):
        return agent_submission(spec, bundle_path, project, task_dir, result, sandbox=sandboxed(), log=log)
    solution = spec["solution"]
    if solution == "reference":
        submission = reference_solution(bundle, task_dir / "work" / "solution")
    elif solution == "sample":  # the results files it accepts: a results task's bundle does not record them
        submission = sample_submission(bundle, task_dir / "work" / "sample", list(task.model.submission.files))
    else:
        safe_extract(task_dir / "submission.zip", task_dir / "work" / "upload", label="the uploaded submission")
        return task_dir / "work" / "upload"
    write_folder_zip(submission, task_dir / "submission.zip")
    return submission


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    task_dir = Path(argv[0])
    # Cancelled or stopped by the server: unwind, so the worker stops the ingestion program, which empties
    # the participant's cgroup, before this process ends.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run_job(task_dir)
    text = json.dumps(result, indent=2, sort_keys=True) + "\n"
    for attempt in range(2):
        try:
            replace_atomically(task_dir / RESULT, text.encode("utf-8"))  # written whole or not at all
            return 0
        except OSError as error:
            if attempt or not disk_full(task_dir, error):
                raise  # no result: the server reports this job's exit code and job.err
            free_space(task_dir)  # the artifacts were collected already; then one more try
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
