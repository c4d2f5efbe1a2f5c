"""The agent's format check (MLE-bench's validate endpoint, without a server and without any answer): what it
accepts and refuses, each problem with its file, line and column, never anything of the reference data, and real
sandboxed agents calling /home/validate_submission.sh.

Tasks: churn-spec (results: spec.md), eda-notebook (code: eda.ipynb), imet-2020-fgvc7 (code that also takes
submission.csv as results; the scorer's label rule). Two variants of those tiny bundles, made by rewriting them:
one whose results are a numeric CSV and a parquet file checked with the ECG scorer's range (the ECG bundle itself
takes too long to build here), one whose ingestion runs open a config and a second notebook.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from agentlib import format_check
from agentlib.definition import find_agent, load_agent
from agentlib.home import stage_home
from agentlib.run import run_agent
from conftest import ROOT, edit_inner_zip, quiet, rewrite_bundle
from programlib.sandbox import probe

RESULTS_TASK, CODE_TASK, TABLE_TASK = "churn-spec", "eda-notebook", "imet-2020-fgvc7"
HIDDEN_VALUE = 0.0424242  # a value an extra run sets: hidden, it must never reach the home
needs_sandbox = pytest.mark.skipif(probe() is not None, reason=f"bubblewrap cannot confine agents here: {probe()}")
TEXT = (".csv", ".json", ".md", ".yaml", ".yml", ".py", ".ipynb", ".txt")


# ---------------------------------------------------------------------------------------------------------
# Helpers


def inner_texts(archive: zipfile.ZipFile, member: str) -> dict[str, str]:
    try:
        inner = zipfile.ZipFile(io.BytesIO(archive.read(member)))
    except KeyError:
        return {}
    return {name: inner.read(name).decode("utf-8", errors="replace") for name in inner.namelist()
            if name.endswith(TEXT)}


def leaves(value) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in leaves(item)]
    if isinstance(value, list):
        return [text for item in value for text in leaves(item)]
    return [str(value)]


def answer_strings(bundle: Path) -> set[str]:
    """Every value of the reference data that appears nowhere public (data, kit, pages): what must never show."""
    with zipfile.ZipFile(bundle) as archive:
        public = "\n".join([*inner_texts(archive, "public_data.zip").values(),
                            *inner_texts(archive, "starting_kit.zip").values(),
                            *(archive.read(n).decode() for n in archive.namelist() if n.startswith("pages/"))])
        values = set()
        for name, text in inner_texts(archive, "reference_data.zip").items():
            if name.endswith(".json"):
                values.update(leaves(json.loads(text)))
            elif name.endswith(".csv"):
                values.update(cell for row in csv.reader(io.StringIO(text)) for cell in row)
    return {value for value in values if len(value) >= 5 and value not in public}


@pytest.fixture(scope="module")
def task_home(tiny_bundle, tmp_path_factory):
    """task_home(task or bundle path) → (staged home, the answer strings of its bundle), staged once."""
    homes: dict = {}

    def get(task: str | Path):
        bundle = tiny_bundle(task) if isinstance(task, str) else task
        if bundle not in homes:
            home = tmp_path_factory.mktemp("home") / "home"
            stage_home(bundle, home, find_agent("dummy"), time_limit=60)
            homes[bundle] = home, answer_strings(bundle)
        return homes[bundle]

    return get


def sample_into(home: Path, target: Path) -> Path:
    """The task's sample submission, as the dummy submits it: the kit's sample_submission/, else sample_<file>."""
    facts = json.loads((home / "submission_format.json").read_text())
    kit = home / "starting_kit" / "sample_submission"
    if kit.is_dir():
        shutil.copytree(kit, target)
        return target
    target.mkdir(parents=True)
    for name in facts["files"] or facts["results_files"]:
        shutil.copyfile(home / "data" / f"sample_{name}", target / name)
    return target


def checked(home: Path, answers: set[str], target: Path) -> dict:
    report = format_check.check(home, target).to_json()
    assert_no_answers(json.dumps(report), answers)
    return report


def assert_no_answers(output: str, answers: set[str]) -> None:
    assert answers, "the reference data should hold values that are not public"
    shown = sorted(value for value in answers if value in output)
    assert not shown, f"the check's output shows the reference data: {shown[:5]}"


def only_problem(report: dict) -> dict:
    assert not report["valid"] and len(report["problems"]) == 1, report
    return report["problems"][0]


# ---------------------------------------------------------------------------------------------------------
# The home: what is staged, and what is not


def test_the_home_holds_the_checker_and_only_the_scorers_input_checks(task_home):
    home, answers = task_home(RESULTS_TASK)
    assert (home / "validate_submission.sh").stat().st_mode & 0o111
    assert sorted(p.name for p in (home / "validate" / "scorer").iterdir()) == ["churn_spec_spec.py"]  # no rubric
    assert {p.name for p in (home / "validate" / "programlib").iterdir()} >= {"tables.py", "errors.py"}
    assert not (home / "validate" / "programlib" / "scoring.py").exists()
    staged = "\n".join(p.read_text() for p in (home / "validate").rglob("*") if p.is_file())
    assert_no_answers(staged, answers)
    assert "validate_submission.sh" in (home / "instructions.txt").read_text()


# ---------------------------------------------------------------------------------------------------------
# Results tables (imet's submission.csv): columns, ids, values, the scorer's own rule


def rewrite_rows(text: str, change) -> str:
    lines = text.splitlines()
    change(lines)
    return "\n".join(lines) + "\n"


def with_line(index: int, text: str):
    """A change of the sample's lines: line `index` (0: the header) becomes `text`; {id} is that line's id."""
    def change(lines: list[str]) -> None:
        lines[index] = text.format(id=lines[index].split(",")[0])
    return change


TABLE_CASES = {  # a change of the sample's lines (60 rows) → the problem's line, column, and what it says
    "missing id": (lambda lines: lines.pop(), None, "id", "1 test id(s) have no row"),
    "extra id": (lambda lines: lines.append("not-an-id,0 1 2"), 62, "id", "unknown id 'not-an-id'"),
    "duplicate id": (lambda lines: lines.append(lines[1]), 62, "id", "appears again (first on line 2)"),
    "wrong column": (with_line(0, "id,labels"), 1, "attribute_ids", "unexpected column(s) 'labels'"),
}


@pytest.mark.parametrize("case", sorted(TABLE_CASES))
def test_a_bad_results_table_names_the_file_line_and_column(task_home, tmp_path, case):
    home, answers = task_home(TABLE_TASK)
    submission = sample_into(home, tmp_path / "submission")
    change, line, column, said = TABLE_CASES[case]
    path = submission / "submission.csv"
    path.write_text(rewrite_rows(path.read_text(), change))
    problem = only_problem(checked(home, answers, submission))
    assert problem["file"] == "submission.csv" and problem.get("line") == line and problem["column"] == column
    assert said in problem["message"] and problem["message"].startswith("submission.csv")


def test_an_id_outside_the_attributes_is_valid_as_the_scorer_counts_it_a_false_positive(task_home, tmp_path):
    """Kaggle's micro-F1 scores an out-of-range id (a false positive): the check refuses only what the scorer does."""
    home, answers = task_home(TABLE_TASK)
    submission = sample_into(home, tmp_path / "submission")
    path = submission / "submission.csv"
    path.write_text(rewrite_rows(path.read_text(), with_line(5, "{id},999 x 4.0")))
    assert checked(home, answers, submission)["valid"]


