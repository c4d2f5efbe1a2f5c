"""Data for the refactor-train-config task: a long train.py with planted hyper-parameters, and its data.

The original script (original_train.py with its __PLACEHOLDERS__ filled) trains a small numpy network with
hard-coded constants drawn per seed at unusual values (learning rate 0.1372, batch size 53, ...), so they can
be recognised in the participant's code, and prints only losses. prepare() runs that very script (plus probes
printing the validation loss and accuracy after every epoch) to record what it does, with the planted values
and once per extra run with one constant changed (run_values: values of the hidden draw), on the hidden data.

public/: train.csv, valid.csv and the original train.py (byte-identical to earlier versions of this task).
input_data/: the same train.py and hidden train.csv, valid.csv drawn from a random stream of their own (other
rows, another data shape), and run_values.json, the extra runs' changed values (of this draw too), so a
submission's numbers must be computed at submission time, never pasted from a run on the public data.
private/facts.json: the planted hyper-parameters and the recorded runs. solution/: the reference refactor
(solution_train.py) and the config.yaml that reproduces this seed's original run.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

TASK_FOLDER = Path(__file__).resolve().parent
ORIGINAL = TASK_FOLDER / "original_train.py"
SOLUTION = TASK_FOLDER / "solution_train.py"
PLACEHOLDERS = {"learning_rate": "__LR__", "epochs": "__EPOCHS__", "batch_size": "__BATCH__", "seed": "__SEED__",
                "hidden_units": "__HIDDEN__", "weight_decay": "__WD__"}
# Printed after each epoch's loss, to record the validation numbers the original never printed (forward() draws
# no random number, so the run is otherwise unchanged).
EPOCH_LINE = '    print("epoch", ep, "loss", tot / nb)\n'
EPOCH_PROBE = ('    _, _pv = forward(Xva)\n'
               '    print("probe", ep, bce(_pv, yva), float(np.mean((_pv > 0.5) == (yva == 1))))\n')
N_FEATURES = 8
HIDDEN_STREAM = 0x13  # the hidden inputs' random stream: default_rng([seed, HIDDEN_STREAM])
HIDDEN_DRAW = "hidden_draw"  # params' key for a later phase's hidden draw (absent: draw 0, the stream as always)
# The constants of the original that are not planted, and how to change each one in its text.
FIXED = {"momentum": 0.9, "lr_decay": 0.95, "probability_clip": 1e-7}
FIXED_TEXT = {"momentum": ("0.9 * v", "{} * v"), "lr_decay": ("lr * 0.95", "lr * {}"),
              "probability_clip": ("np.clip(p, 1e-7, 1 - 1e-7)", "np.clip(p, {0}, 1 - {0})")}
CONSTANTS = (*PLACEHOLDERS, *FIXED)
# The scorer's extra runs, one per constant, each setting one key of the participant's config.yaml to a value of
# this hidden draw (input_data/run_values.json, which bundle.yaml's submission.runs read: set_from): values
# outside the planted ranges and away from the fixed ones, so each changed run differs from the default one by far
# more than the tolerance, and no value can be known before the run.
RUN_VALUES = "run_values.json"
RUN_STREAM = 0x52  # the run values' own stream, under the hidden draw's: the hidden data's draws stay as they were
MAX_REDRAWS = 8
RELOCATED = {"checkpoint_dir": "relocated_checkpoints"}
DEFAULT_CHECKPOINT_DIR = "checkpoints"


def run_values(rng: np.random.Generator) -> dict:
    """The changed value of each constant for the extra runs: {run name: {config key: value}}."""
    values = {"learning_rate": float(round(rng.uniform(0.005, 0.04), 4)),
              "epochs": int(rng.choice([3, 4, 5, 6])),
              "batch_size": int(rng.choice([29, 31, 37, 41])),
              "seed": int(rng.integers(10, 1000)),
              "hidden_units": int(rng.choice([5, 6, 8, 10, 11])),
              "weight_decay": float(round(rng.uniform(0.002, 0.006), 5)),
              "momentum": float(round(rng.uniform(0.6, 0.8), 3)),
              "lr_decay": float(round(rng.uniform(0.7, 0.88), 3)),
              "probability_clip": float(round(rng.uniform(0.05, 0.12), 3))}
    return {name: {name: value} for name, value in values.items()}


def moved(run: dict, original: dict) -> bool:
    """A changed run far from the default one: a value read and ignored cannot pass for obeyed."""
    return len(run["train_loss"]) != len(original["train_loss"]) or abs(run["valid_loss"] - original["valid_loss"]) > 1e-3


def changed_values(defaults: dict, original: dict, data_dir: Path, stream: list[int]) -> tuple[dict, dict]:
    """Each extra run's value and what the original does with it: a value whose run barely moves (a learning rate
    that converges to the same loss) is drawn again."""
    rng = np.random.default_rng([*stream, RUN_STREAM])
    runs, recorded = run_values(rng), {}
    for name in list(runs):
        for _ in range(MAX_REDRAWS):
            recorded[name] = record_run(script_with({**defaults, **runs[name]}), data_dir)
            if moved(recorded[name], original):
                break
            runs[name] = run_values(rng)[name]
        else:
            raise AssertionError(f"no value of {name} changes the original's run: check run_values")
    return runs, recorded


def planted_values(rng: np.random.Generator) -> dict:
    """Unusual values, distinct from each other and from the script's other numbers (0.9, 0.95, 1e-7...)."""
    return {"learning_rate": float(round(rng.uniform(0.06, 0.2), 4)),
            "epochs": int(rng.choice([7, 9, 11, 12])),
            "batch_size": int(rng.choice([43, 47, 53, 59, 61, 67, 71, 73])),
            "seed": int(rng.integers(1000, 10000)),
            "hidden_units": int(rng.choice([14, 17, 19, 23, 26, 29])),
            "weight_decay": float(round(rng.uniform(1e-4, 9e-4), 5))}


