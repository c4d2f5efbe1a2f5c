"""agent.yaml: the declarative definition of one agent, parsed with pydantic (as bundle.yaml is for a task).

    id: dummy                        # must equal the folder's name
    description: Submits the sample submission.
    start: main.py                   # a script of the agent's folder (.py: python, .sh: bash, else run as is),
                                     # or a command list run in /home/agent, e.g. [python, -m, aide]
    kwargs_style: argparse           # variant kwargs as `--key value` (argparse) or `key=value` (omegaconf)
    variants:                        # named variants; `default` always exists (empty unless declared)
      default: {}
      fast: {kwargs: {steps: 5}, env: {STEP_LIMIT: "5"}, time_limit: 600}
    resources: {cpus: 2, memory_gb: 8, gpus: 0, disk_gb: 32}
    time_limit: 3600                 # seconds (a variant's time_limit wins)
    network: none                    # none: a private loopback only; host: the machine's network
    env_vars: [OPENAI_API_KEY]       # taken by name from the server's environment, only when set there
    materials: []                    # privileged extras staged read-only in the home: reference_solution
    requires: [openai]               # informational: the Python packages the agent needs

Every problem is collected and reported with the file and the field (`variants.fast.time_limit`), not only the
first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bundlegen.project import ROOT
from programlib.safe_yaml import YamlError, load_yaml_file

DEFINITION_FILE = "agent.yaml"
AGENTS_DIR = ROOT / "agents"
DEFAULT_VARIANT = "default"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Set by the framework for every agent (run.py); a definition may not replace them.
RESERVED_ENV = ("SUBMISSION_DIR", "LOGS_DIR", "CODE_DIR", "AGENT_DIR", "COMPETITION_ID", "TIME_LIMIT_SECS",
                "DATA_DIR", "HOME", "PATH", "TMPDIR")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(Strict):
    description: str = ""
    kwargs: dict[str, Any] = {}  # passed to the start command (kwargs_style)
    env: dict[str, Any] = {}  # set in the agent's environment, e.g. STEP_LIMIT
    time_limit: float | None = Field(default=None, gt=0)  # seconds; the agent's time_limit when absent


class Resources(Strict):
    cpus: int = Field(default=1, ge=1)  # threads (OMP/MKL/...) and the CPUs its processes may run on
    memory_gb: float = Field(default=8, gt=0)  # its whole process tree, /tmp included (kernel cgroup)
    gpus: int = Field(default=0, ge=0)  # CUDA_VISIBLE_DEVICES: the first N GPUs, none when 0
    disk_gb: float = Field(default=32, gt=0)  # what its writable folders may hold in all


class AgentModel(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = Field(min_length=1)
    start: Any
    kwargs_style: Literal["argparse", "omegaconf"] = "argparse"
    variants: dict[str, Variant] = {}
    resources: Resources = Resources()
    time_limit: float = Field(default=3600, gt=0)
    network: Literal["none", "host"] = "none"
    env_vars: list[str] = []
    materials: list[Literal["reference_solution"]] = []
    requires: list[str] = []

    @field_validator("start")
    @classmethod
    def _start(cls, value: Any) -> str | tuple[str, ...]:
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, list) and value and all(isinstance(part, str) and part for part in value):
            return tuple(value)
        raise ValueError("a script of the agent's folder (e.g. main.py), or a command: a list of non-empty strings")


class AgentError(Exception):
    """One or more problems with agent definitions, or an unknown agent or variant; `problems` lists them."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class AgentDefinition:
    model: AgentModel
    folder: Path

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def network(self) -> bool:
        return self.model.network == "host"

    def variant(self, name: str = DEFAULT_VARIANT) -> Variant:
        variants = {DEFAULT_VARIANT: Variant(), **self.model.variants}
        if name not in variants:
            raise AgentError([f"agent {self.id!r}: no variant {name!r} (known: {', '.join(variants)})"])
        return variants[name]

    def variant_names(self) -> list[str]:
        return list({DEFAULT_VARIANT: None, **self.model.variants})

    def time_limit(self, variant: Variant) -> float:
        return variant.time_limit if variant.time_limit is not None else self.model.time_limit

    def command(self, variant: Variant) -> list[str]:
        """The start command (run in /home/agent) with the variant's kwargs appended."""
        start = self.model.start
        if isinstance(start, str):
            runner = {".py": ["python"], ".sh": ["bash"]}.get(Path(start).suffix, [])
            command = [*runner, start if runner else f"./{start}"]
        else:
            command = list(start)
        for key, value in variant.kwargs.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            command += [f"--{key}", text] if self.model.kwargs_style == "argparse" else [f"{key}={text}"]
        return command


