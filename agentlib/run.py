"""Run an agent on one task under the participant's sandbox, then grade what it submitted as a participant's.

    rollout = run_agent("dummy", "default", Path("dist/churn-spec.zip"), Path("runs/dummy-churn"))
    grade = grade_rollout(rollout, Path("dist/churn-spec.zip"))

The agent runs confined exactly as participant code is (programlib.runner.run_process with a Confinement:
bubblewrap, uid 65534 without capabilities, seccomp, a kernel cgroup for its memory and processes, an allowlisted
environment, no network unless its definition says `network: host`, no GPU device unless it asks for one). It
sees only its home (home.py), bound at /home: data/ and the rest read-only, submission/, code/, logs/ and agent/
writable, each a bind of the staged folder (what it writes lands there, and is copied out through the door).
Nothing is at the host path of its home (only /proc/self/mountinfo names it, as a container's does); the answers,
the bundle, the project and the rollout folder are not in its view either; it is graded only after it has ended.
Its peak memory is the kernel's (its cgroup's high-water mark), or sampled from /proc (usage.py) where no cgroup
can be made.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Mapping

from bundlegen.bundle_format import NotInBundle
from bundlegen.worker import WorkerError, placement, run_submission
from programlib import cgroups
from programlib.archive import UnsafeArchiveError
from programlib.errors import SubmissionError
from programlib.runner import Limits, ProcessResult, allowed_environment, run_process
from programlib.sandbox import Confinement, probe as sandbox_probe
from programlib.transfer import copy_out

from .definition import DEFAULT_VARIANT, AgentDefinition, Variant, find_agent
from .home import WRITABLE, HomeError, TaskFacts, stage_home
from .rollout import OUTPUTS, Rollout, decide, files_under
from .usage import INTERVAL, PeakMemory

LAUNCHER = Path(__file__).resolve().parent / "launcher.py"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
MAX_PROCESSES = 4096  # processes and threads at once (cgroup pids.max): an agent runs more than one program
MAX_OUTPUT_MB = 256


class RolloutError(Exception):
    """The rollout cannot start (the bundle cannot give the agent its home, the folder is taken): never the
    agent's doing."""


def run_agent(agent: AgentDefinition | str, variant: str | None, bundle_path: Path, work_dir: Path, *,
              time_limit: float | None = None, env: Mapping[str, str] | None = None, sandbox: bool = True,
              datasets: Path | None = None, stop: threading.Event | None = None, log=print) -> Rollout:
    """Stage the agent's home from the bundle, run its start command confined, keep what it left in `work_dir`
    (must be new or empty) and record rollout.json. `env`: the environment its env_vars are taken from, by name
    (default: ours). `sandbox=False` runs it WITHOUT isolation (said in the record); where bubblewrap cannot run,
    the rollout ends `sandbox_unavailable` and nothing runs."""
    agent = agent if isinstance(agent, AgentDefinition) else find_agent(agent)
    variant = variant or DEFAULT_VARIANT
    chosen = agent.variant(variant)
    limit = float(time_limit if time_limit is not None else agent.time_limit(chosen))
    if work_dir.exists() and any(work_dir.iterdir()):
        raise RolloutError(f"{work_dir}: exists and is not empty; choose a new folder (nothing is overwritten)")
    work_dir.mkdir(parents=True, exist_ok=True)
    rollout = Rollout(folder=work_dir, agent=agent.id, variant=variant, task=bundle_path.stem,
                      bundle=bundle_path.name, time_limit=limit, resources=agent.model.resources.model_dump(),
                      network=agent.model.network, started_at=dt.datetime.now(dt.timezone.utc).isoformat())
    problem = sandbox_probe() if sandbox else None
    if problem:
        rollout.status, rollout.message = "sandbox_unavailable", f"the agent was not started: {problem}"
        rollout.save()
        return rollout
    home = work_dir / "home"
    log(f"[{agent.id}] staging its home for {bundle_path.name}")
    try:
        facts = stage_home(bundle_path, home, agent, time_limit=limit, datasets=datasets)
    except (WorkerError, NotInBundle, HomeError, UnsafeArchiveError, OSError) as error:
        shutil.rmtree(home, ignore_errors=True)
        raise RolloutError(f"cannot stage the agent's home from {bundle_path.name}: {error}") from None
    rollout.task = facts.competition_id
    try:
        _run_and_collect(rollout, agent, chosen, facts, home, sandbox, env, stop, log)
    finally:
        shutil.rmtree(home, ignore_errors=True)  # the public data's copy; what the agent left is copied out
    rollout.save()
    log(f"[{agent.id}] {rollout.status}: {rollout.message}")
    return rollout


