"""Data for the refactor-train-config task: a long train.py with planted hyper-parameters, and its data.

The original script (original_train.py with its __PLACEHOLDERS__ filled) trains a small numpy network with
hard-coded constants drawn per seed at unusual values (learning rate 0.1372, batch size 53, ...), so they can
be recognised in the participant's code, and prints only losses. prepare() runs that very script (plus a last
line printing the validation accuracy) to record what it does: the loss of every epoch and the final
validation loss and accuracy, with the planted values and with the values the scorer's extra run sets.

public/ and input_data/: train.csv, valid.csv and the original train.py. private/facts.json: the planted
hyper-parameters and the recorded runs. solution/: the reference refactor (solution_train.py) and the
config.yaml that reproduces this seed's original run.
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
# Printed after the original's last line, to record the accuracy it never printed (nothing else changes).
ACCURACY_PROBE = '\nprint("valid accuracy", float(np.mean((pva > 0.5) == (yva == 1))))\n'
N_FEATURES = 8
# The scorer's extra runs set these in the participant's config.yaml (bundle.yaml submission.runs says the same;
# a test checks): values outside the planted ranges, so the changed run cannot match the default one.
CHANGED = {"epochs": 5, "learning_rate": 0.05}
RELOCATED = {"checkpoint_dir": "relocated_checkpoints"}
DEFAULT_CHECKPOINT_DIR = "checkpoints"


def planted_values(rng: np.random.Generator) -> dict:
    """Unusual values, distinct from each other and from the script's other numbers (0.9, 0.95, 1e-7...)."""
    return {"learning_rate": float(round(rng.uniform(0.06, 0.2), 4)),
            "epochs": int(rng.choice([7, 9, 11, 12])),
            "batch_size": int(rng.choice([43, 47, 53, 59, 61, 67, 71, 73])),
            "seed": int(rng.integers(1000, 10000)),
            "hidden_units": int(rng.choice([14, 17, 19, 23, 26, 29])),
            "weight_decay": float(round(rng.uniform(1e-4, 9e-4), 5))}


def script_with(values: dict) -> str:
    text = ORIGINAL.read_text()
    for key, placeholder in PLACEHOLDERS.items():
        text = text.replace(placeholder, repr(values[key]))
    assert "__" not in text.replace("__name__", ""), "a placeholder is left"
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
    """Run the original script (with the accuracy probe) on data_dir and parse what it printed."""
    with tempfile.TemporaryDirectory(prefix="refactor-original-") as work:
        path = Path(work) / "train.py"
        path.write_text(script + ACCURACY_PROBE)
        env = dict(os.environ, DATA_DIR=str(data_dir), OMP_NUM_THREADS="1")
        done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, cwd=work)
    assert done.returncode == 0, f"the original script failed:\n{done.stderr}"
    losses = [float(m) for m in re.findall(r"^epoch \d+ loss (\S+)$", done.stdout, re.M)]
    valid_loss = float(re.search(r"^valid loss (\S+)$", done.stdout, re.M).group(1))
    accuracy = float(re.search(r"^valid accuracy (\S+)$", done.stdout, re.M).group(1))
    return {"train_loss": losses, "valid_loss": valid_loss, "valid_accuracy": accuracy}


def solution_config(planted: dict) -> dict:
    return {"data": {"train_file": "train.csv", "valid_file": "valid.csv"},
            "model": {"hidden_units": planted["hidden_units"]},
            "optimizer": {"learning_rate": planted["learning_rate"], "momentum": 0.9,
                          "weight_decay": planted["weight_decay"], "lr_decay": 0.95},
            "training": {"epochs": planted["epochs"], "batch_size": planted["batch_size"], "seed": planted["seed"],
                         "std_epsilon": 1e-8, "probability_clip": 1e-7},
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
    for folder in (public, input_data):
        (folder / "train.csv").write_text(train_csv)
        (folder / "valid.csv").write_text(valid_csv)
        (folder / "train.py").write_text(original)
    facts = {"planted": planted, "changed": CHANGED, "relocated": RELOCATED,
             "default_checkpoint_dir": DEFAULT_CHECKPOINT_DIR, "original_run": record_run(original, input_data),
             "changed_run": record_run(script_with({**planted, **CHANGED}), input_data)}
    (private / "facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    shutil.copyfile(SOLUTION, solution / "train.py")
    (solution / "config.yaml").write_text(yaml.safe_dump(solution_config(planted), sort_keys=False))
