"""The README's commands on a fresh clone, on a quiet machine or one oversubscribed by busy processes.

    .venv/bin/python benchmarks/under_load.py --busy 8      # 8 busy processes: 4x a 2-core machine
    .venv/bin/python benchmarks/under_load.py --busy 0      # the same, quiet

A newcomer's machine is often busy with other work; the two commands must still pass there. This clones the
repository's HEAD (committed work only) into a temporary folder, starts `--busy` processes that spin on the CPU,
and runs `make setup`, `make bundles` and `make test` there one after the other, with a heartbeat. It records
whether each passed, its wall time and the load average it ran under, in
benchmarks/results/under_load-busy<N>.json. Not part of `make bench`: it takes from minutes to an hour.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COMMANDS = ("setup", "bundles", "test")
HEARTBEAT_SECONDS = 60
SPIN = "while True:\n    pass\n"


def start_busy(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", SPIN], stdin=subprocess.DEVNULL) for _ in range(count)]


def run_command(clone: Path, command: str, log: Path) -> dict:
    """`make <command>` in the clone, its output in `log`; a line every minute while it runs."""
    loads: list[float] = []
    done = threading.Event()

    def heartbeat(started: float) -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            loads.append(os.getloadavg()[0])
            lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
            last = lines[-1][:100] if lines else ""
            print(f"  make {command}: {time.monotonic() - started:.0f} s, load {loads[-1]:.1f}: {last}", flush=True)

    started = time.monotonic()
    thread = threading.Thread(target=heartbeat, args=(started,), daemon=True)
    thread.start()
    with open(log, "wb") as output:
        code = subprocess.run(["make", command], cwd=clone, stdout=output, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL).returncode
    done.set()
    seconds = time.monotonic() - started
    loads.append(os.getloadavg()[0])
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    return {"command": f"make {command}", "passed": code == 0, "exit_code": code, "seconds": round(seconds, 1),
            "mean_load": round(sum(loads) / len(loads), 1), "last_line": tail[0][:200] if tail else ""}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/under_load.py", description=__doc__.split("\n\n")[2])
    parser.add_argument("--busy", type=int, default=4 * (os.cpu_count() or 1),
                        help="busy processes to start (default: 4 per core)")
    parser.add_argument("--commands", nargs="+", choices=COMMANDS, default=list(COMMANDS))
    parser.add_argument("--keep", action="store_true", help="keep the clone and its logs")
    args = parser.parse_args(argv)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    workdir = Path(tempfile.mkdtemp(prefix="under-load-"))
    clone = workdir / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    print(f"fresh clone of {head.stdout.strip()[:12]} in {clone}; {args.busy} busy processes on "
          f"{os.cpu_count()} cores", flush=True)
    busy = start_busy(args.busy)
    results = []
    try:
        for command in args.commands:
            print(f"make {command} ...", flush=True)
            results.append(run_command(clone, command, workdir / f"{command}.log"))
            result = results[-1]
            print(f"make {command}: {'passed' if result['passed'] else 'FAILED'} in {result['seconds']:.0f} s "
                  f"(mean load {result['mean_load']}): {result['last_line']}", flush=True)
            if not result["passed"]:
                break
    finally:
        for process in busy:
            process.kill()
            process.wait()
    report = {"commit": head.stdout.strip(), "cores": os.cpu_count(), "busy": args.busy, "results": results,
              "logs": str(workdir) if args.keep else None}
    out = HERE / "results" / f"under_load-busy{args.busy}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if results and all(result["passed"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