def location(loc: tuple) -> str:
    """pydantic's ('variants', 'fast', 'time_limit') → 'variants.fast.time_limit'; list indexes as [i]."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load_agent(folder: Path) -> AgentDefinition:
    """Parse and check `folder/agent.yaml`; AgentError listing every problem as 'file: field: message'."""
    path = folder / DEFINITION_FILE
    name = _label(path)
    try:
        data = load_yaml_file(path, label=name)
    except FileNotFoundError:
        raise AgentError([f"{name}: file not found"]) from None
    except YamlError as error:
        raise AgentError([str(error)]) from None
    if not isinstance(data, dict):
        raise AgentError([f"{name}: the top level must be a mapping of fields"])
    problems = [f"{name}: {where}: {message}" for where, message in _cross_checks(data, folder)]
    try:
        model = AgentModel.model_validate(data)
    except ValidationError as error:
        problems = [f"{name}: {location(item['loc'])}: {_message(item)}" for item in error.errors()] + problems
    if problems:
        raise AgentError(problems)
    return AgentDefinition(model, folder)


def _message(item: dict) -> str:
    if item["type"] == "missing":
        return "required field is missing"
    if item["type"] == "extra_forbidden":
        return "unknown field"
    if item["type"] == "value_error" and "error" in (item.get("ctx") or {}):
        return str(item["ctx"]["error"])
    return item["msg"]


def _cross_checks(data: dict, folder: Path):
    """What pydantic cannot check alone (the folder's name, the start script, variant and variable names), on the
    raw fields, so they are reported together with pydantic's problems."""
    if isinstance(data.get("id"), str) and data["id"] != folder.name:
        yield "id", f"{data['id']!r} must equal the agent's folder name {folder.name!r}"
    start = data.get("start")
    if isinstance(start, str) and start.strip():
        if Path(start).is_absolute() or ".." in Path(start).parts:
            yield "start", f"{start!r}: a script path relative to the agent's folder"
        elif not (folder / start).is_file():
            yield "start", f"file {start!r} not found in {_label(folder)}"
    variants = data.get("variants")
    for name, variant in (variants.items() if isinstance(variants, dict) else ()):
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", str(name)):
            yield f"variants.{name}", "a variant name is lower-case letters, digits, '-' and '_'"
        for field in ("kwargs", "env"):
            values = variant.get(field) if isinstance(variant, dict) else None
            for key, value in (values.items() if isinstance(values, dict) else ()):
                if not isinstance(value, (str, int, float, bool)):
                    yield f"variants.{name}.{field}.{key}", f"a string, number or boolean, not {type(value).__name__}"
                if field == "env":
                    yield from _check_env_name(f"variants.{name}.env.{key}", key)
    names = data.get("env_vars")
    for i, key in enumerate(names if isinstance(names, list) else ()):
        yield from _check_env_name(f"env_vars[{i}]", key)
        if key in names[:i]:
            yield f"env_vars[{i}]", f"{key!r} is listed twice"


def _check_env_name(where: str, key):
    if not isinstance(key, str) or not ENV_NAME.fullmatch(key):
        yield where, f"{key!r} is not a valid environment variable name"
    elif key in RESERVED_ENV:
        yield where, f"{key} is reserved: the framework sets it for every agent"


def agent_dirs(folder: Path = AGENTS_DIR) -> dict[str, Path]:
    """Agent id (its folder's name) → folder, for every folder of `folder` holding an agent.yaml."""
    if not folder.is_dir():
        return {}
    return {path.parent.name: path.parent for path in sorted(folder.glob(f"*/{DEFINITION_FILE}"))}


def scan_agents(folder: Path = AGENTS_DIR) -> tuple[dict[str, AgentDefinition], list[str]]:
    """The agents of `folder` that load, and the problems of those that do not (one bad agent.yaml does not hide
    the others)."""
    agents, problems = {}, []
    for agent_id, agent_folder in agent_dirs(folder).items():
        try:
            agents[agent_id] = load_agent(agent_folder)
        except AgentError as error:
            problems.extend(error.problems)
    return agents, problems


def load_agents(folder: Path = AGENTS_DIR) -> dict[str, AgentDefinition]:
    """Every agent of `folder` (agents/ by default); AgentError lists the problems of all of them together."""
    agents, problems = scan_agents(folder)
    if problems:
        raise AgentError(problems)
    return agents


def find_agent(agent_id: str, folder: Path = AGENTS_DIR) -> AgentDefinition:
    """One agent by id (only its own definition is read: another agent's mistake does not block it)."""
    folders = agent_dirs(folder)
    if agent_id not in folders:
        raise AgentError([f"no agent {agent_id!r} in {_label(folder)} (known: {', '.join(folders) or 'none'})"])
    return load_agent(folders[agent_id])
