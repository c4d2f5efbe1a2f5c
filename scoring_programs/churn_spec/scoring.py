"""Scoring program of the churn-spec task (a results submission: spec.md scored as submitted).

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/facts.json holds what the brief and the schema planted (table and column names, the churn window, the
leaking column, k, the constraints, the base rate, and the values each could have taken); res/spec.md is the
participant's spec.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from churn_spec_rubric import BLOCK_SHARE, HEADINGS, STUFFING_FACTOR, WEIGHTS, score_spec
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
                 [["factor (stuffing, other schema)", scores["factor"], ""], ["score", scores["score"], ""]])
    report.paragraph(f"Score = factor × the weighted sum of the items. A value right only in the front matter earns "
                     f"{BLOCK_SHARE:.0%} of its check; the rest needs a sentence of the body about it that says it.")
    for key in WEIGHTS:
        item = details["items"][key]
        report.heading(f"{key}: {scores[key]:.2f} of 1 (weight {WEIGHTS[key]})")
        report.table(["check", "share", "points", "what was found / why points were lost"],
                     [[c.name, c.share, c.points, c.note] for c in item.checks])
    report.heading(f"Factor: {scores['factor']:.2f}")
    stuffing = details["stuffing"]
    report.paragraph(f"Stuffing (×{STUFFING_FACTOR} when any): {describe(stuffing)}.")
    report.paragraph(f"Names of this schema: {details['grounding']}.")
    if details["bags"]:
        report.paragraph("Lines read as bags of values for several items at once (no claim counted from them): " +
                         " | ".join(unit.text[:80] for unit in details["bags"][:5]))
    if details["pasted"]:
        report.paragraph(f"Most of the body's sentences are the brief's own ({len(details['pasted'])} copied): they "
                         f"count for nothing (a spec says what the brief does not).")
    report.paragraph(f"Required headings (or a synonym): {', '.join(HEADINGS)}.")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