def test_every_problem_is_reported_at_once(task_home, tmp_path):
    home, answers = task_home(TABLE_TASK)
    submission = sample_into(home, tmp_path / "submission")
    path = submission / "submission.csv"

    def change(lines: list[str]) -> None:  # the last id missing, the first repeated (a token 'x' is no problem)
        lines.pop()
        lines.append(lines[1])
        with_line(2, "{id},0 x")(lines)

    path.write_text(rewrite_rows(path.read_text(), change))
    report = checked(home, answers, submission)
    said = [problem["message"] for problem in report["problems"]]
    assert len(said) == 2 and "appears again" in said[0] and "have no row" in said[1], said


def test_the_sample_is_valid_and_an_empty_or_missing_file_is_not(task_home, tmp_path):
    home, answers = task_home(TABLE_TASK)
    submission = sample_into(home, tmp_path / "submission")
    report = checked(home, answers, submission)
    assert report["valid"] and report["result"] == "Submission is valid." and report["problems"] == []
    assert "no run.py: the platform scores the results file(s) submission.csv as submitted" in report["notes"]
    (submission / "submission.csv").write_text("")
    assert only_problem(checked(home, answers, submission))["message"] == "submission.csv: the file is empty"
    (submission / "submission.csv").unlink()
    problem = only_problem(checked(home, answers, submission))
    assert problem["message"].startswith("run.py: the submission has no run.py (or the results file(s) "
                                         "submission.csv) at its top level")
    home, answers = task_home(RESULTS_TASK)
    (tmp_path / "empty").mkdir()
    problem = only_problem(checked(home, answers, tmp_path / "empty"))
    assert problem == {"file": "spec.md", "message": "spec.md: file not found at the top level of the submission"}


