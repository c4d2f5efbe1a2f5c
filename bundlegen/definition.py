"""bundle.yaml: the declarative definition of one task, parsed with pydantic.

Every problem is collected and reported with the file and the field (`phases[1].start`), not only the first.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from programlib.safe_yaml import YamlError, load_yaml_file

from .project import DEFINITION_FILE, Project

SCALES = ("tiny", "small", "full")
SUBMISSION_RULES = ("Add", "Add_And_Delete", "Add_And_Delete_Multiple", "Force_Last", "Force_Latest_Multiple",
                    "Force_Best")
# Placeholders a code task's `args` may use; the ingestion program fills them in.
ARG_PLACEHOLDERS = ("{input_data}", "{predictions}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Page(Strict):
    title: str = Field(min_length=1, max_length=64)
    file: str


class Phase(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    start: dt.datetime
    end: dt.datetime | None = None
    max_submissions: int = Field(default=100, ge=0)
    max_submissions_per_day: int = Field(default=5, ge=0)
    execution_time_limit: int = Field(default=600, gt=0)
    # Which draw of the hidden inputs and answers this phase grades on (code tasks): a later phase on a draw no
    # earlier phase used cannot be answered from what the earlier phase's logs showed.
    hidden_draw: int = Field(default=0, ge=0)
    hide_output: bool = False  # Codabench hides the phase's logs and outputs from participants

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        # An unquoted YAML date arrives as a date; Codabench reads dates as naive UTC.
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return dt.datetime(value.year, value.month, value.day)
        return value

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("write the date in UTC without an offset (Codabench discards offsets)")
        return value


class Column(Strict):
    key: str = Field(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9_]+$")
    title: str = Field(min_length=1, max_length=36)
    sorting: Literal["asc", "desc"] = "desc"
    precision: int = Field(default=4, ge=0, le=10)
    hidden: bool = False


class Leaderboard(Strict):
    title: str = Field(default="Results", max_length=64)
    key: str = Field(default="main", max_length=36)
    submission_rule: Literal[SUBMISSION_RULES] = "Force_Last"  # type: ignore[valid-type]
    primary: str
    columns: list[Column] = Field(min_length=1)


class ConfigEdit(Strict):
    """Values set in a YAML file of the submission before a run (a key is found at any depth, or `a.b`): `set`
    gives them, or `set_from` names a JSON file of the task's input data holding {run name: {key: value}}, so
    each hidden draw changes other values."""
    file: str = Field(min_length=1)
    set: dict[str, Any] | None = Field(default=None, min_length=1)
    set_from: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.json$")

    @model_validator(mode="after")
    def _one_source(self) -> "ConfigEdit":
        if (self.set is None) == (self.set_from is None):
            raise ValueError("give the values with either `set` or `set_from`, not both or neither")
        return self


class ExtraRun(Strict):
    """One more run of the submission after the main one, in a fresh copy of it (e.g. a changed config)."""
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    entry: str | None = None  # default: the main entry
    args: list[str] | None = None  # default: the main args
    config_edit: ConfigEdit | None = None


class SubmissionLimits(Strict):
    """What a code submission's processes may use where the local worker runs them (Docker's job on Codabench)."""
    memory_mb: float | None = Field(default=16384, gt=0)  # memory of the whole process tree, its /tmp included
    cpu_seconds: float | None = Field(default=None, gt=0)  # CPU time of each process
    max_processes: int | None = Field(default=1024, gt=0)  # processes and threads alive at once (cgroup pids.max)
    max_output_mb: float | None = Field(default=64, gt=0)  # printed to stdout and stderr together
    max_file_mb: float | None = Field(default=8192, gt=0)  # any one file written
    max_disk_mb: float | None = Field(default=16384, gt=0)  # its working and predictions folders, in all
    network: bool = False  # False: no network (a private namespace with loopback only)
    private_files: Literal[True] = True  # always: a private root with the system, Python, its inputs and outputs


class Submission(Strict):
    kind: Literal["results", "code"]
    # results: the files a submission must hold. code: the program the ingestion program runs (a .py
    # script, or an .ipynb notebook executed on a real kernel), and optionally `files`, results the
    # ingestion program then also accepts in place of the program.
    files: list[str] = []
    entry: str | None = None
    args: list[str] = []
    time_limit: int | None = Field(default=None, gt=0)  # per run
    runs: list[ExtraRun] = []
    limits: SubmissionLimits = SubmissionLimits()
    # The ingestion program records what each matplotlib figure a script saves plots, for a grader that checks
    # a plot's content (plot_record.jsonl); off for every other task.
    record_plots: bool = False


class Thresholds(Strict):
    """MLE-bench-style reference points for the primary column at the default scale."""
    gold: float | None = None
    silver: float | None = None
    bronze: float | None = None
    median: float | None = None
    trivial: float | None = None
    reference: float | None = None
    # Known scores of the real competition's final leaderboard by place ({8: 22.03}), where its medal lines cannot be
    # derived (MLE-bench's rule needs the number of teams): kept for reference, never used as a medal.
    places: dict[int, float] | None = None


class TaskModel(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1, max_length=256)
    description: str = Field(min_length=1)
    logo: str = "logo.png"
    terms: str = "pages/terms.md"
    pages: list[Page] = Field(min_length=1)
    docker_image: str
    scoring_program: str
    ingestion_program: str | None = None
    submission: Submission
    phases: list[Phase] = Field(min_length=1)
    leaderboard: Leaderboard
    thresholds: Thresholds | None = None  # for the synthetic data at the default scale
    thresholds_raw: Thresholds | None = None  # for the real data at the full scale (e.g. the Kaggle leaderboard)
    public_reference: list[str] = []  # reference files participants also get (not answers), e.g. labels.csv
    starting_kit: str | None = None
    solution: str | None = None  # a folder of the starting kit, or "." for the whole kit
    scales: dict[Literal[SCALES], dict[str, Any]]  # type: ignore[valid-type]
    default_scale: Literal[SCALES] = "small"  # type: ignore[valid-type]
    seed: int = 0
    contact_email: str | None = None
    # What `build --raw-data DIR` needs in DIR, in one line; false: the task takes no raw data (always generated).
    raw_data: str | Literal[False] | None = None

    @property
    def raw_data_help(self) -> str:
        if self.raw_data is False:
            return "takes no raw data (its data is always generated)"
        return self.raw_data or "not described in its bundle.yaml (see its prepare.py)"


class Scale(str):
    """The chosen scale, for the builder and the pages: its name (a str: "tiny", "small" or "full") that also
    carries that scale's parameters from bundle.yaml in `.params`. prepare() never sees it: it gets a plain dict
    of the parameters (see data.prepare_data)."""

    params: dict

    def __new__(cls, name: str, params: dict | None = None) -> "Scale":
        scale = super().__new__(cls, name)
        scale.params = dict(params or {})
        return scale

    @property
    def name(self) -> str:
        return str(self)


@dataclass(frozen=True)
class TaskDefinition:
    model: TaskModel
    folder: Path
    project: Project

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def is_code(self) -> bool:
        return self.model.submission.kind == "code"

    def scale(self, name: str | None = None) -> Scale:
        name = name or self.model.default_scale
        if name not in self.model.scales:
            raise DefinitionError([f"{self.definition_file}: scales: no scale {name!r} "
                                   f"(defined: {', '.join(self.model.scales)})"])
        return Scale(name, dict(self.model.scales[name]))

    @property
    def definition_file(self) -> str:
        return self.project.relative(self.folder / DEFINITION_FILE)

    @property
    def primary_column(self) -> Column:
        return next(c for c in self.model.leaderboard.columns if c.key == self.model.leaderboard.primary)

    @property
    def hidden_draws(self) -> list[int]:
        """The distinct hidden draws the phases grade on, in order of first use: one Codabench task each."""
        return list(dict.fromkeys(phase.hidden_draw for phase in self.model.phases))

    def starting_kit_dir(self) -> Path | None:
        return self.project.starting_kits().get(self.model.starting_kit) if self.model.starting_kit else None


class DefinitionError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def location(loc: tuple) -> str:
    """pydantic's ('phases', 1, 'start') → 'phases[1].start'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def load_task(folder: Path, project: Project | None = None) -> TaskDefinition:
    """Parse and check bundles/<task>/bundle.yaml; raise DefinitionError listing every problem."""
    project = project or Project()
    path = folder / DEFINITION_FILE
    name = project.relative(path)
    try:
        data = load_yaml_file(path, label=name)
    except FileNotFoundError:
        raise DefinitionError([f"{name}: file not found"]) from None
    except YamlError as error:
        raise DefinitionError([str(error)]) from None
    if not isinstance(data, dict):
        raise DefinitionError([f"{name}: the top level must be a mapping of fields"])
    try:
        model = TaskModel.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            message = "required field is missing" if item["type"] == "missing" else (
                "unknown field" if item["type"] == "extra_forbidden" else item["msg"])
            problems.append(f"{name}: {location(item['loc'])}: {message}")
        raise DefinitionError(problems) from None
    task = TaskDefinition(model, folder, project)
    try:
        problems = [f"{name}: {where}: {message}" for where, message in _cross_checks(task)]
    except YamlError as error:  # a file the checks read: docker/<image>/image.yaml
        problems = [str(error)]
    if problems:
        raise DefinitionError(problems)
    return task


