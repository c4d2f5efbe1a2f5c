"""The local worker's cost over running the participant's program by hand, and the declared thresholds.

Baseline: the tabular-baseline solution run directly on the same input data (same python, same data).
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from run import Measure

from bundlegen.build import build_bundle
from bundlegen.definition import load_all
from bundlegen.worker import run_submission

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "starting_kits" / "tabular-baseline"


def quiet(_message: str) -> None:
    pass


REPEATS = 3  # the best of three, on both sides, to see through the noise of a shared machine


def bench(workdir: Path) -> list[Measure]:
    task = load_all()["tabular-baseline"]
    bundle = build_bundle(task, workdir / "dist", log=quiet)  # the default scale, as `make bundles`
    runs, direct_times = [], []
    for i in range(REPEATS):  # interleaved, so both sides see the same machine
        runs.append(run_submission(bundle, KIT / "solution", workdir=workdir / f"run{i}", log=quiet))
        assert runs[-1].ok, runs[-1].error
        started = time.monotonic()
        subprocess.run([sys.executable, "baseline.py", "--data-dir", str(workdir / "run0" / "prediction" / "input_data"),
                        "--output-dir", str(workdir / f"direct{i}")], cwd=KIT / "solution", check=True,
                       capture_output=True)
        direct_times.append(time.monotonic() - started)
    run, direct = runs[0], min(direct_times)
    prediction = min(r.jobs[0].process.duration for r in runs)
    scoring = min(r.jobs[1].process.duration for r in runs)
    trivial = run_submission(bundle, KIT / "sample_submission", workdir=workdir / "trivial", log=quiet)
    declared = task.model.thresholds
    return [
        Measure("prediction job overhead (ingestion, copies)", prediction - direct, "s", "solution run by hand", direct,
                "< 1.5 s over the direct run", prediction - direct < 1.5),
        Measure("scoring job (small scale)", scoring, "s", "solution run by hand", direct,
                "< 6 s", scoring < 6.0),
        Measure("reference score vs declared threshold", run.scores["score"], " ", "declared reference",
                declared.reference, "within 0.005", abs(run.scores["score"] - declared.reference) < 0.005),
        Measure("trivial score vs declared threshold", trivial.scores["score"], " ", "declared trivial",
                declared.trivial, "within 0.005", abs(trivial.scores["score"] - declared.trivial) < 0.005),
    ]