def script_with(values: dict) -> str:
    """The original with these values; a FIXED constant is rewritten only when changed (the public text stays)."""
    text = ORIGINAL.read_text()
    for key, placeholder in PLACEHOLDERS.items():
        text = text.replace(placeholder, repr(values[key]))
    assert "__" not in text.replace("__name__", ""), "a placeholder is left"
    for key, (old, new) in FIXED_TEXT.items():
        if values.get(key, FIXED[key]) != FIXED[key]:
            assert old in text, old
            text = text.replace(old, new.format(repr(values[key])))
    return text


def make_data(n: int, rng: np.random.Generator, weights: np.ndarray, scales: np.ndarray, offsets: np.ndarray) -> str:
    """A binary label that depends non-linearly on eight features (a ring, an interaction and a slope)."""
    Z = rng.normal(size=(n, N_FEATURES))
    X = Z * scales + offsets
    logit = 1.5 * Z @ weights + 1.2 * Z[:, 0] * Z[:, 1] - 0.8 * (Z[:, 2] ** 2 - 1) + 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    header = ",".join([f"x{i}" for i in range(N_FEATURES)] + ["label"])
    lines = [",".join([f"{value:.5f}" for value in row] + [str(label)]) for row, label in zip(X, y)]
    return header + "\n" + "\n".join(lines) + "\n"


def record_run(script: str, data_dir: Path) -> dict:
    """Run the original script (with the per-epoch probe) on data_dir and parse what it printed."""
    assert EPOCH_LINE in script
    with tempfile.TemporaryDirectory(prefix="refactor-original-") as work:
        path = Path(work) / "train.py"
        path.write_text(script.replace(EPOCH_LINE, EPOCH_LINE + EPOCH_PROBE))
        env = dict(os.environ, DATA_DIR=str(data_dir), OMP_NUM_THREADS="1")
        done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, cwd=work)
    assert done.returncode == 0, f"the original script failed:\n{done.stderr}"
    losses = [float(m) for m in re.findall(r"^epoch \d+ loss (\S+)$", done.stdout, re.M)]
    probes = re.findall(r"^probe \d+ (\S+) (\S+)$", done.stdout, re.M)
    valid_loss = float(re.search(r"^valid loss (\S+)$", done.stdout, re.M).group(1))
    assert len(probes) == len(losses) and float(probes[-1][0]) == valid_loss
    return {"train_loss": losses, "valid_loss": valid_loss, "valid_accuracy": float(probes[-1][1]),
            "epoch_valid_loss": [float(loss) for loss, _ in probes],
            "epoch_valid_accuracy": [float(accuracy) for _, accuracy in probes]}


