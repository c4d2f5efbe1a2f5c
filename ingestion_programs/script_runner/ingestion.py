"""Run a participant's program (a code submission) within the task's time limit.

    python3 ingestion.py [INPUT_DIR] [OUTPUT_DIR] [PROGRAM_DIR] [SUBMISSION_DIR]
    (defaults: /app/input_data /app/output /app/program /app/ingested_program)

What the task needs is in task.json beside this file (written by the builder): the entry point (a .py
script, or an .ipynb notebook executed on a real kernel), its arguments ({input_data} and {predictions}
are filled in; a notebook reads them from the DATA_DIR and OUTPUT_DIR environment variables, which
scripts get too) and the time limit. The output folder, which the scoring program receives as res/, holds:
  submission/            the participant's files, and whatever the program wrote into its working folder
                         (a notebook entry is replaced by its executed copy, outputs included)
  predictions/           the folder the program was told to write its predictions into
  logs/stdout.txt, logs/stderr.txt
  runs/<name>/           the same three folders for each extra run of task.json's "runs" (the submission run
                         again in a fresh copy, with other arguments or with values changed in a YAML file)
  ingestion_result.json  status (ok | results | failed | timeout | limit | missing_entry), exit code, duration,
                         message, and "runs": the same facts for each extra run

The task's limits (memory, processes, output, file size, CPU time, network; task.json's "limits") apply to
the participant's whole process tree; a run stopped at one has status "limit" and a message naming it.

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

import yaml

from programlib.runner import Limits, run_process, tail

RESULT_FILE = "ingestion_result.json"
DEFAULTS = ("/app/input_data", "/app/output", "/app/program", "/app/ingested_program")
NOTEBOOK_RUNNER = Path(__file__).resolve().parent / "run_notebook.py"


def find_misplaced(submission: Path, entry: str) -> str:
    """A common mistake: zipping the folder instead of its files. Say where the entry point is."""
    found = sorted(p.relative_to(submission).as_posix() for p in submission.rglob(Path(entry).name))
    return f" (found {found[0]}: zip the files themselves, not the folder holding them)" if found else ""


def fill_placeholders(args: list[str], input_dir: Path, predictions: Path) -> list[str]:
    fill = {"{input_data}": str(input_dir.resolve()), "{predictions}": str(predictions.resolve())}
    filled = []
    for argument in args:
        for placeholder, value in fill.items():
            argument = argument.replace(placeholder, value)
        filled.append(argument)
    return filled


def set_in_yaml(document, key: str, value) -> bool:
    """Set `key` (a dotted path from the top, or a plain name found at any depth) in place; False if absent."""
    if "." in key:
        *parents, last = key.split(".")
        node = document
        for part in parents:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        if not isinstance(node, dict) or last not in node:
            return False
        node[last] = value
        return True
    if isinstance(document, dict):
        if key in document:
            document[key] = value
            return True
        return any(set_in_yaml(child, key, value) for child in document.values())
    if isinstance(document, list):
        return any(set_in_yaml(child, key, value) for child in document)
    return False


def edit_config(workdir: Path, edit: dict) -> str | None:
    """Apply a config edit to the participant's YAML file; a message when it cannot be applied."""
    path = workdir / edit["file"]
    if not path.is_file():
        return f"the submission has no {edit['file']} to change"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return f"{edit['file']} is not valid YAML: {error}"
    missing = [key for key, value in edit["set"].items() if not set_in_yaml(document, key, value)]
    if missing:
        return f"{edit['file']} has no key {', '.join(map(repr, missing))}"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return None


def limits_of(config: dict) -> Limits:
    """The task's limits (task.json); a task.json written before limits existed gets no limits."""
    return Limits(**config["limits"]) if config.get("limits") else Limits()


