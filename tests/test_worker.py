"""The local compute worker: the solution end to end, time limits, and submissions that must be refused."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from bundlegen.worker import run_submission
from conftest import ROOT, build_copy, copy_project, edit_definition, processes_with, quiet, run_cli, write_zip

SOLUTION = ROOT / "starting_kits" / "tabular-baseline" / "solution"
SLEEPER = """
import subprocess, sys, time
# a child in its own session, as a sneaky program would start one
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
print("sleeping", flush=True)
time.sleep(120)
"""


@pytest.fixture
def bundle(tiny_bundle):
    return tiny_bundle("tabular-baseline")


def test_solution_end_to_end_through_the_cli(bundle, tmp_path):
    workdir = tmp_path / "run"
    result = run_cli("run", bundle, "--submission", SOLUTION, "--workdir", workdir, "--phase", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "phase 1 (Final)" in result.stdout
    assert re.search(r"score\s+(0\.[89]|1\b)", result.stdout)  # the reference solution scores (nearly) full marks
    assert "beats the trivial baseline" in result.stdout
    # the worker's folder layout, with each job's program where Codabench puts it
    for folder in ("prediction/program/ingestion.py", "prediction/ingested_program/baseline.py",
                   "prediction/input_data/train.csv", "prediction/output/predictions/predictions.csv",
                   "scoring/program/scoring.py", "scoring/input/ref/test_labels.csv",
                   "scoring/input/res/ingestion_result.json", "scoring/output/scores.json", "logs"):
        assert (workdir / folder).exists(), folder
    assert not (workdir / "prediction" / "input").exists(), "reference data must not reach the prediction job"
    html = (workdir / "scoring" / "output" / "detailed_results.html").read_text()
    assert "data:image/png;base64," in html
    assert not re.search(r"""(src|href)=["'](?!data:)""", html), "detailed results must be self-contained"
    scores = json.loads((workdir / "scoring" / "output" / "scores.json").read_text())
    assert str(workdir / "scoring" / "output" / "detailed_results.html") in result.stdout
    assert scores["readme_snippet"] == 1.0 and scores["cv_metrics"] == 1.0


def test_workdir_that_is_not_empty_is_refused(bundle, tmp_path):
    (tmp_path / "mine.txt").write_text("do not touch")
    result = run_cli("run", bundle, "--submission", SOLUTION, "--workdir", tmp_path)
    assert result.returncode == 1 and "is not empty" in result.stderr
    assert (tmp_path / "mine.txt").read_text() == "do not touch"


def test_submission_past_the_phase_limit_is_killed_with_all_its_children(bundle, tmp_path):
    marker = f"time.sleep(120)  # {tmp_path.name}"
    submission = write_zip(tmp_path / "sleeper.zip", {"baseline.py": SLEEPER.replace("time.sleep(120)", marker)})
    started = time.monotonic()
    result = run_submission(bundle, submission, time_limit=4, workdir=tmp_path / "run", log=quiet)
    assert time.monotonic() - started < 30
    assert not result.ok and result.scores is None
    assert result.error.startswith("Execution Time Limit exceeded: the prediction job was killed after 4 s")
    assert not (tmp_path / "run" / "scoring").exists()
    assert not processes_with(marker)


def test_ingestion_enforces_the_task_time_limit(tmp_path, cache_dir):
    project = copy_project(tmp_path / "project")
    edit_definition(project, "tabular-baseline", lambda d: d["submission"].update(time_limit=3))
    bundle = build_copy(project, "tabular-baseline", tmp_path / "dist", cache_dir)
    submission = write_zip(tmp_path / "sleeper.zip", {"baseline.py": SLEEPER})
    result = run_cli("run", bundle, "--submission", submission, "--workdir", tmp_path / "run")
    assert result.returncode == 1
    assert "baseline.py did not finish within the time limit of 3 s and was stopped" in result.stdout
    assert not (tmp_path / "run" / "scoring" / "output" / "scores.json").exists()


CRASH = "import pandas\nraise RuntimeError('model exploded at fold 3')\n"
CASES = {
    "no_entry": ({"README.md": "# my baseline\n"}, "the submission has no baseline.py at its root"),
    "zipped_folder": ({"mine/baseline.py": "print(1)\n"},
                      "the submission has no baseline.py at its root (found mine/baseline.py: zip the files "
                      "themselves, not the folder holding them)"),
    "crash": ({"baseline.py": CRASH}, "baseline.py exited with code 1"),
    "path_escape": ({"../evil.py": "print('out')\n", "baseline.py": "print(1)\n"},
                    "sub.zip: entry '../evil.py' escapes the target folder ('..')"),
    "no_predictions": ({"baseline.py": "print('auc 0.9')\n"},
                       "baseline.py finished but wrote no predictions.csv into the folder given by --output-dir"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_submission_gets_a_clear_message_and_no_scores(bundle, tmp_path, case):
    files, message = CASES[case]
    submission = write_zip(tmp_path / "sub.zip", files)
    result = run_cli("run", bundle, "--submission", submission, "--workdir", tmp_path / "run")
    assert result.returncode == 1
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "run" / "scoring" / "output" / "scores.json").exists()
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "run" / "evil.py").exists()
    if case == "crash":
        assert "RuntimeError: model exploded at fold 3" in result.stdout


