"""Building: a cold build (data generated) against a rebuild from the data cache; both give the same bytes."""
from __future__ import annotations

import time
from pathlib import Path

from run import Measure

from bundlegen.build import build_bundle
from bundlegen.definition import load_all


def quiet(_message: str) -> None:
    pass


def bench(workdir: Path) -> list[Measure]:
    measures = []
    for task_id, task in load_all().items():
        cache = workdir / "cache" / task_id
        started = time.monotonic()
        cold_zip = build_bundle(task, workdir / "cold", cache_dir=cache, log=quiet)
        cold = time.monotonic() - started
        started = time.monotonic()
        warm_zip = build_bundle(task, workdir / "warm", cache_dir=cache, log=quiet)
        warm = time.monotonic() - started
        same = cold_zip.read_bytes() == warm_zip.read_bytes()
        measures.append(Measure(f"{task_id}: rebuild from cache", warm, "s", "cold build", cold,
                                "< 0.7 × cold, same bytes", same and warm < 0.7 * cold))
    return measures
