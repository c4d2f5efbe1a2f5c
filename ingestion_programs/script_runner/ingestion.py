"""Run a participant's program (a code submission) within the task's time limit.

    python3 ingestion.py [INPUT_DIR] [OUTPUT_DIR] [PROGRAM_DIR] [SUBMISSION_DIR]
    (defaults: /app/input_data /app/output /app/program /app/ingested_program)

What the task needs is in task.json beside this file (written by the builder): the entry point, its
arguments ({input_data} and {predictions} are filled in) and the time limit. The output folder,
which the scoring program receives as res/, holds:
  submission/            the participant's files, and whatever the program wrote into its working folder
  predictions/           the folder the program was told to write its predictions into
  logs/stdout.txt, logs/stderr.txt
  ingestion_result.json  status (ok | results | failed | timeout | missing_entry), exit code, duration, message

A task may also accept results: a submission without the entry point but with every file of
task.json's "results_files" at its root is passed on as it is (status "results").
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

from programlib.runner import run_process, tail

RESULT_FILE = "ingestion_result.json"
DEFAULTS = ("/app/input_data", "/app/output", "/app/program", "/app/ingested_program")


def find_misplaced(submission: Path, entry: str) -> str:
    """A common mistake: zipping the folder instead of its files. Say where the entry point is."""
    found = sorted(p.relative_to(submission).as_posix() for p in submission.rglob(Path(entry).name))
    return f" (found {found[0]}: zip the files themselves, not the folder holding them)" if found else ""


def run(input_dir: Path, output_dir: Path, program_dir: Path, submission_dir: Path) -> int:
    config = json.loads((program_dir / "task.json").read_text())
    entry, time_limit = config["entry"], config["time_limit"]
    workdir, predictions, logs = output_dir / "submission", output_dir / "predictions", output_dir / "logs"
    for folder in (predictions, logs):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(submission_dir, workdir, dirs_exist_ok=True)
    result = {"entry": entry, "time_limit": time_limit}

    results_files = config.get("results_files") or []
    if not (workdir / entry).is_file():
        if results_files and all((workdir / name).is_file() for name in results_files):
            for name in results_files:
                shutil.copyfile(workdir / name, predictions / name)
            result.update(status="results", exit_code=None, duration=0.0,
                          message=f"no {entry}: scoring the submitted {', '.join(results_files)} as submitted")
            return finish(output_dir, result)
        accepted = f" (or the results file(s) {', '.join(results_files)})" if results_files else ""
        result.update(status="missing_entry", exit_code=None, duration=0.0,
                      message=f"the submission has no {entry}{accepted} at its root{find_misplaced(workdir, entry)}")
        return finish(output_dir, result)
    if not entry.endswith(".py"):
        result.update(status="failed", exit_code=None, duration=0.0, message=f"{entry}: only Python entry points run")
        return finish(output_dir, result)

    fill = {"{input_data}": str(input_dir.resolve()), "{predictions}": str(predictions.resolve())}
    arguments = []
    for argument in config["args"]:
        for placeholder, value in fill.items():
            argument = argument.replace(placeholder, value)
        arguments.append(argument)
    env = dict(os.environ, PYTHONUNBUFFERED="1", DATA_DIR=fill["{input_data}"], OUTPUT_DIR=fill["{predictions}"])
    print(f"running {entry} {' '.join(arguments)} (time limit {time_limit} s)", flush=True)
    process = run_process([sys.executable, entry, *arguments], cwd=workdir, time_limit=time_limit, env=env,
                          stdout_path=logs / "stdout.txt", stderr_path=logs / "stderr.txt")
    result.update(exit_code=process.exit_code, duration=round(process.duration, 3))
    if process.timed_out:
        result.update(status="timeout", message=f"{entry} did not finish within the time limit of {time_limit} s "
                                                f"and was stopped")
    elif process.exit_code != 0:
        result.update(status="failed", message=f"{entry} exited with code {process.exit_code}; the end of its "
                                               f"error output:\n{tail(logs / 'stderr.txt') or '(nothing)'}")
    else:
        result.update(status="ok", message=f"{entry} finished in {process.duration:.1f} s")
    print("--- participant's output (end) ---\n" + tail(logs / "stdout.txt"), flush=True)
    return finish(output_dir, result)


def finish(output_dir: Path, result: dict) -> int:
    (output_dir / RESULT_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    succeeded = result["status"] in ("ok", "results")
    print(result["message"], file=sys.stdout if succeeded else sys.stderr, flush=True)
    return 0 if succeeded else 1


def main(argv: list[str]) -> int:
    if len(argv) > 4:
        raise SystemExit(__doc__)
    # Stopped by the worker at its own limit: unwind, so run_process kills the participant's processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folders = [Path(arg) for arg in argv] + [Path(d) for d in DEFAULTS[len(argv):]]
    return run(*folders)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
