"""Scoring program of the refactor-train-config task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/facts.json holds the hyper-parameters planted in the original train.py, the values the extra runs set in
the participant's config.yaml, and what the original script does (each epoch's loss, the final validation loss
and accuracy), with the planted values and with the changed ones. res/ is the ingestion program's output:
submission/ (train.py, config.yaml), predictions/ (metrics.csv, checkpoints/), and runs/changed/ and
runs/relocated/, the extra runs with a changed config.
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
from programlib.scoring import Scored, overall, run_scoring
from programlib.tables import parse_numbers, read_csv_table
from refactor_train_config_rubric import (HYPER_PARAMETERS, METRIC_COLUMNS, TOLERANCE, WEIGHTS, checkpoints_item,
                                          config_changes_item, no_hard_coded_item, per_epoch_item,
                                          reproduces_item)

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


def loadable_checkpoints(folder: Path | None, epochs: int) -> int:
    """How many of epoch_001.npz ... epoch_<epochs>.npz load with numpy and hold finite arrays."""
    if folder is None:
        return 0
    count = 0
    for epoch in range(1, epochs + 1):
        path = folder / f"epoch_{epoch:03d}.npz"
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = [archive[key] for key in archive.files]
            count += bool(arrays) and all(np.issubdtype(a.dtype, np.number) and np.isfinite(a).all() for a in arrays)
        except Exception:  # a broken file raises whatever numpy or zipfile raise (BadZipFile, zlib.error, ...)
            pass
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


def score(reference_dir: Path, result_dir: Path) -> Scored:
    outcome = ingestion_outcome(result_dir)
    if outcome is None or outcome.get("status") != "ok":
        raise SubmissionError(f"this task takes code submissions: a zip with {ENTRY} and {CONFIG} at its root, "
                              f"which the ingestion program runs")
    facts = json.loads((reference_dir / "facts.json").read_text())
    planted, changed_values = facts["planted"], facts["changed"]
    epochs = planted["epochs"]
    default = read_metrics(result_dir / "predictions" / METRICS, METRICS)
    changed_dir, changed_note = extra_run(result_dir, outcome, "changed")
    changed = read_metrics(changed_dir / METRICS, f"{METRICS} (run 'changed')") if changed_dir else None
    if changed_dir is not None and changed is None:
        changed_note = f"the run 'changed' wrote no {METRICS}"
    relocated_dir, relocated_note = extra_run(result_dir, outcome, "relocated")
    default_checkpoints = loadable_checkpoints(result_dir / "predictions" / facts["default_checkpoint_dir"], epochs)
    relocated_checkpoints = loadable_checkpoints(
        relocated_dir / facts["relocated"]["checkpoint_dir"] if relocated_dir else None, epochs)
    sources, config, config_note = read_submission(result_dir / "submission")

    items, why = {}, {}
    items["reproduces"], why["reproduces"] = reproduces_item(default, facts["original_run"])
    items["config_changes_run"], why["config_changes_run"] = config_changes_item(
        changed, changed_note, default, facts["changed_run"], changed_values["epochs"])
    items["per_epoch_metrics"], why["per_epoch_metrics"] = per_epoch_item(default, epochs)
    items["checkpoints"], why["checkpoints"] = checkpoints_item(default_checkpoints, relocated_checkpoints, epochs,
                                                                relocated_note)
    items["no_hard_coded"], constant_rows = no_hard_coded_item(sources, config, planted)
    why["no_hard_coded"] = f"{round(items['no_hard_coded'] * len(HYPER_PARAMETERS))} of {len(HYPER_PARAMETERS)} " \
                           f"hyper-parameters come from {CONFIG} only ({config_note})"
    scores = {**items, "score": overall(items, WEIGHTS), "duration": float(outcome.get("duration") or 0.0)}
    return Scored(scores, build_report(scores, why, constant_rows, default, facts, result_dir))


def build_report(scores, why, constant_rows, default, facts, result_dir: Path) -> Report:
    report = Report("Refactor train.py into a config-driven loop: detailed results")
    report.heading("Scores")
    report.table(["item", "points", "weight", "why"],
                 [[key, scores[key], WEIGHTS[key], why[key]] for key in WEIGHTS] + [["score", scores["score"], "", ""]])
    report.paragraph(f"Run time of {ENTRY} (default config): {scores['duration']:.1f} s")
    report.heading("Hyper-parameters of the original train.py")
    report.table(["name", "original value", f"same value in {CONFIG}", "still a literal in (file:line)"],
                 constant_rows)
    report.heading(f"Your {METRICS} (default config) next to the original run")
    original = facts["original_run"]
    rows = []
    if default is not None:
        for i, epoch in enumerate(default["epoch"]):
            expected = original["train_loss"][i] if i < len(original["train_loss"]) else None
            rows.append([int(epoch), default["train_loss"][i], "" if expected is None else expected,
                         default["valid_loss"][i], default["valid_accuracy"][i]])
    report.table(["epoch", "train_loss", "original's loss", "valid_loss", "valid_accuracy"], rows or [["(none)"] * 5])
    report.paragraph(f"The original ends with valid_loss {original['valid_loss']!r} and valid_accuracy "
                     f"{original['valid_accuracy']!r}; values match within {TOLERANCE:g}.")
    report.log_tail(ENTRY, result_dir / "logs" / "stdout.txt", lines=30)
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
