"""Scoring program of the refactor-train-config task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/facts.json holds the constants of the original train.py, the value each extra run sets in the participant's
config.yaml, and what the original script does on the hidden data (each epoch's loss, validation loss and
accuracy) with its own constants and with each changed one. res/ is the ingestion program's output:
submission/ (train.py, config.yaml), predictions/ (metrics.csv, checkpoints/), and runs/<constant>/ and
runs/relocated/, the extra runs with a changed config. The rubric (refactor_train_config_rubric.py) says what
counts; this file reads the folders and writes the report.
"""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import numpy as np

from programlib import SubmissionError
from programlib.report import Report
from programlib.results import ingestion_outcome
from programlib.safe_yaml import YamlError, load_yaml_file
from programlib.scoring import Scored, run_scoring
from programlib.tables import parse_numbers, read_csv_table
from refactor_train_config_rubric import (CONSTANTS, METRIC_COLUMNS, TOLERANCE, WORK_WEIGHTS, checkpoints_item,
                                          combine, constant_item, no_hard_coded_item, per_epoch_item,
                                          reproduces_item, work_score)

ENTRY = "train.py"
CONFIG = "config.yaml"
METRICS = "metrics.csv"


def read_metrics(path: Path, name: str) -> dict | None:
    """metrics.csv as columns of floats; None if absent; a SubmissionError if malformed."""
    if not path.is_file():
        return None
    frame = read_csv_table(path, METRIC_COLUMNS, name=name)
    bounds = {"valid_accuracy": (0.0, 1.0)}
    return {column: parse_numbers(frame, column, name=name, low=bounds.get(column, (None, None))[0],
                                  high=bounds.get(column, (None, None))[1]).tolist() for column in METRIC_COLUMNS}


def extra_run(result_dir: Path, outcome: dict, name: str) -> tuple[Path | None, str]:
    """The output folder of an extra run, or None and why not."""
    run = (outcome.get("runs") or {}).get(name)
    if run is None:
        return None, f"the run {name!r} did not happen"
    if run.get("status") != "ok":
        return None, f"the run {name!r} failed: {run.get('message')}"
    return result_dir / "runs" / name / "predictions", f"the run {name!r} finished"


def checkpoint_values(path: Path) -> np.ndarray | None:
    """Every number of an .npz archive of finite numeric arrays, flattened; None if it is anything else."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = [archive[key] for key in sorted(archive.files)]
    except Exception:  # a broken file raises whatever numpy or zipfile raise (BadZipFile, zlib.error, ...)
        return None
    if not arrays or not all(np.issubdtype(a.dtype, np.number) and np.isfinite(a).all() for a in arrays):
        return None
    return np.concatenate([a.ravel().astype(float) for a in arrays])


def network_checkpoints(folder: Path | None, epochs: int, size: int) -> int:
    """How many of epoch_001.npz ... epoch_<epochs>.npz hold the network: as many finite numbers as it has
    weights, and not the previous epoch's (training moves them: a file written once and copied is no checkpoint)."""
    if folder is None:
        return 0
    count, previous = 0, None
    for epoch in range(1, epochs + 1):
        values = checkpoint_values(folder / f"epoch_{epoch:03d}.npz")
        fresh = values is not None and values.size == size and (previous is None or not np.array_equal(values, previous))
        count += fresh
        previous = values
    return count


def read_submission(folder: Path) -> tuple[dict[str, str], object, str]:
    """The text of every .py file, the parsed config.yaml (None if absent; unreadable: a SubmissionError), a note."""
    sources = {}
    for path in sorted(folder.rglob("*.py")):
        name = path.relative_to(folder).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            ast.parse(text, filename=name)
        except SyntaxError as error:
            raise SubmissionError(f"{name}, line {error.lineno}: not valid Python ({error.msg})") from None
        except (ValueError, MemoryError, RecursionError) as error:  # the parser's stack: '-' * 100000 + '1'
            raise SubmissionError(f"{name}: not valid Python: nested too deeply ({type(error).__name__})") from None
        sources[name] = text
    config_path = folder / CONFIG
    if not config_path.is_file():
        return sources, None, f"no {CONFIG} in the submission"
    try:  # bounded: size, nesting, aliases (a billion laughs); not UTF-8, a 5000-digit integer
        return sources, load_yaml_file(config_path, label=CONFIG), f"{CONFIG} read"
    except YamlError as error:
        raise SubmissionError(str(error)) from None