def _cross_checks(task: TaskDefinition):
    """Checks pydantic cannot do alone: references to files, programs and other fields."""
    model = task.model
    yield from _check_id(task)
    yield from _check_task_files(task)
    yield from _check_known_names(task)
    if model.submission.kind == "code":
        yield from _check_code_submission(model)
    else:
        yield from _check_results_submission(model)
    yield from _check_phases(model)
    yield from _check_leaderboard(model.leaderboard)
    yield from _check_scales(model)
    yield from _check_solution(task)


def _check_id(task: TaskDefinition):
    if task.model.id != task.folder.name:
        yield "id", f"{task.model.id!r} must equal the task's folder name {task.folder.name!r}"


def _check_task_files(task: TaskDefinition):
    """The logo, terms and pages exist and are not empty; prepare.py exists."""
    model, folder, project = task.model, task.folder, task.project
    for where, relative in [("logo", model.logo), ("terms", model.terms)] + [
            (f"pages[{i}].file", page.file) for i, page in enumerate(model.pages)]:
        file = folder / relative
        if not file.is_file():
            yield where, f"file {relative!r} not found in {project.relative(folder)}"
        elif file.stat().st_size == 0:
            yield where, f"file {relative!r} is empty"
    if not (folder / "prepare.py").is_file():
        yield "(task folder)", "prepare.py not found: every task needs prepare(raw_dir, out_dir, params, seed)"