def _run_and_collect(rollout: Rollout, agent: AgentDefinition, variant: Variant, facts: TaskFacts, home: Path,
                     sandbox: bool, env: Mapping[str, str] | None, stop, log) -> None:
    inside = Path("/home") if sandbox else home.resolve()  # unconfined, there is no /home of its own
    variables = agent_environment(agent, variant, facts, rollout.time_limit, inside, env, rollout)
    resources = agent.model.resources
    limits = Limits(memory_mb=resources.memory_gb * 1024, max_processes=MAX_PROCESSES, max_output_mb=MAX_OUTPUT_MB,
                    max_disk_mb=resources.disk_gb * 1024, network=agent.network)
    rollout.warnings += gpu_warnings(resources.gpus)
    log(f"[{agent.id}] running variant {rollout.variant!r} (time limit {rollout.time_limit:g} s, network "
        f"{agent.model.network}, {resources.cpus} CPU, {resources.memory_gb:g} GB)")
    # Sampled only where the run gets no cgroup (the kernel's high-water mark is exact, and costs nothing).
    sampler = PeakMemory(str(home.resolve())) if cgroups.probe() is not None else None
    with sampler or contextlib.nullcontext():
        process = _start(agent, variant, home, variables, limits, sandbox, rollout, stop)
    rollout.exit_code, rollout.wall_seconds = process.exit_code, round(process.duration, 3)
    rollout.protections = dict(process.protections)
    rollout.peak_memory_mb, rollout.protections["peak_memory"] = peak_memory(process, sampler)
    copy_problems = collect_outputs(home, rollout.folder)
    rollout.submission_files = files_under(rollout.folder / "submission")
    rollout.code_files = files_under(rollout.folder / "code")
    rollout.log_files = files_under(rollout.folder / "logs")
    rollout.status, rollout.message = decide(process, copy_problems, rollout.submission_files,
                                             expected_files(facts, rollout.submission_files))


def peak_memory(process: ProcessResult, sampler: PeakMemory | None) -> tuple[float | None, str]:
    """(peak MB, how it was measured)."""
    if process.peak_memory_mb is not None:
        return process.peak_memory_mb, "its cgroup's high-water mark (the kernel's: memory, page cache and tmpfs)"
    if sampler is not None and sampler.peak_mb is not None:
        return sampler.peak_mb, f"sampled every {INTERVAL:g} s from /proc (resident memory; no cgroup here)"
    return None, "not measured"


def expected_files(facts: TaskFacts, submitted: list[str]) -> list[str]:
    """What the task looks for at the submission's top level: its results files, or the program's entry (or the
    results files a code task also accepts in its place)."""
    if facts.kind == "results":
        return facts.files
    if facts.results_files and all(name in submitted for name in facts.results_files):
        return facts.results_files
    return [facts.entry] if facts.entry else []


def gpu_warnings(gpus: int) -> list[str]:
    found = len(list(Path("/dev").glob("nvidia[0-9]*")))
    if gpus > found:
        return [f"the agent asks for {gpus} GPU(s); this machine has {found}: it runs with what there is"]
    return []


def _start(agent: AgentDefinition, variant: Variant, home: Path, variables: dict, limits: Limits, sandbox: bool,
           rollout: Rollout, stop) -> ProcessResult:
    logs = {"stdout_path": rollout.folder / "agent_stdout.txt", "stderr_path": rollout.folder / "agent_stderr.txt"}
    if not sandbox:
        rollout.warnings.append("--no-sandbox: the agent ran WITHOUT isolation, with access to this machine; "
                                "its home was not at /home (its folders are in SUBMISSION_DIR, DATA_DIR, ...)")
        process = run_process(agent.command(variant), cwd=home / "agent", time_limit=rollout.time_limit,
                              env=allowed_environment(variables), limits=limits, stop=stop, **logs)
        process.protections["sandbox"] = "none (--no-sandbox was given)"
        return process
    resources = agent.model.resources
    command = [sys.executable, "-I", "-c", LAUNCHER.read_text(), str(resources.cpus), "--", *agent.command(variant)]
    process = run_process(command, cwd=home.resolve() / "agent", time_limit=rollout.time_limit, env=variables,
                          limits=limits, confinement=home_confinement(agent, home), stop=stop, **logs)
    process.protections["home"] = ("/home: its staged home bound there (data and the rest read-only; submission, "
                                   "code, logs and agent writable); nothing at its host path")
    process.protections["cpus"] = f"{resources.cpus} (thread variables and CPU affinity)"
    process.protections["gpus"] = (f"the machine's NVIDIA devices (CUDA_VISIBLE_DEVICES: the first {resources.gpus})"
                                   if resources.gpus else "none (no GPU device in its view)")
    return process