def run_metrics(result_dir: Path, outcome: dict, name: str) -> tuple[dict | None, Path | None, str]:
    """An extra run's metrics.csv (None if absent), its predictions folder, and a note saying what happened."""
    folder, note = extra_run(result_dir, outcome, name)
    if folder is None:
        return None, None, note
    metrics = read_metrics(folder / METRICS, f"{METRICS} (run {name!r})")
    return metrics, folder, note if metrics is not None else f"the run {name!r} wrote no {METRICS}"


def score(reference_dir: Path, result_dir: Path) -> Scored:
    outcome = ingestion_outcome(result_dir)
    if outcome is None or outcome.get("status") != "ok":
        raise SubmissionError(f"this task takes code submissions: a zip with {ENTRY} and {CONFIG} at its root, "
                              f"which the ingestion program runs")
    facts = json.loads((reference_dir / "facts.json").read_text())
    original, defaults = facts["original_run"], facts["defaults"]
    epochs, hidden = defaults["epochs"], defaults["hidden_units"]
    size = facts["n_features"] * hidden + 2 * hidden + 1  # W1, b1, W2 and b2
    default = read_metrics(result_dir / "predictions" / METRICS, METRICS)
    items, why, constants = {}, {}, []
    for name in CONSTANTS:
        changed, _, note = run_metrics(result_dir, outcome, name)
        constants.append([name, *constant_item(name, changed, note, default, facts["changed_runs"][name])])
    items["config_changes_run"] = sum(row[1] for row in constants) / len(CONSTANTS)
    why["config_changes_run"] = (f"{sum(row[1] == 1 for row in constants)} of {len(CONSTANTS)} constants change "
                                 f"the run as they change the original (one extra run each; see below)")
    items["reproduces"], why["reproduces"] = reproduces_item(default, original)
    items["per_epoch_metrics"], why["per_epoch_metrics"] = per_epoch_item(default, original)
    _, relocated_dir, relocated_note = run_metrics(result_dir, outcome, "relocated")
    items["checkpoints"], why["checkpoints"] = checkpoints_item(
        network_checkpoints(result_dir / "predictions" / facts["default_checkpoint_dir"], epochs, size),
        network_checkpoints(relocated_dir / facts["relocated"]["checkpoint_dir"] if relocated_dir else None,
                            epochs, size), epochs, relocated_note)
    sources, config, config_note = read_submission(result_dir / "submission")
    items["no_hard_coded"], constant_rows = no_hard_coded_item(sources, config, defaults)
    why["no_hard_coded"] = (f"{round(items['no_hard_coded'] * len(CONSTANTS))} of {len(CONSTANTS)} constants are in "
                            f"{CONFIG} with the original's value and not written as a number in the code ({config_note})")
    scores = {**items, "score": combine(items["config_changes_run"], work_score(items)),
              "duration": float(outcome.get("duration") or 0.0)}
    return Scored(scores, build_report(scores, why, constants, constant_rows))


def build_report(scores, why, constants, constant_rows) -> Report:
    """Per item what was checked and why points were lost; never a hidden number (the data, the changed values
    or the original's losses on the hidden data)."""
    report = Report("Refactor train.py into a config-driven loop: detailed results")
    report.heading("Scores")
    report.paragraph("score = 0.5 × (config changes the run) + (0.2 + 0.3 × config changes the run) × work, where "
                     "work = " + " + ".join(f"{w} × {key}" for key, w in WORK_WEIGHTS.items()) + ".")
    rows = [["config_changes_run", scores["config_changes_run"], why["config_changes_run"]]]
    rows += [[key, scores[key], why[key]] for key in WORK_WEIGHTS] + [["score", scores["score"], ""]]
    report.table(["item", "points", "why"], rows)
    report.paragraph(f"Run time of {ENTRY} (default config): {scores['duration']:.1f} s")
    report.heading("Each constant changed in your config (one extra run each, on the hidden data)")
    report.table(["constant", "points", "why"], constants)
    report.heading(f"Constants in {CONFIG} and in your code")
    report.table(["constant", f"original's value in {CONFIG}", "still a literal in (file:line)"], constant_rows)
    # Neither your numbers nor your program's output are shown: both come from the hidden data, and shown here
    # they could be pasted into the next submission.
    report.paragraph(f"Numbers match the original's when they differ by at most {TOLERANCE:g}. Every run reads "
                     f"hidden data that differs from the public files (so numbers from a run on those do not "
                     f"match); its numbers and your program's output are not shown here.")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