def _check_known_names(task: TaskDefinition):
    """Programs, image and starting kit name folders the project has."""
    model, project = task.model, task.project
    for where, name, known in [("scoring_program", model.scoring_program, project.scoring_programs()),
                               ("ingestion_program", model.ingestion_program, project.ingestion_programs()),
                               ("docker_image", model.docker_image, project.images()),
                               ("starting_kit", model.starting_kit, project.starting_kits())]:
        if name is not None and name not in known:
            yield where, f"unknown {where.replace('_', ' ')} {name!r} (known: {', '.join(known) or 'none'})"


def _check_code_submission(model: TaskModel):
    submission = model.submission
    if model.ingestion_program is None:
        yield "ingestion_program", "a code submission needs an ingestion program to run it"
    if not submission.entry:
        yield "submission.entry", "a code submission must name the program the ingestion program runs"
    if submission.time_limit is None:
        yield "submission.time_limit", "a code submission needs a time limit in seconds"
    for i, arg in enumerate(submission.args):
        for placeholder in _unknown_placeholders(arg):
            yield f"submission.args[{i}]", f"unknown placeholder {placeholder} (known: {', '.join(ARG_PLACEHOLDERS)})"
    for entry, where in [(submission.entry, "submission.entry")] + [
            (run.entry, f"submission.runs[{i}].entry") for i, run in enumerate(submission.runs)]:
        if entry and not entry.endswith((".py", ".ipynb")):
            yield where, f"{entry!r}: the ingestion program runs .py scripts and .ipynb notebooks"
    yield from _check_extra_runs(submission)


def _check_extra_runs(submission: Submission):
    """Run names are unique and not 'main'; run args use known placeholders."""
    names = [run.name for run in submission.runs]
    for i, run in enumerate(submission.runs):
        if run.name == "main" or run.name in names[:i]:
            yield f"submission.runs[{i}].name", f"{run.name!r} is taken (names are unique, and not 'main')"
        for j, arg in enumerate(run.args or []):
            for placeholder in _unknown_placeholders(arg):
                yield f"submission.runs[{i}].args[{j}]", f"unknown placeholder {placeholder}"


