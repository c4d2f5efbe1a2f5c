"""bundle.yaml: every real task loads; every mistake is reported with the file and the field."""
from __future__ import annotations

import pytest

from bundlegen.definition import DefinitionError, load_all, load_task
from conftest import TASK_IDS, copy_project, edit_definition, run_cli

FILE = "bundles/tabular-baseline/bundle.yaml"


def test_every_task_of_the_project_loads():
    tasks = load_all()
    assert sorted(tasks) == TASK_IDS and "tabular-baseline" in tasks
    for task in tasks.values():
        assert set(task.model.scales) == {"tiny", "small", "full"}


def broken(tmp_path, edit) -> list[str]:
    project = copy_project(tmp_path / "project")
    folder = edit_definition(project, "tabular-baseline", edit)
    with pytest.raises(DefinitionError) as caught:
        load_task(folder, project)
    return caught.value.problems


def test_missing_field_names_file_and_field(tmp_path):
    problems = broken(tmp_path, lambda d: d.pop("title"))
    assert problems == [f"{FILE}: title: required field is missing"]


def test_wrong_type_names_file_and_field(tmp_path):
    def edit(d):
        d["phases"][1]["max_submissions"] = "many"
    problems = broken(tmp_path, edit)
    assert len(problems) == 1
    assert problems[0].startswith(f"{FILE}: phases[1].max_submissions: ") and "integer" in problems[0]


def test_unknown_starting_kit_with_a_solution_is_one_problem_not_a_crash(tmp_path):
    problems = broken(tmp_path, lambda d: d.update(starting_kit="no_such_kit", solution="solution"))
    assert len(problems) == 1 and problems[0].startswith(f"{FILE}: starting_kit: ") and "no_such_kit" in problems[0]


def test_unknown_program_names_file_and_field(tmp_path):
    problems = broken(tmp_path, lambda d: d.update(scoring_program="no_such_scorer"))
    assert len(problems) == 1
    assert problems[0].startswith(f"{FILE}: scoring_program: unknown scoring program 'no_such_scorer' (known: ")
    assert "tabular_baseline" in problems[0]


def test_unknown_field_and_bad_values_are_all_reported_together(tmp_path):
    def edit(d):
        d["colour"] = "blue"
        d["phases"][0]["start"] = "first of May"
        d["leaderboard"]["primary"] = "f1"
        d["docker_image"] = "gpu-xl"
    problems = broken(tmp_path, edit)
    joined = "\n".join(problems)
    assert f"{FILE}: colour: unknown field" in problems
    assert f"{FILE}: phases[0].start: " in joined
    # pydantic problems stop before cross-checks; fix them and the rest are reported together
    def edit_cross(d):
        d["leaderboard"]["primary"] = "f1"
        d["docker_image"] = "gpu-xl"
        d["phases"][1]["start"] = "2027-01-01 00:00:00"  # before phase 0 ends
    problems = broken(tmp_path / "second", edit_cross)
    assert f"{FILE}: leaderboard.primary: 'f1' is not a column key (score, roc_auc, accuracy, roc_auc_points, " \
           f"accuracy_points, cv_metrics, model_family, readme_snippet, duration)" in problems
    assert any(p.startswith(f"{FILE}: docker_image: unknown docker image 'gpu-xl'") for p in problems)
    assert any(p.startswith(f"{FILE}: phases[1].start: 2027-01-01 00:00:00 must be after phase 0's end") for p in problems)


def test_missing_page_file_and_time_limits(tmp_path):
    def edit(d):
        d["pages"][1]["file"] = "pages/nowhere.md"
        d["submission"]["time_limit"] = 500  # more than the phases' 420 s
    problems = broken(tmp_path, edit)
    assert f"{FILE}: pages[1].file: file 'pages/nowhere.md' not found in bundles/tabular-baseline" in problems
    assert any(p.startswith(f"{FILE}: phases[0].execution_time_limit: 420 s must exceed submission.time_limit")
               for p in problems)


def test_extra_runs_are_checked(tmp_path):
    def edit(d):
        d["submission"]["time_limit"] = 150  # 4 runs × 150 s = 600 s, more than the phases' 420 s
        d["submission"]["runs"] = [
            {"name": "rerun"}, {"name": "rerun", "entry": "notes.txt"},
            {"name": "changed", "args": ["--out", "{output}"], "config_edit": {"file": "config.yaml", "set": {"a": 1}}}]
    problems = broken(tmp_path / "cross", edit)
    assert f"{FILE}: submission.runs[1].name: 'rerun' is taken (names are unique, and not 'main')" in problems
    assert not any("runs[0].name" in p for p in problems)
    assert any(p.startswith(f"{FILE}: submission.runs[1].entry: 'notes.txt': the ingestion program runs .py")
               for p in problems)
    assert f"{FILE}: submission.runs[2].args[1]: unknown placeholder {{output}}" in problems
    assert any(p.startswith(f"{FILE}: phases[0].execution_time_limit: 420 s must exceed 4 × submission.time_limit "
                            f"(600 s)") for p in problems)
    empty_edit = broken(tmp_path / "schema", lambda d: d["submission"].update(
        runs=[{"name": "changed", "config_edit": {"file": "config.yaml", "set": {}}}]))
    assert any(p.startswith(f"{FILE}: submission.runs[0].config_edit.set:") for p in empty_edit)


def test_code_submission_needs_ingestion(tmp_path):
    problems = broken(tmp_path, lambda d: d.pop("ingestion_program"))
    assert problems == [f"{FILE}: ingestion_program: a code submission needs an ingestion program to run it"]


def test_yaml_syntax_error_names_the_file(tmp_path):
    project = copy_project(tmp_path / "project")
    path = project.bundles_dir / "tabular-baseline" / "bundle.yaml"
    path.write_text("id: [unclosed\n")
    with pytest.raises(DefinitionError) as caught:
        load_task(path.parent, project)
    assert caught.value.problems[0].startswith(f"{FILE}: not valid YAML")


def test_cli_rejects_unknown_task():
    result = run_cli("build", "no-such-task", "--scale", "tiny", "--out", "/tmp/never-written")
    assert result.returncode == 1
    assert "unknown task(s): no-such-task" in result.stderr