def test_a_results_spec_is_checked_by_the_scorers_own_parser(task_home, tmp_path):
    home, answers = task_home(RESULTS_TASK)
    submission = sample_into(home, tmp_path / "submission")
    assert checked(home, answers, submission)["valid"]
    spec = submission / "spec.md"
    spec.write_text(spec.read_text().replace("horizon_days: null", "horizon_days: soon"))
    problem = only_problem(checked(home, answers, submission))
    assert problem["file"] == "spec.md" and problem["line"] > 1
    assert "front matter field 'target.horizon_days' must be a number" in problem["message"]
    (submission / "out").mkdir()
    spec.rename(submission / "out" / "spec.md")
    problem = only_problem(checked(home, answers, submission))
    assert problem["message"] == ("spec.md: file not found at the top level of the submission (found out/spec.md: "
                                  "it must be at the top level of the submission)")


# ---------------------------------------------------------------------------------------------------------
# A numeric CSV and a parquet file (with the ECG scorer's range)


@pytest.fixture(scope="module")
def table_variant(tiny_bundle, tmp_path_factory) -> Path:
    """imet's bundle whose results are scores.csv (numeric) and submission.parquet, scored by the ECG scorer."""
    source = tiny_bundle(TABLE_TASK)
    with zipfile.ZipFile(source) as archive:
        public = zipfile.ZipFile(io.BytesIO(archive.read("public_data.zip")))
        ids = pd.read_csv(public.open("sample_submission.csv"), dtype=str)["id"]

    def public_data(files):
        files["sample_scores.csv"] = pd.DataFrame({"id": ids, "score": 0.5}).to_csv(index=False).encode()
        buffer = io.BytesIO()
        pd.DataFrame({"id": ids, "value": 0.0}).to_parquet(buffer, index=False)
        files["sample_submission.parquet"] = buffer.getvalue()

    def task_json(files):
        config = json.loads(files["task.json"])
        files["task.json"] = json.dumps(dict(config, results_files=["scores.csv", "submission.parquet"])).encode()

    def scorer(files):
        for name in ("scoring.py", "modified_snr.py"):
            files[name] = (ROOT / "scoring_programs" / "ecg_snr" / name).read_bytes()

    replace = {member: edit_inner_zip(source, member, change) for member, change in
               (("public_data.zip", public_data), ("ingestion_program.zip", task_json),
                ("scoring_program.zip", scorer))}
    return rewrite_bundle(source, tmp_path_factory.mktemp("variant") / "tables.zip", replace=replace)


def test_numeric_and_parquet_tables(task_home, table_variant, tmp_path):
    home, answers = task_home(table_variant)
    assert json.loads((home / "validate" / "checks.json").read_text())["scorer_checks"] == []
    submission = sample_into(home, tmp_path / "submission")
    assert checked(home, answers, submission)["valid"]
    scores = submission / "scores.csv"
    scores.write_text(rewrite_rows(scores.read_text(), with_line(4, "{id},high")))
    frame = pd.read_parquet(submission / "submission.parquet")
    frame.loc[2, "value"] = float("nan")
    frame.to_parquet(submission / "submission.parquet", index=False)
    report = checked(home, answers, submission)
    assert [(p["file"], p.get("line") or p.get("row"), p["column"]) for p in report["problems"]] == [
        ("scores.csv", 5, "score"), ("submission.parquet", 3, "value")], report
    assert "'high' is not a number" in report["problems"][0]["message"]
    assert report["problems"][1]["message"] == "submission.parquet, row 3, column 'value': 'nan' is not a finite number"
    # as the ECG scorer (and Kaggle's metric): any column order, extra columns ignored, any finite value
    frame.loc[2, "value"] = 5e6
    frame.assign(note="x")[["note", "value", "id"]].to_parquet(submission / "submission.parquet", index=False)
    assert len(checked(home, answers, submission)["problems"]) == 1
    frame.astype({"value": str}).to_parquet(submission / "submission.parquet", index=False)
    problem = checked(home, answers, submission)["problems"][1]
    assert problem["message"] == ("submission.parquet, row 1, column 'value': the column holds text; the scorer takes "
                                  "numbers stored as numbers")


