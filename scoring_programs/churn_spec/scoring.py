"""Scoring program of the churn-spec task (a results submission: spec.md scored as submitted).

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/facts.json holds what the brief and the schema planted (table and column names, the churn window, k,
the constraints); res/spec.md is the participant's spec.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from churn_spec_rubric import HEADINGS, WEIGHTS, score_spec
from churn_spec_spec import NAME, parse_spec
from programlib import SubmissionError
from programlib.report import Report, describe
from programlib.scoring import Scored, run_scoring


def read_spec_text(result_dir: Path) -> str:
    path = result_dir / NAME
    if not path.is_file():
        found = sorted(p.relative_to(result_dir).as_posix() for p in result_dir.rglob(NAME))
        hint = f" (found {found[0]}: zip the file itself, not the folder holding it)" if found else ""
        raise SubmissionError(f"the submission has no {NAME} at its root{hint}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{NAME} is not UTF-8 text: {error}") from None


def score(reference_dir: Path, result_dir: Path) -> Scored:
    facts = json.loads((reference_dir / "facts.json").read_text())
    spec = parse_spec(read_spec_text(result_dir))
    scores, details = score_spec(spec.block, spec.body, facts)
    return Scored(scores, build_report(scores, details))


def build_report(scores: dict, details: dict) -> Report:
    report = Report("Churn ML spec: detailed results")
    report.heading("Scores")
    report.table(["item", "points", "weight"], [[key, scores[key], WEIGHTS[key]] for key in WEIGHTS] +
                 [["score", scores["score"], ""]])
    for key in WEIGHTS:
        report.heading(f"{key}: {scores[key]:.2f}")
        report.table(["check", "result"], [[name, describe(value)] for name, value in details[key].items()])
    report.paragraph(f"Required headings: {', '.join(HEADINGS)}.")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
