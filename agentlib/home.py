"""An agent's home for one task, staged from a built bundle: what MLE-bench's agents find in /home.

    instructions.txt          the benchmark's rules and where the submission goes (instructions.py)
    submission_format.json    the same submission contract, machine-readable (TaskFacts)
    validate_submission.sh    the format check, without any answer (validate.py; validate/ holds the checker)
    data/                     the first phase's public data, plus description.md: the task's pages in order
    starting_kit/             the first phase's starting kit (what participants download), when there is one
    reference_solution/       only for an agent whose definition lists it in `materials` (the built-in reference)
    submission/ code/ logs/   empty: where the agent writes its submission, its code and its logs
    agent/                    a copy of the agent's folder (its start script, its files)

Only what a participant gets enters the home: the reference data (answers), the input data of code tasks (hidden
data of the same kind) and the ingestion and scoring programs never do. The ingestion program's task.json is read
from the bundle in memory, for the entry file and its arguments.
"""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bundlegen.bundle_format import INGESTION_CONFIG, SAMPLE_FOLDER, SAMPLE_PREFIX, reference_solution
from bundlegen.worker import Bundle

from .definition import AgentDefinition
from .instructions import instructions_text
from .validate import stage_checker

WRITABLE = ("submission", "code", "logs", "agent")  # the folders the agent may write into
DESCRIPTION = "description.md"
FORMAT_FILE = "submission_format.json"


class HomeError(Exception):
    """The bundle cannot give an agent its home (no public data folder, an unreadable member, ...)."""