def predictions_program(body: str) -> str:
    """A baseline.py writing predictions made by `body` (which sees `test` and must set `out`)."""
    return ("import argparse, pathlib, numpy as np, pandas as pd\n"
            "p = argparse.ArgumentParser(); p.add_argument('--data-dir'); p.add_argument('--output-dir')\n"
            "a = p.parse_args(); test = pd.read_csv(pathlib.Path(a.data_dir) / 'test.csv', dtype={'id': str})\n"
            f"{body}\n"
            "pathlib.Path(a.output_dir).mkdir(parents=True, exist_ok=True)\n"
            "out.to_csv(pathlib.Path(a.output_dir) / 'predictions.csv', index=False)\n")


BAD_PREDICTIONS = {
    "missing_ids": ("out = pd.DataFrame({'id': test.id, 'target': 0.5}).iloc[:-3]",
                    "predictions.csv: 3 test id(s) have no row"),
    "extra_id": ("out = pd.concat([pd.DataFrame({'id': test.id, 'target': 0.5}), "
                 "pd.DataFrame({'id': ['zzz'], 'target': [0.1]})])",
                 "column 'id': unknown id 'zzz'"),
    "duplicate_id": ("out = pd.DataFrame({'id': test.id, 'target': 0.5}); out.iloc[5, 0] = out.iloc[2, 0]",
                     "predictions.csv, line 7, column 'id': id"),
    "nan": ("out = pd.DataFrame({'id': test.id, 'target': 0.5}); out.loc[4, 'target'] = np.nan",
            "predictions.csv, line 6, column 'target': '' is not a number"),
    "inf": ("out = pd.DataFrame({'id': test.id, 'target': 0.5}); out.loc[0, 'target'] = np.inf",
            "predictions.csv, line 2, column 'target': 'inf' is not a finite number"),
    "wrong_columns": ("out = pd.DataFrame({'id': test.id, 'proba': 0.5})",
                      "predictions.csv, line 1: missing column(s) 'target'; unexpected column(s) 'proba'; "
                      "the header must be id,target"),
    "out_of_range": ("out = pd.DataFrame({'id': test.id, 'target': 1.5})",
                     "predictions.csv, line 2, column 'target': 1.5 is outside [0.0, 1.0]"),
}


@pytest.mark.parametrize("case", sorted(BAD_PREDICTIONS))
def test_malformed_predictions_are_rejected_by_the_scorer(bundle, tmp_path, case):
    body, message = BAD_PREDICTIONS[case]
    submission = write_zip(tmp_path / "sub.zip", {"baseline.py": predictions_program(body)})
    result = run_submission(bundle, submission, workdir=tmp_path / "run", log=quiet)
    assert not result.ok and result.scores is None
    assert message in result.error
    assert not (tmp_path / "run" / "scoring" / "output" / "scores.json").exists()
    assert result.jobs[-1].process.exit_code == 1  # a participant error, not a crash of the scorer
    assert "Traceback" not in result.error


def test_a_submission_folder_runs_like_a_zip(bundle, tmp_path):
    """A submission folder works like a zip (handy while developing)."""
    result = run_submission(bundle, SOLUTION, workdir=tmp_path / "run", log=quiet)
    assert result.ok, result.error
    assert os.path.isfile(result.detailed_results)


def test_placement_among_thresholds():
    from bundlegen.worker import placement

    info = {"sorting": "desc", "scale": "small", "thresholds_scale": "small",
            "thresholds": {"gold": 0.9, "silver": 0.8, "bronze": 0.7, "median": 0.6, "trivial": 0.4, "reference": 0.85}}
    assert placement(0.82, info) == ("silver medal; above the median; beats the trivial baseline (0.4); "
                                     "does not beat the reference solution (0.85)")
    assert placement(0.4, info).startswith("no medal; below the median; matches the trivial baseline")
    lower = dict(info, sorting="asc", thresholds={"gold": 0.1, "bronze": 0.3})
    assert placement(0.2, lower) == "bronze medal"
    assert placement(0.2, dict(info, scale="tiny")).endswith("[thresholds were measured at scale 'small'; this bundle is 'tiny']")
    assert placement(0.2, {"thresholds": {}}) is None


def test_run_prints_the_work_folder_first_then_a_heartbeat_with_the_last_output(tiny_bundle, tmp_path, monkeypatch):
    import bundlegen.worker as worker

    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.2)
    script = "import time\nprint('hello-from-participant', flush=True)\ntime.sleep(3)\n"
    said: list[str] = []
    submission = write_zip(tmp_path / "slow.zip", {"baseline.py": script})
    worker.run_submission(tiny_bundle("tabular-baseline"), submission, log=said.append)
    assert said[0].startswith("work folder: ")
    root = Path(said[0].removeprefix("work folder: "))
    assert root.parent.name == "codabench-runs" and root.name.startswith("tabular-baseline-phase0-")
    beats = [line for line in said if line.strip().startswith("prediction job: ") and " s of " in line]
    assert any("last output: hello-from-participant" in line for line in beats), said


def test_phases_are_numbered_by_their_index_as_codabench_numbers_them(bundle, tmp_path):
    """Codabench's unpacker sorts the phases by `index` first: a bundle listing Final before Development still has
    Development as phase 0."""
    from bundlegen.worker import Bundle
    from conftest import rewrite_bundle

    def reverse(competition: dict) -> None:
        competition["phases"].reverse()

    listed = rewrite_bundle(bundle, tmp_path / "reversed.zip", edit_yaml=reverse)
    names = [phase["name"] for phase in Bundle(listed).competition["phases"]]
    assert names[0] != "Development"  # listed out of order
    assert [Bundle(listed).phase_and_task(i)[0]["name"] for i in range(len(names))] == names[::-1]
