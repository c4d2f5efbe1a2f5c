"""A phase graded on another hidden draw (issue 13): what one phase's logs showed about its hidden data does not
answer the next. Each draw is a Codabench task of its own; the public data is the same for every draw."""
from __future__ import annotations

import io
import zipfile

import pytest
import yaml

from bundlegen.data import PrepareError
from bundlegen.definition import DefinitionError, load_all, load_task
from conftest import build_copy, copy_project, edit_definition

PHASED = [task_id for task_id, task in load_all().items() if len(task.hidden_draws) > 1]


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_every_workflow_code_task_grades_its_final_phase_on_a_draw_of_its_own():
    assert set(PHASED) == {"eda-notebook", "eval-metrics-report", "feature-engineering", "model-comparison",
                           "refactor-train-config", "tabular-baseline"}
    for task_id, task in load_all().items():
        first, *_, final = task.model.phases
        if task_id in PHASED:
            assert final.hidden_draw != first.hidden_draw and final.hide_output, task_id


@pytest.mark.parametrize("task_id", PHASED)
def test_each_draw_is_a_task_with_its_own_hidden_data_and_the_same_public_data(tiny_bundle, task_id):
    with zipfile.ZipFile(tiny_bundle(task_id)) as bundle:
        competition = yaml.safe_load(bundle.read("competition.yaml"))
        tasks, phases = competition["tasks"], competition["phases"]
        assert [(t["index"], t["reference_data"], t["input_data"]) for t in tasks] == [
            (0, "reference_data.zip", "input_data.zip"), (1, "reference_data_1.zip", "input_data_1.zip")]
        assert [phase["tasks"] for phase in phases] == [[0], [1]]
        assert [phase.get("hide_output", False) for phase in phases] == [False, True]
        assert competition["solutions"][0]["tasks"] == [0, 1]
        assert len({phase["public_data"] for phase in phases}) == 1  # one public data zip for both phases
        first, second = (unzip(bundle.read(f"input_data{suffix}.zip")) for suffix in ("", "_1"))
        assert first.keys() == second.keys()  # the same files, as the pages describe them...
        differing = [name for name in first if first[name] != second[name]]
        assert differing, "...with other contents: the final phase's hidden inputs are a draw of their own"
        assert bundle.read("reference_data.zip") != bundle.read("reference_data_1.zip")


def rewrite_prepare(project, task_id: str, old: str, new: str) -> None:
    path = project.bundles_dir / task_id / "prepare.py"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_a_prepare_that_ignores_the_draw_is_refused(tmp_path):
    """Two phases on the same hidden data while the pages promise otherwise: the build stops."""
    project = copy_project(tmp_path / "project", tasks=("eda-notebook",))
    rewrite_prepare(project, "eda-notebook", "hidden_table(frame, roles, n_rows, hidden_stream(seed, params))",
                    "hidden_table(frame, roles, n_rows, [HIDDEN_STREAM, seed])")
    with pytest.raises(PrepareError, match="same hidden data for hidden draws 0 and 1"):
        build_copy(project, "eda-notebook", tmp_path / "out", tmp_path / "cache")
    assert not (tmp_path / "out" / "eda-notebook.zip").exists()


def test_a_prepare_whose_public_data_depends_on_the_draw_is_refused(tmp_path):
    project = copy_project(tmp_path / "project", tasks=("eda-notebook",))
    rewrite_prepare(project, "eda-notebook", '    frame.to_csv(public / "train.csv", index=False)',
                    '    frame.to_csv(public / "train.csv", index=False)\n'
                    '    (public / "note.txt").write_text(str(params.get("hidden_draw", 0)))')
    with pytest.raises(PrepareError, match="other public data for hidden draw 1"):
        build_copy(project, "eda-notebook", tmp_path / "out", tmp_path / "cache")


def test_a_results_task_cannot_have_another_hidden_draw(tmp_path):
    project = copy_project(tmp_path / "project", tasks=(), toy=True)

    last = []

    def final_on_draw_one(data: dict) -> None:
        data["phases"][-1]["hidden_draw"] = 1
        last.append(len(data["phases"]) - 1)

    folder = edit_definition(project, "toy-results", final_on_draw_one)
    with pytest.raises(DefinitionError, match=rf"phases\[{last[0]}\]\.hidden_draw: only a code submission"):
        load_task(folder, project)


def test_a_config_edit_takes_its_values_from_exactly_one_source(tmp_path):
    """set (values in bundle.yaml) or set_from (each draw's values, from a file of its input data)."""
    project = copy_project(tmp_path / "project", tasks=("refactor-train-config",))

    def both(data: dict) -> None:
        data["submission"]["runs"][0]["config_edit"]["set"] = {"learning_rate": 0.05}

    folder = edit_definition(project, "refactor-train-config", both)
    with pytest.raises(DefinitionError, match=r"submission\.runs\[0\]\.config_edit.*either `set` or `set_from`"):
        load_task(folder, project)
