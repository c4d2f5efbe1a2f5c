"""The ECG starting kit's accuracy on the synthetic data `make bundles` builds (scale small, seed 0): modified SNR
in dB, overall and per image type, of the kit's network (configs/default.yaml, its committed weights) and of its
classical trace map (configs/classical.yaml).

Each config runs as a participant runs it (`python3 run.py --data-dir input_data --output-dir ...`, a fresh
interpreter) and is scored by the bundle's scoring program as Codabench runs it. Baseline, in the same run: the
sample submission (all zeros) through the same scorer.

Targets: overall, issue 18's 15 dB on the synthetic small scale; per type, above the all-zeros submission (a type the
kit reads worse than zeros is broken). The real-render numbers (ECG-Image-Kit) are in the kit's README, produced by
benchmarks/ecg_image_kit/harness.py: that needs ECG-Image-Kit's own virtualenv, which `make bench` does not install.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from run import Measure

from bundlegen.data import prepare_data
from bundlegen.definition import load_all

ROOT = Path(__file__).resolve().parent.parent
TASK = "physionet-ecg-image-digitization"
KIT = ROOT / "starting_kits" / TASK
SCORER = ROOT / "scoring_programs" / "ecg_snr"
SCALE, SEED = "small", 0
CONFIGS = ("default", "classical")
OVERALL_TARGET = 15.0  # dB, issue 18's target on the synthetic small scale


def run_kit(data: Path, config: str, output: Path) -> float:
    """Runs the kit on data/input_data; its progress lines pass through. Returns the wall seconds."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "run.py", "--data-dir", str(data / "input_data"), "--output-dir",
                                str(output), "--config", f"configs/{config}.yaml"], cwd=KIT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        print(f"     {line.rstrip()}", flush=True)
    if process.wait():
        raise RuntimeError(f"the kit ({config}) exited with {process.returncode}")
    return time.monotonic() - started


def scores_of(data: Path, submission: Path, folder: Path) -> dict[str, float]:
    """scores.json of the bundle's scoring program (`python3 scoring.py input output`) on one submission."""
    (folder / "input" / "res").mkdir(parents=True)
    shutil.copytree(data / "private", folder / "input" / "ref")
    shutil.copyfile(submission, folder / "input" / "res" / "submission.parquet")
    subprocess.run([sys.executable, "scoring.py", str(folder / "input"), str(folder / "output")], cwd=SCORER,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True, capture_output=True, text=True)
    return json.loads((folder / "output" / "scores.json").read_text())


def type_keys(data: Path) -> list[str]:
    """The scorer's per-image-type columns (snr_0001, ...) of the types in the test set (it writes every type's
    column, 0 for an absent one)."""
    records = pd.read_csv(data / "private" / "records.csv", dtype={"image_type": str})
    return [f"snr_{image_type}" for image_type in sorted(records["image_type"].unique())]


def bench(workdir: Path) -> list[Measure]:
    task = load_all()[TASK]
    data = prepare_data(task, task.scale(SCALE), SEED, log=lambda m: print(f"   {m.strip()}", flush=True))
    zeros = scores_of(data, data / "input_data" / "sample_submission.parquet", workdir / "zeros")
    measures = []
    for config in CONFIGS:
        print(f"   kit ({config}) on {data.name}", flush=True)
        seconds = run_kit(data, config, workdir / config / "run")
        scores = scores_of(data, workdir / config / "run" / "submission.parquet", workdir / config)
        print(f"   kit ({config}): {scores['snr']:.2f} dB in {seconds:.0f} s; " + ", ".join(
            f"{key[4:]} {scores[key]:.2f}" for key in type_keys(data)), flush=True)
        measures.append(Measure(f"ecg kit {config}: SNR, {SCALE} scale", scores["snr"], "dB",
                                "all-zeros submission", zeros["snr"], f">= {OVERALL_TARGET:g} dB (issue 18)",
                                scores["snr"] >= OVERALL_TARGET))
        measures += [Measure(f"ecg kit {config}: SNR, type {key[4:]}", scores[key], "dB", "all-zeros submission",
                             zeros[key], "above the all-zeros submission", scores[key] > zeros[key])
                     for key in type_keys(data)]
    return measures
