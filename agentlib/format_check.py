"""The submission format check an agent runs inside its sandbox (MLE-bench's validate endpoint, without a server).

    /home/validate_submission.sh [PATH] [--json]      PATH: a folder or one file (default: /home/submission)
    python /home/validate/format_check.py [PATH] [--json]

It sees only what the agent sees: /home/submission_format.json (what to submit), the sample submission (the
starting kit's sample_submission/<file>, else the public data's sample_<file>) and, for a scorer's stricter rules,
that scorer's own input checks that need no answer (validate/scorer/, listed in validate/checks.json). It never
scores, never reads an answer, and never runs submitted code. Every check is one a scorer or the ingestion program
makes (programlib's tables, JSON, YAML and notebook readers); each problem names the file, the line (row for
parquet) and the column. Prints the problems, then one JSON line ({"valid", "result", "problems", ...}); exit 0 when
valid, 1 when not, 2 when the check itself cannot run.

Standard library, numpy, pandas, pyarrow, PyYAML and nbformat only: the project is not visible in the sandbox, so
this file is copied into the home with format_tables.py (tables, the scorer's own checks) and the programlib
modules they import.
"""
from __future__ import annotations

import json
import os
import py_compile
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).absolute().parent  # not resolved: in the sandbox, /home/validate

if __package__:  # imported from the project (agentlib.format_check)
    from .format_tables import TABLES, check_present, check_table, load_hooks, misplaced, run_text_hooks
else:  # run from the home: format_tables.py and the programlib modules lie beside this file
    sys.path.insert(0, str(HERE))
    from format_tables import TABLES, check_present, check_table, load_hooks, misplaced, run_text_hooks

from programlib.checks import read_json  # noqa: E402
from programlib.errors import SubmissionError  # noqa: E402
from programlib.notebooks import read_notebook  # noqa: E402
from programlib.safe_yaml import YamlError, load_yaml_file  # noqa: E402

VALID = "Submission is valid."
WHERE = re.compile(r", (line|row) (\d+)(?:, column '([^']*)')?")
COLUMNS = re.compile(r"column\(s\) '([^']*)'")  # a header's missing or unexpected column: the first named
NOT_RUN = "the check does not run the code: the platform runs it on hidden data after you stop"


@dataclass
class Report:
    submission: str
    kind: str
    problems: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)  # what costs points but is still graded
    checked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def add(self, name: str, error: Exception | str, rows: bool = False, column: str | None = None,
            line: int | None = None) -> None:
        """A problem of file `name`, its line (row) and column read from the message where it names them;
        `rows`: a parquet file, whose data rows count from 1 (it has no header line)."""
        message = str(error)
        if rows:  # programlib counts CSV lines (the header is line 1)
            message = re.sub(r"\bline (\d+)", lambda m: f"row {int(m.group(1)) - 1}", message)
        problem = {"file": name, "message": message}
        found, named = WHERE.search(message), COLUMNS.search(message)
        if found:
            problem[found.group(1)] = int(found.group(2))
        elif line is not None:
            problem["line"] = line
        column = found.group(3) if found and found.group(3) is not None else (named.group(1) if named else column)
        if column is not None:
            problem["column"] = column
        if problem not in self.problems:
            self.problems.append(problem)

    def result(self) -> str:
        if self.valid:
            return VALID
        return f"Submission invalid! {len(self.problems)} problem(s); the first: {self.problems[0]['message']}"

    def to_json(self) -> dict:
        return {"valid": self.valid, "result": self.result(), "submission": self.submission, "kind": self.kind,
                "problems": self.problems, "warnings": self.warnings, "checked": self.checked, "notes": self.notes}


# ---------------------------------------------------------------------------------------------------------------
# Files by kind


def check_python(path: Path, name: str) -> None:
    """py_compile, as Python would before running it (into a scratch file: the submission stays untouched)."""
    with tempfile.TemporaryDirectory() as scratch:
        try:
            py_compile.compile(str(path), cfile=os.path.join(scratch, "entry.pyc"), doraise=True)
        except py_compile.PyCompileError as error:
            line = getattr(error.exc_value, "lineno", None)
            where = f"{name}, line {line}" if line else name
            detail = getattr(error.exc_value, "msg", None) or error.exc_value
            raise SubmissionError(f"{where}: Python cannot compile it: {error.exc_type_name}: {detail}") from None


def check_notebook(path: Path, name: str) -> None:
    """As the scorers read it (programlib.notebooks) and as the runner opens it (nbformat, version 4)."""
    read_notebook(path)
    import nbformat

    try:
        nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several types for a file that is not a notebook
        raise SubmissionError(f"{name} is not a notebook the platform can run: {type(error).__name__}: "
                              f"{error}") from None