def home_confinement(agent: AgentDefinition, home: Path) -> Confinement:
    """The staged home at /home, read-only, and its writable folders bound on top at /home/<name>: real binds,
    so the agent neither finds nor reaches its home at its host path."""
    staged = home.resolve()
    mounts = {"/home": (staged, False), **{f"/home/{name}": (staged / name, True) for name in WRITABLE}}
    return Confinement(mounts=mounts, network=agent.network, gpus=agent.model.resources.gpus > 0)


def agent_environment(agent: AgentDefinition, variant: Variant, facts: TaskFacts, time_limit: float, home: Path,
                      source: Mapping[str, str] | None, rollout: Rollout) -> dict[str, str]:
    """MLE-bench's variables, the variant's, and the env_vars the source environment has (by name only)."""
    resources = agent.model.resources
    variables = {name: str(resources.cpus) for name in THREAD_VARIABLES}
    variables.update(PYTHONUNBUFFERED="1", MPLBACKEND="Agg",
                     CUDA_VISIBLE_DEVICES=",".join(str(i) for i in range(resources.gpus)))  # "": no GPU
    variables.update({key: _text(value) for key, value in variant.env.items()})
    source = os.environ if source is None else source  # trusted: only the names the definition lists leave it
    rollout.env_passed = [name for name in agent.model.env_vars if name in source]
    rollout.env_missing = [name for name in agent.model.env_vars if name not in source]
    variables.update({name: source[name] for name in rollout.env_passed})
    interpreter = str(Path(sys.executable).parent)  # `python` is this interpreter, with the project's packages
    path = allowed_environment().get("PATH", "/usr/bin:/bin")
    variables.update(SUBMISSION_DIR=str(home / "submission"), LOGS_DIR=str(home / "logs"),
                     CODE_DIR=str(home / "code"), AGENT_DIR=str(home / "agent"), DATA_DIR=str(home / "data"),
                     COMPETITION_ID=facts.competition_id, TIME_LIMIT_SECS=f"{time_limit:g}",
                     PATH=f"{interpreter}:{path}")
    return variables


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def collect_outputs(home: Path, rollout_dir: Path) -> list[str]:
    """Copy submission/, code/ and logs/ out of the home through the door; the problems, one per folder."""
    problems = []
    for name in OUTPUTS:
        try:  # trusted: copy_out opens every name without following a link and writes only new plain files
            copy_out(home / name, rollout_dir / name, label=f"/home/{name}")
        except SubmissionError as error:
            problems.append(str(error))
    return problems


def grade_rollout(rollout: Rollout, bundle_path: Path, *, datasets: Path | None = None, sandbox: bool = True,
                  time_limit: float | None = None, log=print) -> dict:
    """Run the rollout's submission through the bundle's own ingestion and scoring (the local compute worker),
    exactly as a participant's; record the grade in rollout.json and return it."""
    if not rollout.submission_files:
        grade = {"status": "not_graded", "message": "the agent left no submission to grade"}
    else:
        log(f"[{rollout.agent}] grading its submission through the bundle's programs")
        try:
            run = run_submission(bundle_path, rollout.submission_dir, workdir=rollout.folder / "grading",
                                 time_limit=time_limit, datasets=datasets, log=log, sandbox=sandbox)
        except WorkerError as error:
            grade = {"status": "error", "message": str(error)}
        else:
            grade = grade_record(run)
    rollout.grade = grade
    rollout.save()
    return grade


def grade_record(run) -> dict:
    """What a rollout keeps of a worker's RunResult: scores, the primary score and where it falls."""
    primary = run.info.get("primary")
    score = (run.scores or {}).get(primary)
    record = {"status": "graded" if run.ok else "invalid", "scores": run.scores, "primary": primary, "score": score,
              "placement": placement(score, run.info) if score is not None else None, "error": run.error,
              "warnings": list(run.warnings), "workdir": "grading"}
    if run.detailed_results is not None:
        record["detailed_results"] = str(run.detailed_results.relative_to(run.root.parent))
    return record
