"""The validator: a good bundle passes; each broken bundle gets that check's message (all of them at once)."""
from __future__ import annotations

import io
import math

import pandas as pd
import pytest

from bundlegen.definition import load_all
from bundlegen.validate import validate_bundle
from conftest import TASK_IDS, edit_inner_zip, quiet, read_inner, rewrite_bundle, run_cli


def problems_of(path, run_solutions=False) -> list[str]:
    return [str(p) for p in validate_bundle(path, run_solutions=run_solutions, log=quiet).problems]


@pytest.fixture
def bundle(tiny_bundle):
    return tiny_bundle("tabular-baseline")


def test_valid_bundle_and_its_solution_keys(bundle):
    report = validate_bundle(bundle, log=quiet)
    assert report.ok, report.problems
    # The solution runs once per hidden draw: Development's (task 0) and Final's (task 1).
    assert [run.phase_index for _, run in report.solution_runs] == [0, 1]
    for _, run in report.solution_runs:
        assert set(run.scores) == {"score", "roc_auc", "accuracy", "roc_auc_points", "accuracy_points",
                                   "cv_metrics", "model_family", "readme_snippet", "duration"}


# The image tasks have their own (slower) validation tests in test_imet.py and test_ecg.py.
WORKFLOW_TASKS = [t for t in TASK_IDS if t not in ("imet-2020-fgvc7", "physionet-ecg-image-digitization",
                                                    "tabular-baseline")]


# How far the solution's primary score at the tiny scale may be from thresholds.reference (measured at the default
# scale): a rubric task scores exactly its reference, a metric on data (an RMSE, an AUC) moves a little with the data.
REFERENCE_TOLERANCE = 0.05


@pytest.mark.parametrize("task_id", WORKFLOW_TASKS)
def test_every_workflow_bundle_validates_and_its_solution_reaches_its_reference(tiny_bundle, task_id):
    """Keyed on each task's own primary column and thresholds, not on a `score` key scoring 1.0 (issue 12)."""
    task = load_all()[task_id]
    report = validate_bundle(tiny_bundle(task_id), log=quiet)
    assert report.ok, report.problems
    # one run per hidden draw the phases grade on, in the first phase that uses it
    first_phase = {}
    for p, phase in enumerate(task.model.phases):
        first_phase.setdefault(phase.hidden_draw, p)
    assert [run.phase_index for _, run in report.solution_runs] == sorted(first_phase.values())
    primary = task.model.leaderboard.primary
    thresholds = task.model.thresholds
    assert thresholds is not None and thresholds.reference is not None, "a task needs its reference threshold"
    for _, run in report.solution_runs:
        assert {c.key for c in task.model.leaderboard.columns} <= set(run.scores)  # every column is written
        value = run.scores[primary]
        assert isinstance(value, (int, float)) and math.isfinite(value), value
        assert value == pytest.approx(thresholds.reference, rel=REFERENCE_TOLERANCE, abs=1e-9), run.phase_name
    if thresholds.trivial is not None:  # and the solution beats the trivial baseline, whichever way is better
        better = value > thresholds.trivial if task.primary_column.sorting == "desc" else value < thresholds.trivial
        assert better, (value, thresholds.trivial)


def test_missing_file(bundle, tmp_path):
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", replace={"public_data.zip": None})
    assert problems_of(broken) == ["phases[0].public_data: file 'public_data.zip' is not in the bundle",
                                   "phases[1].public_data: file 'public_data.zip' is not in the bundle"]


def test_bad_task_index(bundle, tmp_path):
    def edit(c):
        c["phases"][1]["tasks"] = [3]
        c["solutions"][0]["tasks"] = [0, 7]
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", edit_yaml=edit)
    assert problems_of(broken) == ["solutions[0].tasks[1]: task 7 is not defined in tasks",
                                   "phases[1].tasks[0]: task 3 is not defined in tasks (indexes: [0, 1])"]


def test_bad_dates(bundle, tmp_path):
    def edit(c):
        c["phases"][0]["end"] = "2026-11-01 00:00:00"  # before its start
        c["phases"][1]["start"] = "June 2027"
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", edit_yaml=edit)
    assert problems_of(broken) == [
        "phases[0].end: 2026-11-01 00:00:00 is not after the start 2026-12-01 00:00:00",
        "phases[1].start: 'June 2027' is not a date 'YYYY-MM-DD HH:MM:SS' (UTC; offsets are discarded)"]


