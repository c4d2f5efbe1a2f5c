"""What a code submission left for the scorer: the ingestion program's verdict and its output files."""
from __future__ import annotations

import json
from pathlib import Path

from .errors import SubmissionError

INGESTION_RESULT = "ingestion_result.json"
SUCCEEDED = ("ok", "results")


def ingestion_outcome(result_dir: Path) -> dict | None:
    """The ingestion result, None for a results submission scored directly; a failed run is the participant's error."""
    path = result_dir / INGESTION_RESULT
    if not path.is_file():
        return None
    outcome = json.loads(path.read_text())
    if outcome.get("status") not in SUCCEEDED:
        raise SubmissionError(outcome.get("message") or f"the submission did not run: {outcome.get('status')}")
    return outcome


def output_file(result_dir: Path, name: str, producer: str) -> Path:
    """Where a submission's `name` is: predictions/ after ingestion, else the root of what was submitted."""
    for path in (result_dir / "predictions" / name, result_dir / name):
        if path.is_file():
            return path
    if (result_dir / INGESTION_RESULT).is_file():
        raise SubmissionError(f"{producer} finished but wrote no {name} into the folder given by --output-dir")
    raise SubmissionError(f"the submission has no {name} at its root")