def run_entry(entry: str, args: list[str], workdir: Path, input_dir: Path, out: Path, time_limit: float,
              limits: Limits | None = None) -> dict:
    """Run one entry point in `workdir`; out/ gets predictions/ and logs/. Returns the run's facts."""
    predictions, logs = out / "predictions", out / "logs"
    for folder in (predictions, logs):
        folder.mkdir(parents=True, exist_ok=True)
    result = {"entry": entry, "time_limit": time_limit}
    if not (workdir / entry).is_file():
        result.update(status="missing_entry", exit_code=None, duration=0.0,
                      message=f"the submission has no {entry} at its root{find_misplaced(workdir, entry)}")
        return result
    arguments = fill_placeholders(args, input_dir, predictions)
    env = dict(os.environ, PYTHONUNBUFFERED="1", DATA_DIR=str(input_dir.resolve()),
               OUTPUT_DIR=str(predictions.resolve()), MPLBACKEND="Agg")
    if entry.endswith(".ipynb"):
        command = [sys.executable, str(NOTEBOOK_RUNNER), entry]
        print(f"executing the notebook {entry} (time limit {time_limit} s)", flush=True)
    else:
        command = [sys.executable, entry, *arguments]
        print(f"running {entry} {' '.join(arguments)} (time limit {time_limit} s)", flush=True)
    # With private files, the program sees its inputs (read-only), its own output folder and this program's
    # folder (the notebook runner), and nothing else of the machine's files: no bundle, cache or other job.
    visible = {input_dir: False, out: True, NOTEBOOK_RUNNER.parent: False}
    process = run_process(command, cwd=workdir, time_limit=time_limit, env=env, limits=limits, visible=visible,
                          stdout_path=logs / "stdout.txt", stderr_path=logs / "stderr.txt")
    result.update(exit_code=process.exit_code, duration=round(process.duration, 3),
                  network="off" if process.network_isolated else "on",
                  files="private" if process.files_isolated else "shared")
    if process.limit_hit:
        result.update(status="limit", message=f"{entry} was stopped at a limit of this task: {process.limit_hit}")
    elif process.timed_out:
        result.update(status="timeout", message=f"{entry} did not finish within the time limit of {time_limit} s "
                                                f"and was stopped")
    elif process.exit_code != 0:
        result.update(status="failed", message=f"{entry} exited with code {process.exit_code}; the end of its "
                                               f"error output:\n{tail(logs / 'stderr.txt') or '(nothing)'}")
    else:
        result.update(status="ok", message=f"{entry} finished in {process.duration:.1f} s")
    print("--- participant's output (end) ---\n" + tail(logs / "stdout.txt"), flush=True)
    return result


def run_extra(run: dict, config: dict, submission_dir: Path, input_dir: Path, output_dir: Path) -> dict:
    out = output_dir / "runs" / run["name"]
    workdir = out / "submission"
    shutil.copytree(submission_dir, workdir, dirs_exist_ok=True)
    entry = run.get("entry") or config["entry"]
    if run.get("config_edit"):
        problem = edit_config(workdir, run["config_edit"])
        if problem:
            return {"entry": entry, "status": "failed", "exit_code": None, "duration": 0.0,
                    "message": f"run {run['name']!r} not started: {problem}"}
    print(f"extra run {run['name']!r}", flush=True)
    args = run["args"] if run.get("args") is not None else config["args"]
    return run_entry(entry, args, workdir, input_dir, out, config["time_limit"], limits_of(config))


def run(input_dir: Path, output_dir: Path, program_dir: Path, submission_dir: Path) -> int:
    config = json.loads((program_dir / "task.json").read_text())
    entry, time_limit = config["entry"], config["time_limit"]
    workdir = output_dir / "submission"
    (output_dir / "predictions").mkdir(parents=True, exist_ok=True)
    (output_dir / "logs").mkdir(parents=True, exist_ok=True)
    shutil.copytree(submission_dir, workdir, dirs_exist_ok=True)

    results_files = config.get("results_files") or []
    if not (workdir / entry).is_file():
        if results_files and all((workdir / name).is_file() for name in results_files):
            for name in results_files:
                shutil.copyfile(workdir / name, output_dir / "predictions" / name)
            return finish(output_dir, {
                "entry": entry, "time_limit": time_limit, "status": "results", "exit_code": None, "duration": 0.0,
                "message": f"no {entry}: scoring the submitted {', '.join(results_files)} as submitted"})
        accepted = f" (or the results file(s) {', '.join(results_files)})" if results_files else ""
        return finish(output_dir, {
            "entry": entry, "time_limit": time_limit, "status": "missing_entry", "exit_code": None, "duration": 0.0,
            "message": f"the submission has no {entry}{accepted} at its root{find_misplaced(workdir, entry)}"})

    result = run_entry(entry, config["args"], workdir, input_dir, output_dir, time_limit, limits_of(config))
    if result["status"] == "ok" and config.get("runs"):
        result["runs"] = {extra["name"]: run_extra(extra, config, submission_dir, input_dir, output_dir)
                          for extra in config["runs"]}
    return finish(output_dir, result)


def finish(output_dir: Path, result: dict) -> int:
    (output_dir / RESULT_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    succeeded = result["status"] in ("ok", "results")
    print(result["message"], file=sys.stdout if succeeded else sys.stderr, flush=True)
    for name, extra in (result.get("runs") or {}).items():
        print(f"run {name!r}: {extra['status']}: {extra['message']}", flush=True)
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
