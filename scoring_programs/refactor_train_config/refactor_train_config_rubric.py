"""The rubric of the refactor-train-config task: pure functions of what the scorer has read.

The task is a refactor, so its substance is behaviour: on the hidden data, the default config must give the
original's numbers, and each constant changed in config.yaml (one extra run each) must change the run exactly
as the original script changes with that value. A constant read from the config and then ignored (a literal in
disguise, `int("11")`) leaves its run unchanged and earns nothing, whatever the code looks like.

Each item returns (points in [0, 1], a sentence saying why) for the detailed results.
"""
from __future__ import annotations

import ast
import math

# The constants of the original, each changed by one extra run (its name) and required in config.yaml.
CONSTANTS = ("learning_rate", "epochs", "batch_size", "seed", "hidden_units", "weight_decay", "momentum",
             "lr_decay", "probability_clip")
# Planted at unusual values per seed: recognisable as literals in code (0.9 or 1e-7 are too common to flag).
PLANTED = ("learning_rate", "epochs", "batch_size", "seed", "hidden_units", "weight_decay")
# What the work items weigh among themselves (w in the score below).
WORK_WEIGHTS = {"reproduces": 0.4, "per_epoch_metrics": 0.2, "checkpoints": 0.2, "no_hard_coded": 0.2}
METRIC_COLUMNS = ("epoch", "train_loss", "valid_loss", "valid_accuracy")
# The same float64 numpy operations in the same order give the same bits; 1e-6 still lets a refactor print
# six decimals or sum in another order, while a changed seed, batch order or hyper-parameter moves the losses
# by far more (1e-3 and up; a test checks every extra run).
TOLERANCE = 1e-6
CHANGED_BUT_NOT_LIKE_THE_ORIGINAL = 0.25  # the key is wired to something, but not to what the original did

Metrics = dict  # {"epoch": [...], "train_loss": [...], "valid_loss": [...], "valid_accuracy": [...]}


def combine(config_share: float, work: float) -> float:
    """0.5 for the constants the config controls, plus the work (reproduction, metrics, checkpoints, no
    literals) worth 0.2 on its own and 0.3 more in proportion to that share: a refactor whose config changes
    nothing scores at most 0.2, however well it reproduces the original."""
    return 0.5 * config_share + (0.2 + 0.3 * config_share) * work


def work_score(items: dict[str, float]) -> float:
    return sum(WORK_WEIGHTS[key] * items[key] for key in WORK_WEIGHTS)


def close(a: float, b: float) -> bool:
    return math.isfinite(a) and abs(a - b) <= TOLERANCE


def all_close(values: list[float], expected: list[float]) -> bool:
    return len(values) == len(expected) and all(map(close, values, expected))


def matches_run(metrics: Metrics, run: dict) -> tuple[bool, bool]:
    """(every epoch's train_loss matches, the last row's valid_loss and valid_accuracy match) a recorded run."""
    losses = metrics["train_loss"]
    train_ok = all_close(losses, run["train_loss"])
    final_ok = bool(losses) and close(metrics["valid_loss"][-1], run["valid_loss"]) and close(
        metrics["valid_accuracy"][-1], run["valid_accuracy"])
    return train_ok, final_ok


def reproduces_item(metrics: Metrics | None, original: dict) -> tuple[float, str]:
    if metrics is None:
        return 0.0, "no metrics.csv from the default run"
    train_ok, final_ok = matches_run(metrics, original)
    return (train_ok + final_ok) / 2, (
        f"on the hidden data, the per-epoch train_loss {'matches' if train_ok else 'does not match'} the "
        f"original's ({len(original['train_loss'])} epochs); the final valid_loss and valid_accuracy "
        f"{'match' if final_ok else 'do not match'} the original's, within {TOLERANCE:g}")


def differs(changed: Metrics, default: Metrics | None) -> bool:
    """The changed run did something else than the default one (another row count or other final numbers)."""
    if default is None or not default["valid_loss"] or not changed["valid_loss"]:
        return bool(changed["valid_loss"])
    return len(changed["epoch"]) != len(default["epoch"]) or not close(changed["valid_loss"][-1],
                                                                       default["valid_loss"][-1])


def constant_item(name: str, changed: Metrics | None, note: str, default: Metrics | None,
                  expected: dict) -> tuple[float, str]:
    """1 if the run with `name` changed matches the original so changed; a little if it merely changed."""
    if changed is None:
        return 0.0, note
    train_ok, final_ok = matches_run(changed, expected)
    if train_ok and final_ok:
        return 1.0, f"changing {name} changes the run exactly as it changes the original"
    if differs(changed, default):
        return CHANGED_BUT_NOT_LIKE_THE_ORIGINAL, (f"changing {name} changes the run, but not as it changes the "
                                                   f"original (other losses)")
    return 0.0, f"changing {name} in the config leaves the run as it was: the value is not read from there"


def per_epoch_item(metrics: Metrics | None, original: dict) -> tuple[float, str]:
    """½ one row per epoch numbered from 1; ½ each row's valid_loss and valid_accuracy are that epoch's."""
    if metrics is None:
        return 0.0, "no metrics.csv in the folder given by --output-dir"
    epochs = len(original["train_loss"])
    numbered = metrics["epoch"] == [float(e) for e in range(1, epochs + 1)]
    measured = all_close(metrics["valid_loss"], original["epoch_valid_loss"]) and all_close(
        metrics["valid_accuracy"], original["epoch_valid_accuracy"])
    return (numbered + measured) / 2, (
        f"{len(metrics['epoch'])} row(s), {'' if numbered else 'not '}numbered 1 to {epochs}; the per-epoch "
        f"valid_loss and valid_accuracy {'are' if measured else 'are not'} those of the network after each epoch")


def checkpoints_item(default_valid: int, relocated_valid: int, epochs: int, note: str) -> tuple[float, str]:
    """½ × share of epochs with a checkpoint of the network in the default folder, the same for the relocated run."""
    points = 0.5 * default_valid / epochs + 0.5 * relocated_valid / epochs
    return points, (f"{default_valid}/{epochs} checkpoint(s) holding the network's weights in the default folder; "
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


def same_number(value, expected: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isclose(value, expected, rel_tol=1e-12)
    except OverflowError:  # an integer beyond any float
        return False


def no_hard_coded_item(sources: dict[str, str], config, defaults: dict) -> tuple[float, list[list[str]]]:
    """Per constant: config.yaml holds the original's value under its name, and (for the planted, recognisable
    values) no .py file holds it as a literal. A small item: disguised literals are caught by the runs instead."""
    literals = {name: numeric_literals(text) for name, text in sources.items()}
    rows, passed = [], 0
    for key in CONSTANTS:
        in_config = same_number(find_key(config, key), defaults[key])
        hard_coded = [f"{name}:{line}" for name, found in literals.items() for number, line in found
                      if key in PLANTED and math.isclose(number, defaults[key], rel_tol=1e-12)]
        passed += in_config and not hard_coded
        rows.append([key, "yes" if in_config else "no", ", ".join(hard_coded) or "none"])
    return passed / len(CONSTANTS), rows
