"""Check a bundle zip the way Codabench's v2 unpacker does, and more; report every problem with its path.

Facts behind the checks: ../shared/reference/codabench.md (Codabench's unpacker, serializers and worker).
"""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from programlib.errors import SubmissionError
from programlib.safe_yaml import YamlError, load_yaml_member
from programlib.transfer import read_regular

from .build import MAX_BUNDLE_BYTES
from .bundle_format import BUNDLE_INFO, COMPETITION
from .codabench_fields import MAX_LOGO_PIXELS, NAME_LIMIT, email_problem, image_pixels, image_type
from .datasets import is_dataset_key
from .definition import SUBMISSION_RULES
from .leaks import find_leaks
from .worker import RunResult, WorkerError, run_submission

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$")
SHELL_SYNTAX = re.compile(r"&&|\|\||[|;<>`]|\$")
TASK_FILES = ("scoring_program", "ingestion_program", "input_data", "reference_data")
PROGRAM_FILES = ("scoring_program", "ingestion_program")
# Codabench's models and serializers (codalab/codabench: src/apps/competitions/models.py,
# src/apps/api/serializers/competitions.py)
COMPETITION_TYPES = ("competition", "benchmark")  # Competition.COMPETITION_TYPE
FACT_SHEET_KEYS = {"key", "type", "title", "selection", "is_required", "is_on_leaderboard"}  # validate_fact_sheet
FACT_SHEET_TYPES = {"checkbox", "text", "select"}
DEFAULT_QUEUE_LIMIT = 600  # seconds a job may run on Codabench's default queue


