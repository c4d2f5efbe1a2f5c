"""The rubric of the refactor-train-config task: pure functions of what the scorer has read.

Each item returns (points in [0, 1], a sentence saying why) for the detailed results.
"""
from __future__ import annotations

import ast
import math

WEIGHTS = {"reproduces": 0.3, "config_changes_run": 0.2, "per_epoch_metrics": 0.15, "checkpoints": 0.15,
           "no_hard_coded": 0.2}
HYPER_PARAMETERS = ("learning_rate", "epochs", "batch_size", "seed", "hidden_units", "weight_decay")
METRIC_COLUMNS = ("epoch", "train_loss", "valid_loss", "valid_accuracy")
# The same float64 numpy operations in the same order give the same bits; 1e-6 still lets a refactor print
# six decimals or sum in another order, while a changed seed, batch order or hyper-parameter moves the losses
# by far more (1e-3 and up).
TOLERANCE = 1e-6

Metrics = dict  # {"epoch": [...], "train_loss": [...], "valid_loss": [...], "valid_accuracy": [...]}


def close(a: float, b: float) -> bool:
    return math.isfinite(a) and abs(a - b) <= TOLERANCE


def matches_run(metrics: Metrics, run: dict) -> tuple[bool, bool]:
    """(every epoch's train_loss matches, the last row's valid_loss and valid_accuracy match) a recorded run."""
    losses = metrics["train_loss"]
    train_ok = len(losses) == len(run["train_loss"]) and all(map(close, losses, run["train_loss"]))
    final_ok = bool(losses) and close(metrics["valid_loss"][-1], run["valid_loss"]) and close(
        metrics["valid_accuracy"][-1], run["valid_accuracy"])
    return train_ok, final_ok


def reproduces_item(metrics: Metrics | None, original: dict) -> tuple[float, str]:
    if metrics is None:
        return 0.0, "no metrics.csv from the default run"
    train_ok, final_ok = matches_run(metrics, original)
    return (train_ok + final_ok) / 2, (
        f"per-epoch train_loss {'matches' if train_ok else 'does not match'} the original's "
        f"({len(original['train_loss'])} epochs); final valid_loss and valid_accuracy "
        f"{'match' if final_ok else 'do not match'} ({original['valid_loss']:.6f}, "
        f"{original['valid_accuracy']:.4f}), within {TOLERANCE:g}")


def config_changes_item(changed: Metrics | None, note: str, default: Metrics | None, expected: dict,
                        epochs: int) -> tuple[float, str]:
    """½ the changed run logs the new number of epochs and other numbers; ½ it matches the original so changed."""
    if changed is None:
        return 0.0, note
    rows = len(changed["epoch"])
    differs = default is None or not default["valid_loss"] or not close(changed["valid_loss"][-1], default["valid_loss"][-1])
    obeys = rows == epochs and differs
    train_ok, final_ok = matches_run(changed, expected)
    points = 0.5 * obeys + 0.5 * (train_ok and final_ok)
    return points, (f"{rows} epoch row(s) logged (config says {epochs}), final valid_loss "
                    f"{'differs from' if differs else 'equals'} the default run's; "
                    f"{'matches' if train_ok and final_ok else 'does not match'} the original script with the "
                    f"same changes")


def per_epoch_item(metrics: Metrics | None, epochs: int) -> tuple[float, str]:
    if metrics is None:
        return 0.0, "no metrics.csv in the folder given by --output-dir"
    numbered = metrics["epoch"] == [float(e) for e in range(1, epochs + 1)]
    if numbered:
        return 1.0, f"one row per epoch, numbered 1 to {epochs}"
    return 0.5, f"metrics.csv has {len(metrics['epoch'])} row(s) numbered {metrics['epoch'][:3]}...; expected 1 to {epochs}"


def checkpoints_item(default_valid: int, relocated_valid: int, epochs: int, note: str) -> tuple[float, str]:
    """½ × share of epochs with a loadable checkpoint in the default folder, the same for the relocated run."""
    points = 0.5 * default_valid / epochs + 0.5 * relocated_valid / epochs
    return points, (f"{default_valid}/{epochs} loadable checkpoint(s) in the default folder; "
                    f"{relocated_valid}/{epochs} in the relocated one ({note})")


def numeric_literals(source: str) -> list[tuple[float, int]]:
    """(value, line) of every int or float literal of a Python source (booleans are not numbers here)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            try:
                found.append((float(node.value), node.lineno))
            except OverflowError:  # an integer beyond any float is no hyper-parameter's value
                pass
    return found


def find_key(document, key: str, _seen: set[int] | None = None):
    """The value of `key` at any depth of a YAML document (first found, depth first); None if absent.

    YAML aliases can make a document hold itself (`a: &x [*x]`): each list or mapping is visited once."""
    seen = set() if _seen is None else _seen
    if id(document) in seen:
        return None
    if isinstance(document, dict):
        if key in document:
            return document[key]
        children = document.values()
    elif isinstance(document, list):
        children = document
    else:
        return None
    seen.add(id(document))
    for child in children:
        value = find_key(child, key, seen)
        if value is not None:
            return value
    return None


def same_number(value, planted: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isclose(value, planted, rel_tol=1e-12)
    except OverflowError:  # an integer beyond any float
        return False


def no_hard_coded_item(sources: dict[str, str], config, planted: dict) -> tuple[float, list[list[str]]]:
    """Per hyper-parameter: its planted value is in config.yaml under its name, and no .py file holds it as a literal."""
    literals = {name: numeric_literals(text) for name, text in sources.items()}
    rows, passed = [], 0
    for key in HYPER_PARAMETERS:
        value = planted[key]
        in_config = same_number(find_key(config, key), value)
        hard_coded = [f"{name}:{line}" for name, found in literals.items() for number, line in found
                      if math.isclose(number, value, rel_tol=1e-12)]
        passed += in_config and not hard_coded
        rows.append([key, repr(value), "yes" if in_config else "no", ", ".join(hard_coded) or "none"])
    return passed / len(HYPER_PARAMETERS), rows


