"""`make bench`: speed and accuracy targets, each measured against a baseline in the same run.

Every benchmarks/bench_*.py defines `bench(workdir) -> list[Measure]`. Results go to
benchmarks/results/latest.json; the exit code is 1 if any target is missed.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


@dataclass
class Measure:
    name: str
    value: float
    unit: str
    baseline: str  # what it is compared with, measured in the same run
    baseline_value: float
    target: str
    ok: bool


def available() -> dict[str, Path]:
    return {path.stem.removeprefix("bench_"): path for path in sorted(HERE.glob("bench_*.py"))}


def parse_args(argv: list[str]) -> list[str]:
    names = available()
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py", description="Speed and accuracy targets, each measured against a baseline in the "
        "same run. Results go to benchmarks/results/latest.json; exit 1 if any target is missed.")
    parser.add_argument("names", nargs="*", metavar="BENCHMARK",
                        help=f"benchmarks to run (default: all): {', '.join(names)}")
    selected = parser.parse_args(argv).names
    unknown = [name for name in selected if name not in names]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(map(repr, unknown))}: choose from {', '.join(names)}")
    return selected


def main(selected: list[str]) -> int:
    measures: list[Measure] = []
    for name, path in available().items():
        if selected and name not in selected:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {path.stem}", flush=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"{path.stem}-") as workdir:
            measures += module.bench(Path(workdir))
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
    print(f"\n{'measure':<44} {'value':>10} {'baseline':>10}  {'target':<34} result")
    for m in measures:
        print(f"{m.name:<44} {m.value:>9.3f}{m.unit[:1]} {m.baseline_value:>9.3f}{m.unit[:1]}  {m.target:<34} "
              f"{'ok' if m.ok else 'MISSED'}")
    if not measures:  # nothing ran: keep the last results
        print("no benchmark ran: benchmarks/results/latest.json left as it was", file=sys.stderr)
        return 1
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(json.dumps([asdict(m) for m in measures], indent=2) + "\n")
    print(f"\nwrote {results / 'latest.json'}")
    return 0 if all(m.ok for m in measures) else 1


if __name__ == "__main__":
    sys.exit(main(parse_args(sys.argv[1:])))