@dataclass
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ValidationReport:
    bundle: Path
    problems: list[Problem] = field(default_factory=list)
    solution_runs: list[tuple[int, RunResult]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def hashable(value) -> bool:
    """Whether a YAML value can be looked up in a set (a list or a mapping where an index belongs cannot)."""
    try:
        hash(value)
    except TypeError:
        return False
    return True


class BundleChecker:
    def __init__(self, path: Path, keep_runs: bool = False, sandbox: bool = True, workdir: Path | None = None):
        self.path = path
        self.keep_runs = keep_runs
        self.sandbox = sandbox
        self.workdir = workdir  # where the solution runs go (default: worker.default_workdir)
        self.report = ValidationReport(path)
        self.archive: zipfile.ZipFile | None = None
        self.names: set[str] = set()
        self.external: list[str] = []  # dataset keys the bundle references instead of files
        self.external_tasks: list[str] = []  # task keys the bundle references instead of defining the tasks
        self.programs_checked: set[str] = set()  # each program zip is checked once, at its first reference

    def problem(self, where: str, message: str) -> None:
        if Problem(where, message) not in self.report.problems:  # e.g. found again by the solution's next run
            self.report.problems.append(Problem(where, message))

    # --- files inside the bundle ---------------------------------------------------------------

    def read(self, name: str) -> bytes:
        return self.archive.read(name)

    def file_exists(self, where: str, value) -> bool:
        """A referenced file or folder exists in the bundle (dataset UUIDs are not checked)."""
        if not isinstance(value, str) or not value:
            self.problem(where, f"must be a file path inside the bundle, got {value!r}")
            return False
        if is_dataset_key(value):
            self.external.append(value)
            return False  # a dataset already on the server: nothing to check here
        if value in self.names or any(n.startswith(value.rstrip("/") + "/") for n in self.names):
            return True
        self.problem(where, f"file {value!r} is not in the bundle")
        return False

    def member_bytes(self, value: str) -> bytes:
        """A file's bytes, or a folder zipped with its contents at the root, as Codabench's zip_if_directory does."""
        if value in self.names and not value.endswith("/"):
            return self.read(value)
        prefix = value.rstrip("/") + "/"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as folder:
            for name in sorted(self.names):
                if name.startswith(prefix) and not name.endswith("/"):
                    folder.writestr(name[len(prefix):], self.read(name))
        return buffer.getvalue()

    def text_file(self, where: str, value) -> None:
        if self.file_exists(where, value) and value in self.names:
            data = self.read(value)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self.problem(where, f"{value!r} is not UTF-8 text")
                return
            if not text.strip():
                self.problem(where, f"{value!r} is empty")

    def zip_file(self, where: str, value) -> zipfile.ZipFile | None:
        if not self.file_exists(where, value):
            return None
        try:
            inner = zipfile.ZipFile(io.BytesIO(self.member_bytes(value)))
            bad = inner.testzip()
        except zipfile.BadZipFile as error:
            self.problem(where, f"{value!r} is not a valid zip file ({error})")
            return None
        if bad is not None:
            self.problem(where, f"{value!r}: entry {bad!r} is corrupt")
            return None
        return inner

    def program(self, where: str, value) -> None:
        if isinstance(value, str):
            if value in self.programs_checked:  # one program shared by several tasks: its problems said once
                return
            self.programs_checked.add(value)
        inner = self.zip_file(where, value)
        if inner is None:
            return
        names = inner.namelist()
        metadata = next((n for n in ("metadata.yaml", "metadata") if n in names), None)
        if metadata is None:
            nested = [n for n in names if n.count("/") == 1 and n.endswith(("/metadata.yaml", "/metadata"))]
            hint = f" (found {nested[0]}: zip the program's files, not its folder)" if nested else ""
            self.problem(where, f"{value!r} has no metadata.yaml at its root{hint}; Codabench would run nothing")
            return
        try:
            document = load_yaml_member(inner, metadata, label=f"{value}:{metadata}")
        except YamlError as error:
            self.problem(where, str(error))
            return
        if not isinstance(document or {}, dict):
            self.problem(where, f"{value}:{metadata} is not a YAML mapping")
            return
        command = (document or {}).get("command")
        if not command or not isinstance(command, str):
            self.problem(where, f"{value}:{metadata} has no command")
            return
        if SHELL_SYNTAX.search(command):
            self.problem(where, f"{value}:{metadata}: command {command!r} runs without a shell: no pipes, "
                                f"&&, redirections or $VARIABLES")
        if command.split()[0] == "python":
            self.problem(where, f"{value}:{metadata}: command starts with 'python'; use 'python3'")

    def bundle_info(self) -> dict:
        """Our own facts about the bundle (bundle.json), when it was made by this builder."""
        try:
            return json.loads(self.read(BUNDLE_INFO))  # lenient: a bundle of another builder may hold anything
        except (KeyError, ValueError):
            return {}

    # --- competition.yaml ----------------------------------------------------------------------

    def run(self, run_solutions: bool, log) -> ValidationReport:
        try:
            self.archive = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as error:
            self.problem(self.path.name, f"not a valid zip file ({error})")
            return self.report
        self.names = set(self.archive.namelist())
        if self.path.stat().st_size > MAX_BUNDLE_BYTES:
            self.problem(self.path.name, f"{self.path.stat().st_size / 1e6:.0f} MB: Codabench hangs unpacking "
                                         f"bundles this big; upload the large data once as datasets")
        if COMPETITION not in self.names:
            nested = sorted(n for n in self.names if n.endswith("/competition.yaml"))
            hint = f" (found {nested[0]}: zip the bundle's contents, not its folder)" if nested else ""
            self.problem(self.path.name, f"no competition.yaml at the root of the zip{hint}")
            return self.report
        try:
            competition = load_yaml_member(self.archive, COMPETITION)
        except YamlError as error:
            self.problem("competition.yaml", error.reason)
            return self.report
        if not isinstance(competition, dict):
            self.problem("competition.yaml", "the top level must be a mapping")
            return self.report
        self.check_top(competition)
        task_indexes = self.check_tasks(competition)
        self.check_solutions(competition, task_indexes)
        self.check_phases(competition, task_indexes)
        columns = self.check_leaderboards(competition)
        for where, message in find_leaks(self.archive, competition, self.bundle_info().get("public_reference", [])):
            self.problem(where, message)
        if self.external:
            log(f"{len(self.external)} file(s) are referenced by dataset keys: their contents are not checked here "
                f"(neither leaks nor the solution run); use `run --datasets FOLDER` to run with the dataset zips")
        if self.external_tasks:
            log(f"{len(self.external_tasks)} task(s) are referenced by task keys: tasks already on a Codabench "
                f"server, which cannot be checked offline (nor the solutions run on them)")
        if run_solutions and not self.report.problems and not self.external and not self.external_tasks:
            self.check_solution_scores(competition, columns, log)
        elif run_solutions and self.report.problems:
            log("the bundled solutions were not run: fix the problems above first")
        return self.report

    def check_top(self, c: dict) -> None:
        # Codabench picks its unpacker by str(version): 2 and '2' both take the v2 one (competitions/tasks.py).
        if str(c.get("version")) != "2":
            self.problem("version", "must be 2 (without it Codabench uses its old unpacker and fails confusingly)")
        title = c.get("title")
        if not isinstance(title, str) or not title.strip():
            self.problem("title", "required")
        elif len(title) > NAME_LIMIT:
            self.problem("title", f"{len(title)} characters; at most {NAME_LIMIT}")
        if "image" not in c:
            self.problem("image", "required (the logo: PNG, JPEG, GIF or WebP)")
        elif self.file_exists("image", c["image"]) and c["image"] in self.names:
            self.check_logo(self.read(c["image"]), c["image"])
        self.check_server_fields(c)
        self.check_fact_sheet(c.get("fact_sheet"))
        if "terms" not in c:
            self.problem("terms", "required (a non-empty UTF-8 file)")
        else:
            self.text_file("terms", c["terms"])
        if "pages" not in c:
            self.problem("pages", "required (the key must exist)")
        elif not isinstance(c["pages"], list):
            self.problem("pages", "must be a list of {title, file}")
        else:
            for i, page in enumerate(c["pages"]):
                if not isinstance(page, dict) or not page.get("title"):
                    self.problem(f"pages[{i}].title", "required")
                if isinstance(page, dict):
                    self.text_file(f"pages[{i}].file", page.get("file"))
        image = c.get("docker_image")
        if not image:
            self.problem("docker_image", "not set: Codabench would run the programs in codalab-legacy:py37 (Python 3.7)")
        elif len(str(image)) > 128:
            self.problem("docker_image", "at most 128 characters")
        if "leaderboard" in c and "leaderboards" not in c:
            self.problem("leaderboard", "the key is 'leaderboards' (plural); 'leaderboard' is ignored")

    def check_logo(self, data: bytes, name: str) -> None:
        if image_type(data) is None:
            self.problem("image", f"{name!r} is not a PNG, JPEG, GIF or WebP image (checked by content)")
            return
        pixels = image_pixels(data)
        if pixels is not None and pixels > MAX_LOGO_PIXELS:
            self.problem("image", f"{name!r} has {pixels:,} pixels: Codabench's image library refuses more than "
                                  f"{MAX_LOGO_PIXELS:,} (a decompression bomb); use a small logo")

    def check_server_fields(self, c: dict) -> None:
        """Fields Codabench's Competition model and unpacker check: the type, the contact e-mail, the queue."""
        kind = c.get("competition_type", "competition")
        if not hashable(kind) or kind not in COMPETITION_TYPES:
            self.problem("competition_type", f"{kind!r} is not one of {', '.join(COMPETITION_TYPES)}")
        if c.get("contact_email") not in (None, ""):  # null=True, blank=True
            message = email_problem(c["contact_email"])
            if message:
                self.problem("contact_email", message)
        if c.get("queue"):  # Codabench looks it up only when it is set (unpackers/base_unpacker.py _unpack_queue)
            self.problem("queue", f"{c['queue']!r} names a queue (its vhost) on one Codabench server: it cannot be "
                                  f"checked offline, and Codabench refuses the bundle unless it exists on the "
                                  f"target server and you own or organize it; remove the key to use the default "
                                  f"queue")

    def check_fact_sheet(self, sheet) -> None:
        """The questions asked with each submission, as CompetitionSerializer.validate_fact_sheet checks them."""
        if not sheet:  # an empty one is no fact sheet
            return
        if not isinstance(sheet, dict):
            self.problem("fact_sheet", "must be a mapping of questions {key, type, title, selection, is_required, "
                                       "is_on_leaderboard}")
            return
        for key, question in sheet.items():
            where = f"fact_sheet.{key}"
            if not isinstance(question, dict):
                self.problem(where, "must be a mapping {key, type, title, selection, is_required, is_on_leaderboard}")
                continue
            missing, extra = FACT_SHEET_KEYS - set(question), set(map(str, question)) - FACT_SHEET_KEYS
            if missing or extra:  # Codabench compares the key sets both ways (symmetric_difference)
                said = ", ".join([f"missing {k}" for k in sorted(missing)] + [f"unknown {k}" for k in sorted(extra)])
                self.problem(where, f"{said}: a question has exactly the keys {', '.join(sorted(FACT_SHEET_KEYS))}")
            if "key" in question and question["key"] != key:
                self.problem(f"{where}.key", f"{question['key']!r} must equal the question's name {key!r}")
            if "type" in question and (not hashable(question["type"]) or question["type"] not in FACT_SHEET_TYPES):
                self.problem(f"{where}.type", f"{question['type']!r} is not one of "
                                              f"{', '.join(sorted(FACT_SHEET_TYPES))}")

    def check_tasks(self, c: dict) -> set:
        tasks = c.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            self.problem("tasks", "required: a non-empty list")
            return set()
        indexes = set()
        for i, task in enumerate(tasks):
            where = f"tasks[{i}]"
            if not isinstance(task, dict):
                self.problem(where, "must be a mapping")
                continue
            index = task.get("index")
            if index is None:
                self.problem(f"{where}.index", "required")
            elif not hashable(index):
                self.problem(f"{where}.index", f"must be a whole number, not a {type(index).__name__}")
            elif index in indexes:
                self.problem(f"{where}.index", f"{index!r} is used by another task")
            if hashable(index):
                indexes.add(index)
            if "key" in task:  # an existing task on the server: Codabench reads nothing else of it
                self.task_by_key(f"{where}.key", task["key"])
                continue
            if not task.get("name"):
                self.problem(f"{where}.name", "required")
            elif len(str(task["name"])) > NAME_LIMIT:
                self.problem(f"{where}.name", f"{len(str(task['name']))} characters; at most {NAME_LIMIT}")
            if "scoring_program" not in task:
                self.problem(f"{where}.scoring_program", "required")
            for key in TASK_FILES:
                if key in task:
                    if key in PROGRAM_FILES:
                        self.program(f"{where}.{key}", task[key])
                    else:
                        self.zip_file(f"{where}.{key}", task[key])
        return indexes

    def task_by_key(self, where: str, key) -> None:
        """A task already on a Codabench server, by its UUID (Task.key): it cannot be checked offline."""
        if is_dataset_key(key):
            self.external_tasks.append(key)
        else:
            self.problem(where, f"{key!r} is not a task's UUID key")

    def check_solutions(self, c: dict, task_indexes: set) -> None:
        if not isinstance(c.get("solutions") or [], list):
            self.problem("solutions", "must be a list of {tasks, path}")
            return
        for i, solution in enumerate(c.get("solutions") or []):
            where = f"solutions[{i}]"
            if not isinstance(solution, dict):
                self.problem(where, "must be a mapping")
                continue
            if not isinstance(solution.get("tasks") or [], list):
                self.problem(f"{where}.tasks", "must be a list of task indexes")
                continue
            for j, index in enumerate(solution.get("tasks") or []):
                if not hashable(index) or index not in task_indexes:
                    self.problem(f"{where}.tasks[{j}]", f"task {index!r} is not defined in tasks")
            if not solution.get("tasks"):
                self.problem(f"{where}.tasks", "required: the task indexes it solves")
            self.zip_file(f"{where}.path", solution.get("path"))

    def check_phases(self, c: dict, task_indexes: set) -> None:
        phases = c.get("phases")
        if not isinstance(phases, list) or not phases:
            self.problem("phases", "required: a non-empty list")
            return
        for i, phase in enumerate(phases):
            if isinstance(phase, dict):
                self.check_phase(f"phases[{i}]", phase, task_indexes, bool(c.get("queue")))
            else:
                self.problem(f"phases[{i}]", "must be a mapping")
        self.check_phase_dates(phases, self.phase_order(phases))

    def phase_order(self, phases: list) -> list[int]:
        """The phases' positions in Codabench's order: it sorts them by `index` (stably, a missing one counts as 0)
        before its date checks and numbers them 0, 1, ... again, so duplicate or missing indexes are accepted."""
        keys = []
        for i, phase in enumerate(phases):
            index = phase.get("index", 0) if isinstance(phase, dict) else 0
            if not isinstance(index, int) or isinstance(index, bool):
                self.problem(f"phases[{i}].index", f"must be a whole number (Codabench sorts the phases by it), "
                                                   f"got {index!r}")
                index = 0
            keys.append(index)
        return sorted(range(len(phases)), key=keys.__getitem__)

    def check_phase_dates(self, phases: list, order: list[int]) -> None:
        """Each phase ends after it starts and starts after the one before it by index ends; only the last may stay
        open, and the first may not be auto-migrated to (CompetitionSerializer.validate_phases)."""
        previous = None  # (its path, its end)
        for rank, i in enumerate(order):
            phase, where = phases[i], f"phases[{i}]"
            if not isinstance(phase, dict):
                previous = None
                continue
            start = self.date(f"{where}.start", phase.get("start"), required=True)
            end = self.date(f"{where}.end", phase.get("end"), required=rank < len(order) - 1)
            if start and end and end <= start:
                self.problem(f"{where}.end", f"{end} is not after the start {start}")
            if start and previous and previous[1] and start <= previous[1]:
                before = (f"the previous phase's end {previous[1]}" if previous[0] == f"phases[{i - 1}]"
                          else f"{previous[1]}, the end of {previous[0]} (the phase before it by index)")
                self.problem(f"{where}.start", f"{start} must be after {before}")
            if rank == 0 and phase.get("auto_migrate_to_this_phase"):
                self.problem(f"{where}.auto_migrate_to_this_phase", "not allowed on the first phase")
            previous = (where, end)

    def check_phase(self, where: str, phase: dict, task_indexes: set, has_queue: bool) -> None:
        """One phase's fields apart from its dates."""
        name = phase.get("name")
        if not name:
            self.problem(f"{where}.name", "required")
        elif len(str(name)) > NAME_LIMIT:
            self.problem(f"{where}.name", f"{len(str(name))} characters; at most {NAME_LIMIT}")
        tasks = phase.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            self.problem(f"{where}.tasks", "required: a list of task indexes")
        else:
            for j, index in enumerate(tasks):
                if not hashable(index) or index not in task_indexes:
                    self.problem(f"{where}.tasks[{j}]", f"task {index!r} is not defined in tasks "
                                                         f"(indexes: {sorted(task_indexes, key=str)})")
        for key in ("execution_time_limit", "max_submissions", "max_submissions_per_day"):
            value = phase.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                self.problem(f"{where}.{key}", f"must be a whole number ≥ 0, got {value!r}")
        limit = phase.get("execution_time_limit")
        if isinstance(limit, int) and limit > DEFAULT_QUEUE_LIMIT and not has_queue:
            self.problem(f"{where}.execution_time_limit", f"{limit} s: Codabench's default queue caps every job at "
                                                          f"{DEFAULT_QUEUE_LIMIT} s")
        for key in ("public_data", "starting_kit"):
            if phase.get(key) is not None:
                self.zip_file(f"{where}.{key}", phase[key])
        if "hide_output" in phase and not isinstance(phase["hide_output"], bool):
            self.problem(f"{where}.hide_output", f"must be true or false, got {phase['hide_output']!r}")

    def date(self, where: str, value, required: bool) -> dt.datetime | None:
        if value is None:
            if required:
                self.problem(where, "required" + (" (every phase but the last needs an end)" if "end" in where else ""))
            return None
        if isinstance(value, dt.datetime) and value.time() != dt.time():
            self.problem(where, f"write it as a quoted string 'YYYY-MM-DD HH:MM:SS': Codabench truncates an "
                                f"unquoted YAML date-time ({value}) to midnight")
            return None
        if isinstance(value, dt.date):  # an unquoted date: midnight, as Codabench reads it
            return dt.datetime(value.year, value.month, value.day)
        if not isinstance(value, str) or not DATE.match(value.strip()):
            self.problem(where, f"{value!r} is not a date 'YYYY-MM-DD HH:MM:SS' (UTC; offsets are discarded)")
            return None
        text = value.strip()
        try:
            return dt.datetime.fromisoformat(text if " " in text else text + " 00:00:00")
        except ValueError as error:
            self.problem(where, f"{value!r} is not a valid date ({error})")
            return None

    def check_leaderboards(self, c: dict) -> list[dict]:
        """Check the leaderboard; return its columns that are mappings (for the solution-score check)."""
        board = self.first_leaderboard(c)
        if board is None:
            return []
        self.check_leaderboard_fields(board)
        columns = board.get("columns")
        if not isinstance(columns, list) or not columns:
            self.problem("leaderboards[0].columns", "required: a non-empty list")
            return []
        self.check_columns(columns)
        self.check_computation_indexes(columns)
        self.check_primary_index(board, columns)
        return [column for column in columns if isinstance(column, dict)]

    def first_leaderboard(self, c: dict) -> dict | None:
        """The leaderboard Codabench uses (the first), or None when there is none to check further."""
        boards = c.get("leaderboards")
        if not isinstance(boards, list) or not boards:
            self.problem("leaderboards", "required: a list with one leaderboard")
            return None
        if len(boards) > 1:
            self.problem("leaderboards", f"{len(boards)} leaderboards: Codabench uses only the first for every phase")
        board = boards[0]
        if not isinstance(board, dict):
            self.problem("leaderboards[0]", "must be a mapping")
            return None
        return board

    def check_leaderboard_fields(self, board: dict) -> None:
        """The title, key and submission rule of the leaderboard (its columns apart)."""
        for key, limit in (("title", 64), ("key", 36)):
            if not board.get(key):
                self.problem(f"leaderboards[0].{key}", "required")
            elif len(str(board[key])) > limit:
                self.problem(f"leaderboards[0].{key}", f"at most {limit} characters")
        rule = board.get("submission_rule", "Add")
        if not hashable(rule) or rule not in SUBMISSION_RULES:
            self.problem("leaderboards[0].submission_rule", f"{rule!r} is not one of {', '.join(sorted(SUBMISSION_RULES))}")

    def check_columns(self, columns: list) -> None:
        """Each column on its own, and its key and index against the columns before it."""
        keys, indexes = [], []
        for i, column in enumerate(columns):
            where = f"leaderboards[0].columns[{i}]"
            if not isinstance(column, dict):
                self.problem(where, "must be a mapping")
                continue
            self.check_column_names(where, column, keys)
            keys.append(column.get("key"))
            self.check_column_index(where, column, indexes)
            indexes.append(column.get("index"))
            self.check_column_display(where, column)
            self.check_column_computation(where, column)

    def check_column_names(self, where: str, column: dict, keys_before: list) -> None:
        for key in ("title", "key"):
            if not column.get(key):
                self.problem(f"{where}.{key}", "required")
            elif len(str(column[key])) > 36:
                self.problem(f"{where}.{key}", "at most 36 characters")
        if column.get("key") and column["key"] in keys_before:
            self.problem(f"{where}.key", f"{column['key']!r} is used by another column")

    def check_column_index(self, where: str, column: dict, indexes_before: list) -> None:
        index = column.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            self.problem(f"{where}.index", f"must be a whole number ≥ 0, got {index!r}")
        elif index in indexes_before:
            self.problem(f"{where}.index", f"{index} is used by another column")

    def check_column_display(self, where: str, column: dict) -> None:
        if column.get("sorting", "desc") not in ("asc", "desc"):
            self.problem(f"{where}.sorting", f"{column['sorting']!r}: must be asc or desc")
        if "precision" in column and not isinstance(column["precision"], int):
            self.problem(f"{where}.precision", "must be a whole number")

    def check_column_computation(self, where: str, column: dict) -> None:
        """A computed column names its operation and the columns it computes over (checked later)."""
        if "computation" in column:
            if column["computation"] not in ("avg", "sum", "min", "max"):
                self.problem(f"{where}.computation", "must be avg, sum, min or max")
            refs = column.get("computation_indexes")
            if refs is not None and not isinstance(refs, list):  # a string is not missing: say what it should be
                self.problem(f"{where}.computation_indexes", f"must be a list of other columns' indexes, got "
                                                             f"{refs!r} (Codabench would read it character by "
                                                             f"character)")
            elif not refs:
                self.problem(f"{where}.computation_indexes", "required with computation: other columns' indexes")

    def check_computation_indexes(self, columns: list) -> None:
        """Every computation index names another column's index (after all columns, so later ones count too)."""
        all_indexes = {column.get("index") for column in columns
                       if isinstance(column, dict) and hashable(column.get("index"))}
        for i, column in enumerate(columns):
            if isinstance(column, dict) and isinstance(column.get("computation_indexes"), list):
                for j, ref in enumerate(column["computation_indexes"]):
                    if ref == column.get("index") or not hashable(ref) or ref not in all_indexes:
                        self.problem(f"leaderboards[0].columns[{i}].computation_indexes[{j}]",
                                     f"{ref!r} is not another column's index")

    def check_primary_index(self, board: dict, columns: list) -> None:
        primary = board.get("primary_index", 0)
        visible = {column.get("index") for column in columns
                   if isinstance(column, dict) and not column.get("hidden") and hashable(column.get("index"))}
        if not hashable(primary) or primary not in visible:
            self.problem("leaderboards[0].primary_index", f"{primary!r} is not the index of a visible column "
                                                           f"(the leaderboard page would crash)")

    # --- running the solutions -----------------------------------------------------------------

    def check_solution_scores(self, c: dict, columns: list[dict], log) -> None:
        """Each solution runs on each task it solves (another hidden draw is another task), through the first
        phase that holds that task."""
        expected = {column["key"] for column in columns if "computation" not in column}
        for i, solution in enumerate(c.get("solutions") or []):
            phases = {}
            for p, phase in enumerate(c["phases"]):
                for task in set(solution["tasks"]) & set(phase["tasks"]):
                    phases.setdefault(task, p)
            for phase_index in sorted(set(phases.values())):
                self.run_solution(i, solution, phase_index, expected, columns, log)

    def run_solution(self, i: int, solution: dict, phase_index: int, expected: set, columns: list[dict], log) -> None:
        log(f"running solutions[{i}] ({solution['path']}) through the local worker, phase {phase_index}")
        with tempfile.TemporaryDirectory(prefix="solution-") as folder:
            submission = Path(folder) / "solution.zip"
            submission.write_bytes(self.member_bytes(solution["path"]))
            # Someone else's bundle: its own programs run sandboxed too, not only its solution.
            try:
                workdir = self.workdir / f"solution{i}-phase{phase_index}" if self.workdir else None
                result = run_submission(self.path, submission, phase_index=phase_index, log=log,
                                        sandbox=self.sandbox, confine_programs=True, workdir=workdir)
            except WorkerError as error:  # e.g. no sandbox here: said, never run unconfined
                self.problem(f"solutions[{i}]", f"the bundled solution could not be run: {error}")
                return
        page = detailed_page(result.detailed_results)
        if result.ok and not self.keep_runs:  # a failed run's folder stays, for its logs
            shutil.rmtree(result.root, ignore_errors=True)
        self.report.solution_runs.append((i, result))
        if not result.ok:
            self.problem(f"solutions[{i}]", f"the bundled solution did not score in phase {phase_index}: "
                                            f"{result.error}")
            return
        self.check_solution_output(i, set(result.scores), page, expected, columns)

    def check_solution_output(self, i: int, written: set, page: str | None, expected: set,
                              columns: list[dict]) -> None:
        """The scorer wrote every column's key and no other, and a self-contained detailed_results.html."""
        for j, column in enumerate(columns):
            if column["key"] in expected - written:
                self.problem(f"leaderboards[0].columns[{j}].key",
                             f"{column['key']!r} is not written by the scoring program (scoring solutions[{i}] "
                             f"wrote: {', '.join(sorted(written))})")
        for key in sorted(written - expected):
            self.problem("leaderboards[0].columns", f"the scoring program writes {key!r}, which no column shows")
        if page is None:
            self.problem("scoring_program", "the scoring program wrote no detailed_results.html")
        else:
            for reference in external_references(page):
                self.problem("scoring_program", f"detailed_results.html is not self-contained: it loads "
                                                f"{reference!r} (embed images as data: URIs)")


# Resources a page loads (not links a reader may follow): src=, <link href=>, CSS url() and @import.
RESOURCE = re.compile(r"""(?is)(?:\bsrc\s*=\s*|<link\b[^>]*?\bhref\s*=\s*|url\(\s*|@import\s+)(["']?)([^"'\s)>]+)\1""")


def external_references(html: str) -> list[str]:
    """What a detailed_results.html would fetch from elsewhere: Codabench shows it alone, offline included."""
    return sorted({match.group(2) for match in RESOURCE.finditer(html)
                   if not match.group(2).lower().startswith(("data:", "#"))})


def detailed_page(path: Path | None) -> str | None:
    """The solution's detailed_results.html, read without following a link its (confined) scorer may have left."""
    try:
        return read_regular(path, max_bytes=64 * 1024**2).decode("utf-8", errors="replace") if path else None
    except (OSError, SubmissionError):
        return None


def validate_bundle(path: Path, run_solutions: bool = True, log=print, keep_runs: bool = False,
                    sandbox: bool = True, workdir: Path | None = None) -> ValidationReport:
    checker = BundleChecker(path, keep_runs, sandbox, workdir)
    try:
        return checker.run(run_solutions, log)
    except Exception as error:  # a case we did not foresee: said for this bundle, never aborting the next ones
        checker.problem(path.name, f"the validator failed on this bundle ({type(error).__name__}: {error}); "
                                   f"please report it with the bundle")
        return checker.report
