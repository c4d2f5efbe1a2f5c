"""A local stand-in for Codabench's compute worker: same folder layout, same commands, no docker.

Each job gets its own root that plays the role of the container's /app:
  prediction/  program/ (ingestion) ingested_program/ input_data/ output/ shared/
  scoring/     program/ (scoring)   input/ref/ input/res/ output/ shared/
The reference data is unpacked only after the prediction job has ended, so ingestion and the
participant's code never have it on disk. `/app/...` in a program's command is mapped to the job root.
"""
from __future__ import annotations

import io
import json
import math
import re
import shlex
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from programlib.archive import UnsafeArchiveError, check_member, safe_extract
from programlib.errors import SubmissionError
from programlib.runner import ProcessResult, allowed_environment, run_process, tail
from programlib.safe_yaml import YamlError, load_yaml_file, load_yaml_member
from programlib.sandbox import Confinement, probe as sandbox_probe
from programlib.transfer import MAX_ENTRIES, copy_out, read_regular

from .bundle_format import COMPETITION, read_bundle_info
from .datasets import is_dataset_key

SANDBOX_VARIABLE = "MLEB_SANDBOX"  # tells the ingestion program: require a sandbox, or run without (off)
RESERVED_OUTPUT = "metadata"
HEARTBEAT_SECONDS = 30.0
MAX_SCORES_BYTES = 1024**2
OUTPUT_ENTRIES = 10 * MAX_ENTRIES  # the ingestion output holds a copy of the working folder per run  # Codabench's worker writes output/metadata itself
APP_PATH = re.compile(r"(?<![\w./-])/app(?=/|$)")


class WorkerError(Exception):
    """The bundle or the submission cannot be run at all (not a scoring failure)."""


@dataclass
class Job:
    name: str
    root: Path
    process: ProcessResult

    def describe_failure(self) -> str:
        p = self.process
        if p.timed_out:
            return (f"Execution Time Limit exceeded: the {self.name} job was killed after {p.time_limit:g} s "
                    f"(log: {p.stderr_path})")
        return f"the {self.name} program exited with code {p.exit_code}:\n{tail(p.stderr_path) or '(no output on stderr)'}"


@dataclass
class RunResult:
    root: Path
    phase_index: int
    phase_name: str
    jobs: list[Job] = field(default_factory=list)
    scores: dict[str, float] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    detailed_results: Path | None = None
    info: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.scores is not None