def hidden_stream(seed: int, params: Mapping[str, Any]) -> list[int]:
    """The hidden draw's random stream: draw 0's as always, each later draw (a later phase) one of its own."""
    draw = int(params.get(HIDDEN_DRAW, 0))
    return [seed, HIDDEN_STREAM] + ([draw] if draw else [])


def hidden_data(seed: int, params: Mapping[str, Any]) -> tuple[str, str]:
    """train.csv and valid.csv for submission time: another data shape and other row counts, from a stream of
    their own (the public draws are untouched)."""
    rng = np.random.default_rng(hidden_stream(seed, params))
    shape = rng.normal(size=N_FEATURES), rng.uniform(0.5, 3.0, N_FEATURES), rng.normal(0, 2, N_FEATURES)
    n_train, n_valid = (int(round(params[k] * rng.uniform(0.8, 1.2))) for k in ("n_train", "n_valid"))
    return make_data(n_train, rng, *shape), make_data(n_valid, rng, *shape)


def solution_config(planted: dict) -> dict:
    return {"data": {"train_file": "train.csv", "valid_file": "valid.csv"},
            "model": {"hidden_units": planted["hidden_units"]},
            "optimizer": {"learning_rate": planted["learning_rate"], "momentum": FIXED["momentum"],
                          "weight_decay": planted["weight_decay"], "lr_decay": FIXED["lr_decay"]},
            "training": {"epochs": planted["epochs"], "batch_size": planted["batch_size"], "seed": planted["seed"],
                         "std_epsilon": 1e-8, "probability_clip": FIXED["probability_clip"]},
            "output": {"checkpoint_dir": DEFAULT_CHECKPOINT_DIR, "metrics_file": "metrics.csv"}}


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    if raw_dir is not None:
        raise ValueError("this task's input is a generated script and its synthetic data; it takes no raw data")
    rng = np.random.default_rng(seed)
    planted = planted_values(rng)
    shape = rng.normal(size=N_FEATURES), rng.uniform(0.5, 3.0, N_FEATURES), rng.normal(0, 2, N_FEATURES)
    train_csv = make_data(params["n_train"], rng, *shape)
    valid_csv = make_data(params["n_valid"], rng, *shape)
    original = script_with(planted)

    public, private, input_data, solution = (out_dir / n for n in ("public", "private", "input_data", "solution"))
    for folder in (public, private, input_data, solution):
        folder.mkdir(parents=True, exist_ok=True)
    hidden_train, hidden_valid = hidden_data(seed, params)
    for folder, files in ((public, (train_csv, valid_csv)), (input_data, (hidden_train, hidden_valid))):
        (folder / "train.csv").write_text(files[0])
        (folder / "valid.csv").write_text(files[1])
        (folder / "train.py").write_text(original)
    defaults = {**planted, **FIXED}
    original_run = record_run(original, input_data)
    runs, changed_runs = changed_values(defaults, original_run, input_data, hidden_stream(seed, params))
    (input_data / RUN_VALUES).write_text(json.dumps({**runs, "relocated": RELOCATED}, indent=2, sort_keys=True) + "\n")
    facts = {"planted": planted, "defaults": defaults, "runs": runs, "relocated": RELOCATED,
             "n_features": N_FEATURES, "default_checkpoint_dir": DEFAULT_CHECKPOINT_DIR,
             "original_run": original_run, "changed_runs": changed_runs}
    (private / "facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    shutil.copyfile(SOLUTION, solution / "train.py")
    (solution / "config.yaml").write_text(yaml.safe_dump(solution_config(planted), sort_keys=False))