@dataclass(frozen=True)
class TaskFacts:
    """What the agent must submit, read from the bundle (bundle.json, competition.yaml, the ingestion task.json)."""
    competition_id: str
    title: str
    kind: str  # "results": files scored as submitted; "code": a program the ingestion program runs
    files: list[str] = field(default_factory=list)  # results: the files to submit (the sample submission's)
    entry: str | None = None  # code: the file the platform runs (.py script or .ipynb notebook)
    args: list[str] = field(default_factory=list)  # code: its arguments ({input_data}, {predictions})
    results_files: list[str] = field(default_factory=list)  # code: results accepted in place of the program
    other_files: list[str] = field(default_factory=list)  # code: files its extra runs open (a notebook, a config)
    run_time_limit: float | None = None  # code: seconds per run of the program
    has_starting_kit: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def stage_home(bundle_path: Path, home: Path, agent: AgentDefinition, *, time_limit: float,
               datasets: Path | None = None) -> TaskFacts:
    """Lay out `home` (must not exist) for `agent` on the bundle's first phase; the task's facts."""
    bundle = Bundle(bundle_path, datasets)
    phase, task = bundle.phase_and_task(0)
    home.mkdir(parents=True)
    _stage_data(bundle, phase, home / "data")
    if phase.get("starting_kit"):
        bundle.extract_dataset(phase["starting_kit"], home / "starting_kit")
    if "reference_solution" in agent.model.materials:
        reference_solution(bundle, home / "reference_solution")
    facts = task_facts(bundle)
    rules = instructions_text(facts, time_limit=time_limit, network=agent.network)
    (home / "instructions.txt").write_text(rules, encoding="utf-8")
    (home / FORMAT_FILE).write_text(facts.to_json(), encoding="utf-8")
    stage_checker(bundle, task, home, facts)
    for name in ("submission", "code", "logs"):
        (home / name).mkdir()
    # Our own definition's files: a link in it stays a link (dangling in the sandbox), never pulls in its target.
    shutil.copytree(agent.folder, home / "agent", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return facts


def _stage_data(bundle: Bundle, phase: dict, data: Path) -> None:
    if phase.get("public_data"):
        bundle.extract_dataset(phase["public_data"], data)
    data.mkdir(exist_ok=True)
    if (data / DESCRIPTION).exists():
        raise HomeError(f"{bundle.path.name}: the public data holds a {DESCRIPTION}; the task's pages go there")
    (data / DESCRIPTION).write_text(description_markdown(bundle), encoding="utf-8")


def description_markdown(bundle: Bundle) -> str:
    """The task's rendered pages in order, each under its own heading (MLE-bench's description.md); the terms
    are left out."""
    parts = []
    for page in bundle.competition.get("pages") or []:
        if not isinstance(page, dict) or not isinstance(page.get("file"), str):
            continue
        try:
            text = bundle.archive.read(page["file"]).decode("utf-8", errors="replace").strip()
        except KeyError:
            raise HomeError(f"{bundle.path.name}: page {page['file']!r} is not in the bundle") from None
        parts.append(text if text.startswith("#") else f"# {page.get('title') or page['file']}\n\n{text}")
    if not parts:  # a bundle without pages: its title and description at least
        parts.append(f"# {bundle.competition.get('title') or bundle.path.stem}\n\n"
                     f"{bundle.competition.get('description') or ''}".strip())
    return "\n\n".join(parts) + "\n"


def task_facts(bundle: Bundle) -> TaskFacts:
    info, competition = bundle.info, bundle.competition
    phase, task = bundle.phase_and_task(0)
    common = {"competition_id": str(info.get("task") or bundle.path.stem),
              "title": str(competition.get("title") or ""), "has_starting_kit": bool(phase.get("starting_kit"))}
    kind = info.get("submission_kind") or ("code" if task.get("ingestion_program") else "results")
    if kind != "code":
        # the names the scorer reads (bundle.json), else those of the sample (a bundle of an older builder)
        files = list(info.get("results_files") or []) or _sample_names(bundle, phase)
        return TaskFacts(kind="results", files=files, **common)
    config = _ingestion_config(bundle, task)
    return TaskFacts(kind="code", entry=config.get("entry"), args=list(config.get("args") or []),
                     results_files=list(config.get("results_files") or []), other_files=_other_files(config),
                     run_time_limit=config.get("time_limit"), **common)


def _other_files(config: dict) -> list[str]:
    """The names of the submission's files the ingestion's extra runs open (another notebook, the config they
    edit): names only, never the values a run sets (hidden values of the task)."""
    names: list[str] = []
    for run in config.get("runs") or []:
        edit = run.get("config_edit") if isinstance(run.get("config_edit"), dict) else {}
        for name in (run.get("entry"), edit.get("file")):
            if isinstance(name, str) and name not in (config.get("entry"), *names):
                names.append(name)
    return names


def _inner_names(bundle: Bundle, member: str) -> list[str]:
    """The file names of a zip inside the bundle ([] when it is not there, e.g. a dataset uploaded apart)."""
    try:
        with zipfile.ZipFile(io.BytesIO(bundle.archive.read(member))) as inner:
            return [name for name in inner.namelist() if not name.endswith("/")]
    except (KeyError, zipfile.BadZipFile):
        return []


def _sample_names(bundle: Bundle, phase: dict) -> list[str]:
    """A results task's files: those of the kit's sample_submission/, else the public data's sample_<file>."""
    prefix = f"{SAMPLE_FOLDER}/"
    kit = [name[len(prefix):] for name in _inner_names(bundle, phase.get("starting_kit") or "")
           if name.startswith(prefix)]
    if kit:
        return sorted(kit)
    public = _inner_names(bundle, phase.get("public_data") or "")
    return sorted(name[len(SAMPLE_PREFIX):] for name in public if name.startswith(SAMPLE_PREFIX) and "/" not in name)


def _ingestion_config(bundle: Bundle, task: dict) -> dict:
    try:
        with zipfile.ZipFile(io.BytesIO(bundle.archive.read(task["ingestion_program"]))) as program:
            return json.loads(program.read(INGESTION_CONFIG))
    except (KeyError, zipfile.BadZipFile, ValueError) as error:
        raise HomeError(f"{bundle.path.name}: cannot read the ingestion program's {INGESTION_CONFIG} "
                        f"({error})") from None
