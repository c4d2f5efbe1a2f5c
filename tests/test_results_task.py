"""The other submission kind: a results file scored as submitted (no ingestion), and a solution made by prepare()."""
from __future__ import annotations

import zipfile

import pytest
import yaml

from bundlegen.validate import validate_bundle
from bundlegen.worker import placement, run_submission
from conftest import build_copy, copy_project, quiet, write_zip


@pytest.fixture(scope="module")
def toy_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    project = copy_project(root / "project", tasks=(), toy=True)
    return build_copy(project, "toy-results", root / "dist", root / "cache")


def test_results_bundle_has_no_ingestion_and_validates(toy_bundle):
    with zipfile.ZipFile(toy_bundle) as bundle:
        competition = yaml.safe_load(bundle.read("competition.yaml"))
        assert "ingestion_program.zip" not in bundle.namelist() and "starting_kit.zip" not in bundle.namelist()
    assert set(competition["tasks"][0]) == {"index", "name", "description", "scoring_program", "reference_data"}
    report = validate_bundle(toy_bundle, log=quiet)
    assert report.ok, report.problems
    [(_, run)] = report.solution_runs
    assert run.scores["mae"] == pytest.approx(0.05)
    assert placement(run.scores["mae"], run.info).startswith("gold medal; beats the trivial baseline")


def test_results_submission_is_scored_as_submitted(toy_bundle, tmp_path):
    answers = "id,y\n" + "".join(f"i{k},0\n" for k in range(30))
    result = run_submission(toy_bundle, write_zip(tmp_path / "s.zip", {"predictions.csv": answers}),
                            workdir=tmp_path / "run", log=quiet)
    assert result.ok and result.scores["mae"] > 0.3
    assert [job.name for job in result.jobs] == ["scoring"]
    assert (tmp_path / "run" / "scoring" / "input" / "res" / "predictions.csv").is_file()


def test_bad_results_file_is_refused(toy_bundle, tmp_path):
    rows = "id,y\ni0,zero\n" + "".join(f"i{k},0\n" for k in range(1, 30))
    result = run_submission(toy_bundle, write_zip(tmp_path / "s.zip", {"predictions.csv": rows}),
                            workdir=tmp_path / "run", log=quiet)
    assert not result.ok
    assert "predictions.csv, line 2, column 'y': 'zero' is not a number" in result.error