def test_unquoted_date_and_overlapping_phases(bundle, tmp_path):
    import datetime as dt

    def edit(c):
        c["phases"][0]["end"] = "2027-07-01 00:00:00"
        c["phases"][1]["start"] = "2027-06-15 00:00:00"
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", edit_yaml=edit)
    assert problems_of(broken) == [
        "phases[1].start: 2027-06-15 00:00:00 must be after the previous phase's end 2027-07-01 00:00:00"]

    def unquoted(c):
        c["phases"][1]["start"] = dt.datetime(2027, 6, 1, 12, 0)  # yaml dumps it unquoted
    broken = rewrite_bundle(bundle, tmp_path / "c.zip", edit_yaml=unquoted)
    [problem] = problems_of(broken)
    assert problem.startswith("phases[1].start: write it as a quoted string")


def test_leaderboard_key_not_written_by_the_scorer(bundle, tmp_path):
    def edit(c):
        columns = c["leaderboards"][0]["columns"]
        columns.append({"title": "F1", "key": "f1", "index": len(columns), "sorting": "desc"})
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", edit_yaml=edit)
    assert problems_of(broken, run_solutions=True) == [
        "leaderboards[0].columns[9].key: 'f1' is not written by the scoring program (scoring solutions[0] wrote: "
        "accuracy, accuracy_points, cv_metrics, duration, model_family, readme_snippet, roc_auc, roc_auc_points, "
        "score)"]


def test_scorer_key_without_column(bundle, tmp_path):
    broken = rewrite_bundle(bundle, tmp_path / "b.zip",
                            edit_yaml=lambda c: c["leaderboards"][0]["columns"].pop())  # drop 'duration'
    assert problems_of(broken, run_solutions=True) == [
        "leaderboards[0].columns: the scoring program writes 'duration', which no column shows"]


def test_answer_file_inside_public_data(bundle, tmp_path):
    with_answers = edit_inner_zip(bundle, "public_data.zip", lambda files: files.update(
        {"labels.csv": read_inner(bundle, "reference_data.zip", "test_labels.csv")}))
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", replace={"public_data.zip": with_answers})
    problems = problems_of(broken)
    assert "public_data.zip:labels.csv: is a copy of the answer file reference_data.zip:test_labels.csv" in problems


def test_answer_values_inside_input_data(bundle, tmp_path):
    """Not a copy of the file, but the labels joined to the test inputs: still a leak, found by id."""
    labels = pd.read_csv(io.BytesIO(read_inner(bundle, "reference_data.zip", "test_labels.csv")), dtype=str)

    def add_labels(files):
        test = pd.read_csv(io.BytesIO(files["test.csv"]), dtype=str)
        test["churned"] = test["id"].map(dict(zip(labels["id"], labels["target"])))
        files["test.csv"] = test.sample(frac=1, random_state=0).to_csv(index=False).encode()  # order changed

    broken = rewrite_bundle(bundle, tmp_path / "b.zip",
                            replace={"input_data.zip": edit_inner_zip(bundle, "input_data.zip", add_labels)})
    assert problems_of(broken) == [
        "input_data.zip:test.csv: column 'churned' holds the answers (reference_data.zip:test_labels.csv column "
        "'target') for 200 ids"]


def test_program_zipped_with_its_folder(bundle, tmp_path):
    def nest(files):
        for name in list(files):
            files["scoring/" + name] = files.pop(name)
    broken = rewrite_bundle(bundle, tmp_path / "b.zip",
                            replace={"scoring_program.zip": edit_inner_zip(bundle, "scoring_program.zip", nest)})
    assert problems_of(broken) == [
        "tasks[0].scoring_program: 'scoring_program.zip' has no metadata.yaml at its root (found "
        "scoring/metadata.yaml: zip the program's files, not its folder); Codabench would run nothing"]


def test_structure_problems_are_all_reported(bundle, tmp_path):
    def edit(c):
        del c["version"]
        c["title"] = "x" * 300
        c["leaderboard"] = c.pop("leaderboards")
        c["pages"][0]["file"] = "pages/missing.md"
        c["docker_image"] = None
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", edit_yaml=edit, replace={"logo.png": b"<svg/>"})
    assert problems_of(broken) == [
        "version: must be 2 (without it Codabench uses its old unpacker and fails confusingly)",
        "title: 300 characters; at most 256",
        "image: 'logo.png' is not a PNG, JPEG, GIF or WebP image (checked by content)",
        "pages[0].file: file 'pages/missing.md' is not in the bundle",
        "docker_image: not set: Codabench would run the programs in codalab-legacy:py37 (Python 3.7)",
        "leaderboard: the key is 'leaderboards' (plural); 'leaderboard' is ignored",
        "leaderboards: required: a list with one leaderboard"]


