"""The thin entry every scoring program uses: resolve folders, score, write scores.json and the report.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

INPUT_DIR holds `ref/` (the reference data) and `res/` (the submission or the ingestion's output),
exactly as Codabench's compute worker mounts them.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import SubmissionError
from .report import Report

DEFAULT_INPUT = Path("/app/input")
DEFAULT_OUTPUT = Path("/app/output")
MAX_ABS_SCORE = 1e10  # Codabench drops scores at or beyond this magnitude


@dataclass
class Scored:
    scores: dict[str, float]
    report: Report = field(default_factory=lambda: Report("Detailed results"))


def overall(items: dict[str, float], weights: dict[str, float]) -> float:
    """The weighted sum of a rubric's items: every key of `weights` must be in `items`."""
    return sum(weight * items[key] for key, weight in weights.items())


def resolve_dirs(argv: list[str]) -> tuple[Path, Path]:
    if len(argv) > 2:
        raise SystemExit("usage: scoring.py [INPUT_DIR] [OUTPUT_DIR]")
    input_dir = Path(argv[0]) if len(argv) > 0 else DEFAULT_INPUT
    output_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    return input_dir, output_dir


def check_scores(scores: dict) -> dict[str, float]:
    """scores.json must be a flat object of finite numbers; anything else is our bug, not the participant's."""
    assert isinstance(scores, dict) and scores, "a scorer must return a non-empty dict"
    clean = {}
    for key, value in scores.items():
        assert isinstance(key, str) and key, f"score key {key!r} is not a non-empty string"
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"score {key!r} is {value!r}"
        value = float(value)
        assert math.isfinite(value) and abs(value) < MAX_ABS_SCORE, f"score {key!r} is {value!r}"
        clean[key] = value
    return clean


def write_scores(output_dir: Path, scores: dict) -> Path:
    path = output_dir / "scores.json"
    path.write_text(json.dumps(check_scores(scores), indent=2, sort_keys=True) + "\n")  # trusted: see run_scoring
    return path


def run_scoring(score: Callable[[Path, Path], Scored], argv: list[str] | None = None) -> int:
    """Run `score(reference_dir, result_dir)` and write its outputs; return the exit code."""
    input_dir, output_dir = resolve_dirs(sys.argv[1:] if argv is None else argv)
    reference_dir, result_dir = input_dir / "ref", input_dir / "res"
    for folder in (reference_dir, result_dir):
        if not folder.is_dir():
            print(f"ERROR: {folder} does not exist: the scoring program expects INPUT_DIR/ref and INPUT_DIR/res",
                  file=sys.stderr)
            return 2
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        scored = score(reference_dir, result_dir)
    except SubmissionError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        report = Report("Submission rejected")
        report.paragraph("The submission could not be scored:")
        report.pre(str(error))
        page = output_dir / "detailed_results.html"
        page.write_text(report.render(), encoding="utf-8")  # trusted: the scorer's own output folder, no link in it
        return 1
    path = write_scores(output_dir, scored.scores)
    (output_dir / "detailed_results.html").write_text(scored.report.render(), encoding="utf-8")  # trusted: as above
    width = max(len(key) for key in scored.scores)
    for key, value in sorted(scored.scores.items()):
        print(f"{key:<{width}}  {value:.6g}")
    print(f"wrote {path}")
    return 0
