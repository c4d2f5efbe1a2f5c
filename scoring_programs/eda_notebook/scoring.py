"""Scoring program of the eda-notebook task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/facts.json holds the planted problems and the true statistics of train.csv; res/ is the ingestion
program's output: res/submission/eda.ipynb is the notebook as executed (with its outputs), and
res/ingestion_result.json says whether it ran (a failing cell or the time limit is the participant's error).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from eda_notebook_rubric import WEIGHTS, score_notebook
from programlib import SubmissionError
from programlib.notebooks import read_notebook
from programlib.report import Report, describe
from programlib.results import ingestion_outcome
from programlib.scoring import Scored, run_scoring

ENTRY = "eda.ipynb"


def read_executed_notebook(result_dir: Path):
    outcome = ingestion_outcome(result_dir)  # raises the run's message when the notebook failed or timed out
    if outcome is None or outcome.get("status") != "ok":
        raise SubmissionError(f"this task takes a notebook: a zip with {ENTRY} at its root, which the platform "
                              f"executes")
    path = result_dir / "submission" / ENTRY
    if not path.is_file():
        raise AssertionError(f"the ingestion program ran {ENTRY} but left no executed copy in {path}")
    return read_notebook(path), outcome


def score(reference_dir: Path, result_dir: Path) -> Scored:
    facts = json.loads((reference_dir / "facts.json").read_text())
    book, outcome = read_executed_notebook(result_dir)
    scores, details = score_notebook(book, facts)
    scores["duration"] = float(outcome.get("duration") or 0.0)
    return Scored(scores, build_report(scores, details, book))


def build_report(scores: dict, details: dict, book) -> Report:
    report = Report("EDA notebook: detailed results")
    report.heading("Scores")
    report.table(["item", "points", "weight"], [[key, scores[key], WEIGHTS[key]] for key in WEIGHTS] +
                 [["score", scores["score"], ""]])
    report.paragraph(f"Run time of {ENTRY}: {scores['duration']:.1f} s")
    for key in WEIGHTS:
        report.heading(f"{key}: {scores[key]:.2f}")
        report.table(["check", "result"], [[name, describe(value)] for name, value in details[key].items()])
    report.heading("What the notebook printed (end)")
    printed = [line for line in book.outputs.splitlines() if not line.lstrip().startswith("<")]  # not the HTML
    report.pre("\n".join(printed[-40:]) or "(nothing)")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
