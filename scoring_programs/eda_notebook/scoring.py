"""Scoring program of the eda-notebook task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

The notebook ran on the hidden train.csv (the bundle's input data: other rows, columns and rates than the public
file). ref/facts.json holds its planted problems and true statistics, ref/columns.json its values (to recompute
the histograms a notebook plotted). res/ is the ingestion program's output: res/submission/eda.ipynb is the
notebook as executed (with its outputs), res/submission/.figures.json the record of what its figures plotted
(written by the notebook runner's kernel hook), and res/ingestion_result.json says whether it ran (a failing
cell or the time limit is the participant's error).
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from eda_notebook_figures import read_record
from eda_notebook_rubric import LOST, WEIGHTS, figure_findings, score_notebook
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
    columns = json.loads((reference_dir / "columns.json").read_text())
    book, outcome = read_executed_notebook(result_dir)
    shown = read_record(result_dir, {hashlib.sha256(image).hexdigest() for image in book.images})
    scores, details = score_notebook(book, facts, shown, columns)
    scores["duration"] = float(outcome.get("duration") or 0.0)
    return Scored(scores, build_report(scores, details, book, figure_findings(shown)))


def build_report(scores: dict, details: dict, book, figures: list[list[str]]) -> Report:
    report = Report("EDA notebook: detailed results")
    report.heading("Scores")
    report.table(["item", "points", "weight"], [[key, scores[key], WEIGHTS[key]] for key in WEIGHTS] +
                 [["score", scores["score"], ""]])
    report.paragraph(f"Run time of {ENTRY}: {scores['duration']:.1f} s. The notebook ran on the hidden train.csv "
                     "(the same kind of table as the public file, with other rows, columns and rates); every check "
                     "compares what it showed with that file.")
    for key in WEIGHTS:
        report.heading(f"{key}: {scores[key]:.2f}")
        rows = [[name, describe(value)] for name, value in details[key].items() if name != LOST]
        report.table(["check", "result"], rows)
        if LOST in details[key]:
            report.paragraph(f"Why points were lost: {details[key][LOST]}", "bad")
        if key == "plots" and figures:
            report.table(["figure", "title", "recognised"], figures)
    report.heading("What the notebook printed (end)")
    plain = [text for cell in book.cells for text in cell.text_outputs if not text.lstrip().startswith("<")]
    printed = "\n".join(plain).splitlines()  # not the HTML copies of tables (their text copy is there)
    report.pre("\n".join(printed[-40:]) or "(nothing)")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
