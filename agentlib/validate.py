"""The format check staged into an agent's home: MLE-bench's /home/validate_submission.sh, without its grading
server and without any answer.

    validate_submission.sh [PATH]   bash: this project's interpreter on validate/format_check.py (exit 0 valid, 1 not)
    validate/format_check.py        the checker (a copy of agentlib/format_check.py), run inside the sandbox
    validate/format_tables.py       its table checks and the scorer's own checks (agentlib/format_tables.py)
    validate/programlib/            the scorers' shared input checks (tables, JSON, YAML, notebooks)
    validate/scorer/                the scorer's own input-check modules that need no answer (SCORER_CHECKS)
    validate/checks.json            which of those checks apply to which file and column

What enters is code and names only. The checker compares a submission with the sample submission and
submission_format.json, both public already. A module of the bundle's scoring program enters only when SCORER_CHECKS
lists it: a module that parses what was submitted, never one that reads the reference data or scores (the rubric
stays out). The values of the ingestion program's extra runs (hidden config values) never enter: only the names of
the files they need (TaskFacts.other_files).
"""
from __future__ import annotations

import io
import json
import shlex
import shutil
import sys
import zipfile
from pathlib import Path

FOLDER = "validate"
SCRIPT = "validate_submission.sh"
CHECKS = "checks.json"
CHECKER = tuple(Path(__file__).resolve().parent / name for name in ("format_check.py", "format_tables.py"))
PROGRAMLIB = Path(__file__).resolve().parents[1] / "programlib"
# The modules of programlib the checker and the scorer modules below import (none reads the reference data).
PROGRAMLIB_MODULES = ("__init__.py", "errors.py", "tables.py", "checks.py", "safe_yaml.py", "notebooks.py")

# The scorer's own checks of a submitted file that need no answer, found by a module of the bundle's scoring program.
# "text": function(text) on the whole file; "label_sets": function(values, n_labels, name=, column=) on a column, with
# n_labels the rows of a public file.
SCORER_CHECKS = (
    {"module": "churn_spec_spec.py", "check": "text", "function": "parse_spec", "file": "spec.md"},
    {"module": "micro_f1.py", "check": "label_sets", "function": "parse_labels", "file": "submission.csv",
     "column": "attribute_ids", "labels": "data/labels.csv"},
)

WRAPPER = """\
#!/bin/bash
# The submission format check (MLE-bench's /home/validate_submission.sh, without a server): the format only, against
# the sample submission and /home/submission_format.json; never a score, never the answers; code is not run.
#   validate_submission.sh [PATH] [--json]    PATH: a folder or one file (default: $SUBMISSION_DIR or /home/submission)
#   validate_submission.sh -F file=@PATH      as MLE-bench's `curl -F file=@PATH http://localhost:5000/validate`
# Prints every problem with its file, line and column, then one JSON line; exit 0 when valid, 1 when not.
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
PYTHON={python}
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" -B -E -s "$HERE/{folder}/format_check.py" "$@"
"""


def stage_checker(bundle, task: dict, home: Path, facts) -> list[dict]:
    """Write the checker into `home` for the task whose facts are `facts`; the scorer checks it got."""
    folder = home / FOLDER
    (folder / "programlib").mkdir(parents=True)
    for name in PROGRAMLIB_MODULES:
        shutil.copyfile(PROGRAMLIB / name, folder / "programlib" / name)
    for path in CHECKER:
        shutil.copyfile(path, folder / path.name)
    checks = scorer_checks(_scoring_program(bundle, task), _results_names(facts), home)
    (folder / CHECKS).write_text(json.dumps({"scorer_checks": checks}, indent=2) + "\n", encoding="utf-8")
    script = home / SCRIPT
    script.write_text(WRAPPER.format(python=shlex.quote(sys.executable), folder=FOLDER), encoding="utf-8")
    script.chmod(0o755)
    return checks


def _results_names(facts) -> list[str]:
    return list(facts.files if facts.kind == "results" else facts.results_files)


def _scoring_program(bundle, task: dict) -> dict[str, bytes]:
    """The scoring program's Python files by name ({} when it is not in the bundle, e.g. a dataset key)."""
    try:
        with zipfile.ZipFile(io.BytesIO(bundle.archive.read(task.get("scoring_program") or ""))) as program:
            return {name: program.read(name) for name in program.namelist()
                    if name.endswith(".py") and "/" not in name}
    except (KeyError, zipfile.BadZipFile):
        return {}


def scorer_checks(program: dict[str, bytes], results: list[str], home: Path) -> list[dict]:
    """The SCORER_CHECKS this scoring program has, for files the task takes (and public files the home has);
    copies the modules they call into the home's validate/scorer/."""
    found, target = [], home / FOLDER / "scorer"
    for check in SCORER_CHECKS:
        if check["module"] not in program or check["file"] not in results:
            continue
        if check.get("labels") and not (home / check["labels"]).is_file():
            continue
        target.mkdir(exist_ok=True)
        (target / check["module"]).write_bytes(program[check["module"]])
        found.append(dict(check))
    return found