# ---------------------------------------------------------------------------------------------------------
# Code: the entry (and what the task's runs open) is there and readable; the code is never run


def test_a_code_submission_is_checked_without_running_it(task_home, tmp_path):
    home, answers = task_home(CODE_TASK)
    submission = sample_into(home, tmp_path / "submission")
    report = checked(home, answers, submission)
    assert report["valid"] and any("does not run the code" in note for note in report["notes"])
    (submission / "eda.ipynb").write_text("import pandas as pd\nprint('a script, not a notebook')\n")
    problem = only_problem(checked(home, answers, submission))
    assert problem["file"] == "eda.ipynb" and "eda.ipynb is not a Jupyter notebook" in problem["message"]
    (submission / "eda.ipynb").unlink()
    (submission / "work").mkdir()
    shutil.copyfile(home / "starting_kit" / "sample_submission" / "eda.ipynb", submission / "work" / "eda.ipynb")
    problem = only_problem(checked(home, answers, submission))
    assert "eda.ipynb: file not found at the top level" in problem["message"] and "found work/eda.ipynb" in \
        problem["message"]


def test_a_python_entry_must_compile(task_home, tmp_path):
    home, answers = task_home(TABLE_TASK)  # imet's kit is its own program: run.py at the root
    submission = tmp_path / "submission"
    shutil.copytree(home / "starting_kit", submission)
    assert checked(home, answers, submission)["valid"]
    with open(submission / "run.py", "a") as entry:
        entry.write("\ndef broken(:\n    pass\n")
    lines = (submission / "run.py").read_text().count("\n")
    problem = only_problem(checked(home, answers, submission))
    assert problem["file"] == "run.py" and problem["line"] == lines - 1
    assert "Python cannot compile it: SyntaxError" in problem["message"]
    assert not list(submission.rglob("*.pyc")), "the check leaves the submission as it was"


@pytest.fixture(scope="module")
def runs_variant(tiny_bundle, tmp_path_factory) -> Path:
    """eda-notebook's bundle whose command names config.yaml and whose extra runs edit it (with a hidden value)
    and run a second notebook."""
    source = tiny_bundle(CODE_TASK)

    def task_json(files):
        config = json.loads(files["task.json"])
        config.update(args=["--config", "config.yaml"], runs=[
            {"name": "tuned", "config_edit": {"file": "config.yaml", "set": {"learning_rate": HIDDEN_VALUE}}},
            {"name": "second", "entry": "extra.ipynb", "args": []}])
        files["task.json"] = json.dumps(config).encode()

    replace = {"ingestion_program.zip": edit_inner_zip(source, "ingestion_program.zip", task_json)}
    return rewrite_bundle(source, tmp_path_factory.mktemp("variant") / "runs.zip", replace=replace)


def test_files_the_runs_open_are_checked_and_their_hidden_values_never_staged(task_home, runs_variant, tmp_path):
    home, answers = task_home(runs_variant)
    assert json.loads((home / "submission_format.json").read_text())["other_files"] == ["config.yaml", "extra.ipynb"]
    staged = "\n".join(p.read_text(errors="replace") for p in home.rglob("*") if p.is_file() and p.suffix in TEXT)
    assert str(HIDDEN_VALUE) not in staged and "learning_rate" not in staged
    submission = sample_into(home, tmp_path / "submission")
    report = checked(home, answers, submission)
    assert [p["file"] for p in report["problems"]] == ["config.yaml"]  # the command names it: required
    assert [p["file"] for p in report["warnings"]] == ["extra.ipynb"]  # only a run opens it: a warning
    (submission / "config.yaml").write_text("learning_rate: [0.1,\n")
    problem = only_problem(checked(home, answers, submission))
    assert problem["file"] == "config.yaml" and problem["line"] == 2 and "not valid YAML" in problem["message"]
    (submission / "config.yaml").write_text("learning_rate: 0.1\n")
    report = checked(home, answers, submission)
    assert report["valid"] and len(report["warnings"]) == 1