class Bundle:
    """Read access to a bundle zip without unpacking it (and to its datasets, when uploaded separately)."""

    def __init__(self, path: Path, datasets: Path | None = None):
        self.path = path
        self.datasets = datasets
        try:
            self.archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise WorkerError(f"{path}: not a valid zip file ({error})") from None
        try:
            self.competition = load_yaml_member(self.archive, COMPETITION, label=f"{path.name}: {COMPETITION}")
        except KeyError:
            raise WorkerError(f"{path}: no {COMPETITION} at the root of the bundle") from None
        except YamlError as error:
            raise WorkerError(str(error)) from None
        if not isinstance(self.competition, dict):
            raise WorkerError(f"{path.name}: {COMPETITION}: the top level must be a mapping, "
                              f"not {type(self.competition).__name__}")
        self.info = read_bundle_info(self.archive)

    def extract_dataset(self, reference: str, target: Path) -> None:
        """A task's file reference: a zip inside the bundle, or a folder of it (Codabench zips folders)."""
        label = f"{self.path.name}:{reference}"
        if is_dataset_key(reference):
            field = {key: name for name, key in (self.info.get("datasets") or {}).items()}.get(reference)
            if self.datasets is None or field is None or not (self.datasets / f"{field}.zip").is_file():
                raise WorkerError(f"{label}: the bundle references a dataset by its key; run with --datasets FOLDER, "
                                  f"the folder of the dataset zips written by `build --data-keys`")
            safe_extract(self.datasets / f"{field}.zip", target, label=f"{self.datasets.name}/{field}.zip")
            return
        names = self.archive.namelist()
        if reference in names:
            safe_extract(io.BytesIO(self.archive.read(reference)), target, label=label)
            return
        prefix = reference.rstrip("/") + "/"
        members = [name for name in names if name.startswith(prefix) and not name.endswith("/")]
        if not members:
            raise WorkerError(f"{label}: not found in the bundle")
        for name in members:
            destination = target.joinpath(*check_member(name[len(prefix):]).parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(self.archive.read(name))

    def phase_and_task(self, phase_index: int) -> tuple[dict, dict]:
        where = f"{self.path.name}: {COMPETITION}"
        phases = self.competition.get("phases") or []
        if not isinstance(phases, list):
            raise WorkerError(f"{where}: phases must be a list of mappings, not {type(phases).__name__}")
        for i, phase in enumerate(phases):
            if not isinstance(phase, dict):
                raise WorkerError(f"{where}: phases[{i}] must be a mapping, not {type(phase).__name__}")
        phases = in_index_order(phases)
        if not 0 <= phase_index < len(phases):
            raise WorkerError(f"{self.path.name}: no phase {phase_index} (the bundle has {len(phases)}: "
                              + ", ".join(f"{i} = {p.get('name')!r}" for i, p in enumerate(phases)) + ")")
        phase = phases[phase_index]
        task_indexes = phase.get("tasks") or []
        if not isinstance(task_indexes, list):
            raise WorkerError(f"{where}: phases[{phase_index}].tasks must be a list of task indexes")
        if len(task_indexes) != 1:
            raise WorkerError(f"phase {phase_index} has {len(task_indexes)} tasks; the local worker runs one task per phase")
        limit = phase.get("execution_time_limit")
        number = isinstance(limit, (int, float)) and not isinstance(limit, bool)
        if limit is not None and not (number and 0 <= limit < math.inf):
            raise WorkerError(f"{where}: phases[{phase_index}].execution_time_limit must be a number of seconds "
                              f"(0: the default), got {limit!r:.80}")
        tasks = self.competition.get("tasks") or []
        if not isinstance(tasks, list):
            raise WorkerError(f"{where}: tasks must be a list of mappings, not {type(tasks).__name__}")
        by_index = {}
        for i, task in enumerate(tasks):
            if not isinstance(task, dict):
                raise WorkerError(f"{where}: tasks[{i}] must be a mapping, not {type(task).__name__}")
            if isinstance(task.get("index"), (int, str)):
                by_index.setdefault(task["index"], (i, task))
        wanted = task_indexes[0]
        if not isinstance(wanted, (int, str)) or wanted not in by_index:
            raise WorkerError(f"phases[{phase_index}].tasks[0]: task {wanted!r:.80} is not defined in tasks")
        i, task = by_index[wanted]
        for name in ("scoring_program", "ingestion_program", "input_data", "reference_data"):
            value = task.get(name)
            if (value is None and name == "scoring_program") or (value is not None and not isinstance(value, str)):
                raise WorkerError(f"{where}: tasks[{i}].{name} must be a file of the bundle (or a dataset key), "
                                  f"got {value!r:.80}")
        return phase, task


def in_index_order(phases: list[dict]) -> list[dict]:
    """Phases as Codabench numbers them: sorted by their `index` when every phase has an integer one (its unpacker
    sorts before anything else), else in the order listed."""
    indexes = [phase.get("index") for phase in phases]
    if all(isinstance(i, int) and not isinstance(i, bool) for i in indexes):
        return [phase for _, phase in sorted(zip(indexes, phases), key=lambda pair: pair[0])]
    return phases


def program_command(program_dir: Path, job_root: Path) -> list[str]:
    for name in ("metadata.yaml", "metadata"):
        if (program_dir / name).is_file():
            try:
                metadata = load_yaml_file(program_dir / name, label=f"{program_dir.name}/{name}") or {}
            except YamlError as error:
                raise WorkerError(str(error)) from None
            break
    else:
        raise WorkerError(f"{program_dir.name}: no metadata.yaml at the program's root")
    command = metadata.get("command") if isinstance(metadata, dict) else None
    if not command:
        raise WorkerError(f"{program_dir.name}/metadata.yaml: no command")
    # Like the worker: split as a shell would, run without a shell. The container's python is ours.
    arguments = [APP_PATH.sub(str(job_root), part) for part in shlex.split(str(command))]
    if arguments[0] in ("python", "python3"):
        arguments[0] = sys.executable
    return arguments


def _unpack_submission(submission: Path, target: Path) -> None:
    if submission.is_dir():  # an agent's or a user's folder: through the door, no link followed
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_out(submission, target, label=submission.name)
    elif submission.is_file():
        safe_extract(submission, target, label=submission.name)
    else:
        raise WorkerError(f"{submission}: no such file or folder")


@dataclass
class JobContext:
    """What every job of one run shares."""
    logs: Path
    time_limit: float
    sandbox: str  # "require" or "off"
    confine_programs: bool
    log: object = print


def _run_job(name: str, root: Path, program_dir: Path, context: JobContext) -> Job:
    """Run a bundle's program (ingestion or scoring). Its environment is an allowlist (no secret of ours); with
    `confine_programs` (someone else's bundle) it runs under bubblewrap too, seeing only its own job folder."""
    for folder in ("output", "shared", "tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    # A confined job is one sandbox: the bundle's program and the code it starts are the same party's.
    mode = "job" if context.confine_programs else context.sandbox
    env = allowed_environment({"TMPDIR": str(root / "tmp"), SANDBOX_VARIABLE: mode}, keep_markers=True)
    confinement = Confinement(visible={root: True}) if context.confine_programs else None
    stdout = context.logs / f"{name}.stdout.txt"
    # The participant's own output while it runs (the ingestion program's log only has it at the end).
    latest = [root / "output" / "logs" / "stdout.txt", stdout]
    with Heartbeat(f"{name} job", context.time_limit, latest, context.log):
        process = run_process(program_command(program_dir, root), cwd=program_dir, time_limit=context.time_limit,
                              env=env, confinement=confinement, stdout_path=stdout,
                              stderr_path=context.logs / f"{name}.stderr.txt")
    return Job(name, root, process)


class Heartbeat:
    """Every HEARTBEAT_SECONDS while a job runs: '<job>: 60 s of 420 s; last output: <its last line>'."""

    def __init__(self, what: str, limit: float, logs: list[Path], log):
        self.what, self.limit, self.logs, self.log = what, limit, logs, log
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> "Heartbeat":
        self.started = time.monotonic()
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.done.set()
        self.thread.join()

    def _beat(self) -> None:
        while not self.done.wait(HEARTBEAT_SECONDS):
            line = next((last_line(path) for path in self.logs if last_line(path)), "")
            said = f"; last output: {line[:160]}" if line else ""
            self.log(f"  {self.what}: {time.monotonic() - self.started:.0f} s of {self.limit:g} s{said}")


def last_line(path: Path) -> str:
    """The last non-empty line of a log (its tail only: logs can be large)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - 4096))
            lines = handle.read().decode("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def read_scores(path: Path) -> dict[str, float]:
    """scores.json as Codabench reads it: a flat object of finite numbers (else no scores at all)."""
    try:  # a confined scoring program (validate) may have left a link there: never followed
        scores = json.loads(read_regular(path, max_bytes=MAX_SCORES_BYTES))
    except (OSError, ValueError, SubmissionError) as error:
        raise WorkerError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(scores, dict):
        raise WorkerError(f"{path}: must be a JSON object of scores")
    for key, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WorkerError(f"{path}: {key!r} is {value!r}, not a number")
        if not math.isfinite(value) or abs(value) >= 1e10:
            raise WorkerError(f"{path}: {key!r} is {value!r}; Codabench drops non-finite or huge scores")
    return {key: float(value) for key, value in scores.items()}


def check_sandbox(sandbox: bool) -> str:
    """'require' where participant code can be confined; WorkerError where it cannot (no silent downgrade)."""
    if not sandbox:
        return "off"
    problem = sandbox_probe()
    if problem:
        raise WorkerError(problem)
    return "require"


def default_workdir(bundle_path: Path, phase_index: int) -> Path:
    """Where a run goes when no --workdir is given: a named folder, easy to find ($TMPDIR/codabench-runs/...)."""
    base = Path(tempfile.gettempdir()) / "codabench-runs"
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.mkdtemp(prefix=f"{bundle_path.stem}-phase{phase_index}-{stamp}-", dir=base))


def run_submission(bundle_path: Path, submission: Path, *, phase_index: int = 0, workdir: Path | None = None,
                   time_limit: float | None = None, datasets: Path | None = None, log=print, sandbox: bool = True,
                   confine_programs: bool = False) -> RunResult:
    """Run `submission` (zip or folder) against one phase of the bundle, as the compute worker would.

    The participant's code always runs sandboxed (`sandbox=False`: not at all, said loudly); with
    `confine_programs`, so do the bundle's own programs (`validate` runs someone else's bundle)."""
    mode, confine_programs = check_sandbox(sandbox), confine_programs and sandbox
    if not sandbox:
        log("WARNING: --no-sandbox: the submission runs WITHOUT isolation, with access to this machine")
    bundle = Bundle(bundle_path, datasets)
    phase, task = bundle.phase_and_task(phase_index)
    limit = float(time_limit if time_limit is not None else phase.get("execution_time_limit") or 600)
    if workdir is not None and workdir.exists() and any(workdir.iterdir()):
        raise WorkerError(f"{workdir}: exists and is not empty; choose a new folder (nothing is overwritten)")
    root = default_workdir(bundle_path, phase_index) if workdir is None else workdir
    root.mkdir(parents=True, exist_ok=True)
    log(f"work folder: {root}")
    result = RunResult(root=root, phase_index=phase_index, phase_name=str(phase.get("name")), info=bundle.info)
    context = JobContext(root / "logs", limit, mode, confine_programs, log)
    try:
        if _prediction(bundle, task, submission, root, context, result):
            _scoring(bundle, task, root, context, result)
    except (UnsafeArchiveError, WorkerError, SubmissionError) as error:
        result.error = str(error)
    return result


def _prediction(bundle: Bundle, task: dict, submission: Path, root: Path, context: JobContext,
                result: RunResult) -> bool:
    """The prediction job (or a results submission laid out for scoring); False when the run ends here."""
    prediction, results_dir = root / "prediction", root / "scoring" / "input" / "res"
    if not task.get("ingestion_program"):
        context.log("results submission: scored as submitted")
        _unpack_submission(submission, results_dir)
        return True
    context.log(f"prediction job: ingestion program, time limit {context.time_limit:g} s")
    bundle.extract_dataset(task["ingestion_program"], prediction / "program")
    if task.get("input_data"):
        bundle.extract_dataset(task["input_data"], prediction / "input_data")
    _unpack_submission(submission, prediction / "ingested_program")
    job = _run_job("prediction", prediction, prediction / "program", context)
    result.jobs.append(job)
    if job.process.timed_out:
        result.error = job.describe_failure()
        return False
    if job.process.exit_code != 0:
        # Codabench goes on to scoring, which must notice what is missing; we say so.
        result.warnings.append(job.describe_failure())
    if (prediction / "output" / RESERVED_OUTPUT).exists():
        result.error = "the ingestion program wrote output/metadata, a name Codabench's worker reserves"
        return False
    results_dir.parent.mkdir(parents=True, exist_ok=True)
    copy_out(prediction / "output", results_dir, label="the prediction output", max_entries=OUTPUT_ENTRIES)
    return True


def _scoring(bundle: Bundle, task: dict, root: Path, context: JobContext, result: RunResult) -> None:
    """The scoring job, once the answers are unpacked (only now: nothing of the participant runs any more)."""
    scoring = root / "scoring"
    context.log(f"scoring job: time limit {context.time_limit:g} s")
    bundle.extract_dataset(task["scoring_program"], scoring / "program")
    (scoring / "input" / "ref").mkdir(parents=True, exist_ok=True)
    if task.get("reference_data"):
        bundle.extract_dataset(task["reference_data"], scoring / "input" / "ref")
    job = _run_job("scoring", scoring, scoring / "program", context)
    result.jobs.append(job)
    output = scoring / "output"
    if (output / "detailed_results.html").is_file():
        result.detailed_results = output / "detailed_results.html"
    if not job.process.ok:
        result.error = job.describe_failure()
    elif (output / RESERVED_OUTPUT).exists():
        result.error = "the scoring program wrote output/metadata, a name Codabench's worker reserves"
    elif not (output / "scores.json").is_file():
        result.error = "the scoring program exited cleanly but wrote no scores.json (Codabench: 'Could not find scores file')"
    else:
        result.scores = read_scores(output / "scores.json")


def placement(score: float, info: dict) -> str | None:
    """Where a primary score falls among the task's declared reference points (MLE-bench style)."""
    thresholds = info.get("thresholds") or {}
    if not thresholds:
        return None
    higher_is_better = info.get("sorting", "desc") == "desc"

    def reaches(level: float) -> bool:
        return score >= level if higher_is_better else score <= level

    parts = []
    if any(name in thresholds for name in ("gold", "silver", "bronze")):
        medal = next((n for n in ("gold", "silver", "bronze") if n in thresholds and reaches(thresholds[n])), None)
        parts.append(f"{medal} medal" if medal else "no medal")
    if "median" in thresholds:
        parts.append("above the median" if reaches(thresholds["median"]) else "below the median")
    for name, label in (("trivial", "trivial baseline"), ("reference", "reference solution")):
        if name in thresholds:
            if abs(score - thresholds[name]) < 5e-5:
                relation = "matches"
            else:
                relation = "beats" if reaches(thresholds[name]) else "does not beat"
            parts.append(f"{relation} the {label} ({thresholds[name]:.4g})")
    scale, measured_at = info.get("scale"), info.get("thresholds_scale")
    note = f" [thresholds were measured at scale '{measured_at}'; this bundle is '{scale}']" if scale != measured_at else ""
    return "; ".join(parts) + note