def test_leaderboard_column_rules(bundle, tmp_path):
    def edit(c):
        columns = c["leaderboards"][0]["columns"]
        columns[1]["key"] = "score"
        columns[2]["index"] = 0
        columns[3]["sorting"] = "up"
        c["leaderboards"][0]["primary_index"] = 9
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", edit_yaml=edit)
    assert problems_of(broken) == [
        "leaderboards[0].columns[1].key: 'score' is used by another column",
        "leaderboards[0].columns[2].index: 0 is used by another column",
        "leaderboards[0].columns[3].sorting: 'up': must be asc or desc",
        "leaderboards[0].primary_index: 9 is not the index of a visible column (the leaderboard page would crash)"]


def test_two_columns_without_a_key_are_each_reported_not_a_crash(bundle, tmp_path):
    def edit(c):
        columns = c["leaderboards"][0]["columns"]
        del columns[1]["key"], columns[2]["key"]
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", edit_yaml=edit)
    found = problems_of(broken)
    assert "leaderboards[0].columns[1].key: required" in found
    assert "leaderboards[0].columns[2].key: required" in found


def test_cli_prints_every_problem_and_exits_1(bundle, tmp_path):
    def edit(c):
        c["phases"][1]["tasks"] = [3]
        del c["terms"]
    broken = rewrite_bundle(bundle, tmp_path / "broken.zip", edit_yaml=edit)
    result = run_cli("validate", broken)
    assert result.returncode == 1
    assert "broken.zip: 2 problem(s)" in result.stdout
    assert "terms: required (a non-empty UTF-8 file)" in result.stdout
    assert "phases[1].tasks[0]: task 3 is not defined in tasks" in result.stdout


def test_a_file_that_is_not_a_zip_is_named_once(bundle, tmp_path):
    """Issue 12: "notzip.zip: notzip.zip: not a valid zip file" (validate), and the same for a run's submission."""
    notzip = tmp_path / "notzip.zip"
    notzip.write_text("hello\n")
    result = run_cli("validate", notzip)
    assert result.returncode == 1
    assert result.stdout.splitlines()[1:] == ["  notzip.zip: not a valid zip file (File is not a zip file)"]
    result = run_cli("run", bundle, "--submission", notzip, "--workdir", tmp_path / "run", "--no-sandbox")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "notzip.zip: not a valid zip file" in output and "notzip.zip: notzip.zip" not in output



def test_detailed_results_must_be_self_contained(tmp_path):
    """Codabench shows detailed_results.html on its own: a page that loads a plot from elsewhere is flagged."""
    from conftest import build_copy, copy_project

    project = copy_project(tmp_path / "project", tasks=(), toy=True)
    scorer = project.root / "scoring_programs" / "toy_results_scorer" / "scoring.py"
    scorer.write_text(scorer.read_text().replace(
        "    return Scored({", "    page = Report('x')\n    page.render = lambda: '<img src=\"https://cdn.example/p.png\">'\n"
        "    return Scored(report=page, scores={").replace(
        "from programlib.scoring import", "from programlib.report import Report\nfrom programlib.scoring import"))
    bundle = build_copy(project, "toy-results", tmp_path / "dist", tmp_path / "cache")
    assert problems_of(bundle, run_solutions=True) == [
        "scoring_program: detailed_results.html is not self-contained: it loads 'https://cdn.example/p.png' "
        "(embed images as data: URIs)"]


def test_external_references():
    from bundlegen.validate import external_references

    page = ('<img src="data:image/png;base64,AAA"><a href="https://docs.example">docs</a><img src=plot.png>'
            '<link rel="stylesheet" href="http://cdn/x.css"><style>b{background:url(\'http://x/y.png\')}</style>'
            '<script src="https://cdn/x.js"></script><a href="#top">top</a>')
    assert external_references(page) == ["http://cdn/x.css", "http://x/y.png", "https://cdn/x.js", "plot.png"]