# ---------------------------------------------------------------------------------------------------------
# The script: exit codes, one JSON line, curl's form, one file


def run_script(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(home / "validate_submission.sh"), *args], capture_output=True, text=True, timeout=120)


def test_the_script_exit_codes_json_line_and_curl_form(task_home, tmp_path):
    home, answers = task_home(TABLE_TASK)
    submission = sample_into(home, tmp_path / "submission")
    done = run_script(home, str(submission))
    assert done.returncode == 0 and done.stdout.startswith("Submission valid"), done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["valid"] is True
    elsewhere = tmp_path / "predictions.csv"  # one file, named otherwise: checked as the task's only results file
    elsewhere.write_text(rewrite_rows((submission / "submission.csv").read_text(), lambda lines: lines.pop()))
    done = run_script(home, "-F", f"file=@{elsewhere}", "--json")
    assert done.returncode == 1 and len(done.stdout.splitlines()) == 1, done.stdout + done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["result"].startswith("Submission invalid! 1 problem(s)") and verdict["problems"][0]["column"] == "id"
    assert f"checked {elsewhere} as the task's submission.csv: submit it under that name" in verdict["notes"]
    assert_no_answers(done.stdout, answers)


# ---------------------------------------------------------------------------------------------------------
# Inside the sandbox: agents call /home/validate_submission.sh


CHECKING_AGENT = """\
import json, shutil, subprocess
facts = json.load(open("/home/submission_format.json"))
name = (facts["files"] or [facts["entry"]])[0]
shutil.copytree("/home/starting_kit/sample_submission", "/home/submission", dirs_exist_ok=True)

def check(*args):
    done = subprocess.run(["/home/validate_submission.sh", *args], capture_output=True, text=True)
    return {"exit": done.returncode, "verdict": json.loads(done.stdout.splitlines()[-1]), "out": done.stdout}

seen = {"valid": check(), "curl": check("-F", "file=@/home/submission/" + name)}
open("/home/submission/" + name, "w").write("not what the task takes\\n")
seen["invalid"] = check()
json.dump(seen, open("/home/logs/checks.json", "w"))
"""


@needs_sandbox
@pytest.mark.parametrize("task", [RESULTS_TASK, CODE_TASK])
def test_an_agent_in_the_sandbox_calls_the_check(tiny_bundle, task_home, tmp_path, task):
    (tmp_path / "agents" / "checker").mkdir(parents=True)
    (tmp_path / "agents" / "checker" / "agent.yaml").write_text("id: checker\ndescription: checks\nstart: main.py\n")
    (tmp_path / "agents" / "checker" / "main.py").write_text(CHECKING_AGENT)
    rollout = run_agent(load_agent(tmp_path / "agents" / "checker"), None, tiny_bundle(task), tmp_path / "rollout",
                        log=quiet)
    assert rollout.status == "completed" and rollout.protections["sandbox"].startswith("bubblewrap"), rollout.message
    seen = json.loads((rollout.folder / "logs" / "checks.json").read_text())
    assert seen["valid"]["exit"] == 0 and seen["valid"]["verdict"]["submission"] == "/home/submission"
    assert seen["curl"]["exit"] == 0 and seen["curl"]["verdict"]["valid"]
    assert seen["invalid"]["exit"] == 1 and not seen["invalid"]["verdict"]["valid"]
    name = {RESULTS_TASK: "spec.md", CODE_TASK: "eda.ipynb"}[task]
    assert seen["invalid"]["verdict"]["problems"][0]["file"] == name
    assert_no_answers(json.dumps(seen), task_home(task)[1])


@needs_sandbox
def test_the_builtin_agents_log_the_check(tiny_bundle, tmp_path):
    dummy = run_agent("dummy", None, tiny_bundle(RESULTS_TASK), tmp_path / "dummy", log=quiet)
    assert "format check (exit 0): Submission is valid." in (dummy.folder / "logs" / "dummy.log").read_text()
    kit = run_agent("starting-kit", "no-check", tiny_bundle(CODE_TASK), tmp_path / "kit", log=quiet)
    assert "format check (exit 0): Submission is valid." in (kit.folder / "agent_stdout.txt").read_text()
    assert "eda.ipynb: readable" in (kit.folder / "logs" / "format_check.log").read_text()