def check_text(path: Path, name: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{name} is not UTF-8 text: {error}") from None
    if not text.strip():
        raise SubmissionError(f"{name}: the file is empty")
    return text


def check_file(home: Path, path: Path, name: str, hooks: list[dict], report: Report, folder=None) -> None:
    """One submitted file, by its kind; a table against the sample."""
    hooks = [hook for hook in hooks if hook["file"] == name]
    if name.endswith(TABLES):
        return check_table(home, path, name, hooks, report, folder)
    if not check_present(path, name, report, folder):
        return
    try:
        if name.endswith(".py"):
            check_python(path, name)
        elif name.endswith(".ipynb"):
            check_notebook(path, name)
        elif name.endswith((".yaml", ".yml")):
            load_yaml_file(path, label=name)
        elif name.endswith(".json"):
            read_json(path)
        else:
            run_text_hooks(home, check_text(path, name), hooks)
    except SubmissionError as error:
        report.add(name, error)
    except YamlError as error:  # "<name>: not valid YAML: ... at line N", as the ingestion's config edit says it
        report.add(name, error, line=error.line)
    else:
        report.checked.append(f"{name}: {'compiles' if name.endswith('.py') else 'readable'}"
                              + (" and passes the scorer's own checks" if hooks else ""))


# ---------------------------------------------------------------------------------------------------------------
# What to check: the folder, or one file


def code_names(facts: dict) -> list[str]:
    return [facts["entry"], *(facts.get("other_files") or [])] if facts.get("entry") else []


def check_code(home: Path, folder: Path, facts: dict, names: list[str], report: Report) -> None:
    """The problems of the entry and of the files its command names make the submission invalid; those of the
    files only the task's extra runs open (other_files) are warnings: the rest is still run and scored."""
    hooks = load_hooks(home)
    required = [facts["entry"], *(facts.get("args") or [])]
    for name in names:
        if name not in required:
            extra = Report(report.submission, report.kind)
            check_file(home, folder / name, name, hooks, extra, folder)
            report.warnings += [dict(p, message=f"{p['message']} (the task's extra runs open it: without it they "
                                                f"fail and earn nothing, the rest is still scored)")
                                for p in extra.problems]
            report.checked += extra.checked
        else:
            check_file(home, folder / name, name, hooks, report, folder)
    report.notes.append(NOT_RUN)


def check_folder(home: Path, folder: Path, facts: dict, report: Report) -> None:
    hooks = load_hooks(home)
    if facts["kind"] == "results":
        for name in facts.get("files") or []:
            check_file(home, folder / name, name, hooks, report, folder)
        return
    entry, results = facts.get("entry"), facts.get("results_files") or []
    if entry and not (folder / entry).is_file() and results and any((folder / n).is_file() for n in results):
        report.notes.append(f"no {entry}: the platform scores the results file(s) {', '.join(results)} as submitted")
        for name in results:
            check_file(home, folder / name, name, hooks, report, folder)
        return
    if entry and not (folder / entry).is_file() and results:
        accepted = f"{entry} (or the results file(s) {', '.join(results)})"
        return report.add(entry, f"{entry}: the submission has no {accepted} at its top level"
                                 f"{misplaced(folder, entry)}")
    check_code(home, folder, facts, code_names(facts), report)


def check_one_file(home: Path, path: Path, facts: dict, report: Report) -> None:
    """A single file (MLE-bench's agents post one): checked as the file of the task it is named as, or as the
    task's only results file."""
    taken = list(facts.get("files") or []) if facts["kind"] == "results" else (
        code_names(facts) + list(facts.get("results_files") or []))
    results = facts.get("files") if facts["kind"] == "results" else facts.get("results_files")
    name = path.name if path.name in taken else (results[0] if results and len(results) == 1 else None)
    if name is None:
        return report.add(path.name, f"{path.name}: not a file this task takes (it takes {', '.join(taken)}); "
                                     f"give the submission folder to check them all")
    if name != path.name:
        report.notes.append(f"checked {path} as the task's {name}: submit it under that name")
    if name in code_names(facts):
        return check_code(home, path.parent, facts, [name], report)
    check_file(home, path, name, load_hooks(home), report)


def check(home: Path, target: Path) -> Report:
    """Check `target` (a submission folder or one file) against the task's contract in `home`."""
    facts = json.loads((home / "submission_format.json").read_text(encoding="utf-8"))
    report = Report(submission=str(target), kind=facts["kind"])
    if target.is_dir():
        check_folder(home, target, facts, report)
    elif target.is_file():
        check_one_file(home, target, facts, report)
    else:
        report.add(target.name, f"{target}: no such file or folder")
    return report


def target_of(arguments: list[str], home: Path) -> Path:
    """PATH, or curl's `-F file=@PATH` / `file=@PATH`; by default the submission folder."""
    paths = [a.split("=", 1)[1] if a.startswith("file=") else a for a in arguments if a not in ("-F", "--form")]
    paths = [p[1:] if p.startswith("@") else p for p in paths]
    if len(paths) > 1:
        raise SystemExit("usage: validate_submission.sh [PATH] [--json]   (PATH: a folder or one file)")
    return Path(paths[0]) if paths else Path(os.environ.get("SUBMISSION_DIR") or home / "submission")


def main(argv: list[str]) -> int:
    home = HERE.parent
    quiet = "--json" in argv
    try:
        report = check(home, target_of([a for a in argv if a != "--json"], home))
    except Exception as error:  # our failure (a broken home, a bug): never reported as the submission's fault
        print(f"the format check itself failed, which says nothing about the submission: "
              f"{type(error).__name__}: {error}", file=sys.stderr)
        return 2
    if not quiet:
        state = "valid" if report.valid else f"invalid: {len(report.problems)} problem(s)"
        print(f"Submission {state} ({report.submission})")
        for problem in report.problems:
            print(f"  - {problem['message']}")
        for warning in report.warnings:
            print(f"  warning: {warning['message']}")
        for line in report.checked + report.notes:
            print(f"  {line}")
    print(json.dumps(report.to_json(), sort_keys=True))
    return 0 if report.valid else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