def _check_results_submission(model: TaskModel):
    submission = model.submission
    if model.ingestion_program is not None:
        yield "ingestion_program", "a results submission is scored as submitted: remove the ingestion program"
    if not submission.files:
        yield "submission.files", "a results submission must list the files it holds"
    if submission.runs:
        yield "submission.runs", "a results submission is not run"


def _check_phases(model: TaskModel):
    for i, phase in enumerate(model.phases):
        yield from _check_phase_dates(model.phases, i)
        yield from _check_phase_time_limit(i, phase, model.submission)
        if phase.hidden_draw and model.submission.kind != "code":
            yield (f"phases[{i}].hidden_draw", "only a code submission is run on hidden inputs: a results task's "
                   "hidden part is the answers to its public inputs, the same in every phase")


def _check_phase_dates(phases: list[Phase], i: int):
    """Phase i ends after it starts, and starts after phase i - 1 ends; only the last may stay open."""
    phase = phases[i]
    if phase.end is None and i != len(phases) - 1:
        yield f"phases[{i}].end", "every phase but the last needs an end date"
    if phase.end is not None and phase.end <= phase.start:
        yield f"phases[{i}].end", f"{phase.end} is not after the start {phase.start}"
    if i > 0:
        previous = phases[i - 1]
        if previous.end is not None and phase.start <= previous.end:
            yield f"phases[{i}].start", f"{phase.start} must be after phase {i - 1}'s end {previous.end}"


def _check_phase_time_limit(i: int, phase: Phase, submission: Submission):
    if submission.time_limit is not None:
        runs = 1 + len(submission.runs)  # every run may take the whole time limit
        if submission.time_limit * runs >= phase.execution_time_limit:
            needed = f"{runs} × submission.time_limit" if runs > 1 else "submission.time_limit"
            yield (f"phases[{i}].execution_time_limit", f"{phase.execution_time_limit} s must exceed {needed} "
                   f"({submission.time_limit * runs} s), which the ingestion program enforces")
    if phase.execution_time_limit > 600:
        yield f"phases[{i}].execution_time_limit", "Codabench's default queue caps every job at 600 s"


def _check_leaderboard(leaderboard: Leaderboard):
    """Column keys are unique; the primary key names a visible column."""
    keys = [column.key for column in leaderboard.columns]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            yield f"leaderboard.columns[{i}].key", f"{key!r} is used by another column"
    if leaderboard.primary not in keys:
        yield "leaderboard.primary", f"{leaderboard.primary!r} is not a column key ({', '.join(keys)})"
    elif next(c for c in leaderboard.columns if c.key == leaderboard.primary).hidden:
        yield "leaderboard.primary", "the primary column must be visible"


def _check_scales(model: TaskModel):
    for scale in SCALES:
        if scale not in model.scales:
            yield "scales", f"scale {scale!r} is missing (every task defines tiny, small and full)"


def _check_solution(task: TaskDefinition):
    """The solution folder is inside the starting kit."""
    model = task.model
    if model.solution is not None and task.starting_kit_dir() is not None:
        if model.solution != "." and not (task.starting_kit_dir() / model.solution).is_dir():
            yield "solution", f"folder {model.solution!r} not found in starting_kits/{model.starting_kit}"
    elif model.solution is not None and model.starting_kit:
        pass  # an unknown starting kit: said once, by _check_known_names
    elif model.solution is not None:
        yield "solution", "a solution folder is looked up inside the starting kit: set starting_kit"


def _unknown_placeholders(arg: str) -> list[str]:
    return sorted(set(_placeholders(arg)) - set(ARG_PLACEHOLDERS))  # sorted: the same message every run


def _placeholders(text: str) -> list[str]:
    return re.findall(r"\{[^{}]*\}", text)


def load_all(project: Project | None = None) -> dict[str, TaskDefinition]:
    """Every task of the project; DefinitionError lists the problems of all of them together."""
    project = project or Project()
    tasks, problems = {}, []
    for task_id, folder in project.task_dirs().items():
        try:
            tasks[task_id] = load_task(folder, project)
        except DefinitionError as error:
            problems.extend(error.problems)
    if problems:
        raise DefinitionError(problems)
    return tasks
