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
  plot_record.jsonl      for a task that checks plots (task.json's record_plots), what each matplotlib figure the script
                         saved plots (plot_hook/); its SHA-256 ties each line to the image file saved
  ingestion_result.json  status (ok | results | failed | timeout | limit | missing_entry), exit code, duration,
                         message, "protections" (what confined the program), and "runs": the same facts for
                         each extra run

Each run happens in a stage of its own (a fresh copy of the submission and an empty predictions folder, in
TMPDIR), never in the output folder: the program cannot plant anything where this program writes. It runs
under bubblewrap in a cgroup (programlib/sandbox.py, programlib/runner.py), and what it leaves comes back only
through programlib/transfer.py (regular files and folders, no link followed). MLEB_SANDBOX says what to do where
bubblewrap cannot run: "require" (the local worker: fail), "off" (--no-sandbox), "job" (the worker confines this
program itself), unset (Codabench: the container is the boundary; said in ingestion_result.json).
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
import tempfile
from pathlib import Path

import yaml

from programlib.errors import SubmissionError
from programlib.runner import Limits, allowed_environment, run_process, tail
from programlib.safe_yaml import load_yaml_file
from programlib.sandbox import Confinement, SandboxUnavailable, probe as sandbox_probe
from programlib.transfer import copy_file_out, copy_out, write_new

RESULT_FILE = "ingestion_result.json"
DEFAULTS = ("/app/input_data", "/app/output", "/app/program", "/app/ingested_program")
NOTEBOOK_RUNNER = Path(__file__).resolve().parent / "run_notebook.py"
PLOT_HOOK = Path(__file__).resolve().parent / "plot_hook"  # a sitecustomize.py: records what savefig saved
PLOT_RECORD = "plot_record.jsonl"
FULL_DISK_BYTES = 1024**2  # free space below which the disk counts as full
SANDBOX_VARIABLE = "MLEB_SANDBOX"  # require | off | job; unset on Codabench


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


def edit_values(edit: dict, input_dir: Path, name: str) -> dict:
    """The values a config edit sets: its own, or this run's from a JSON file of the task's input data (set_from:
    values of this hidden draw). The file is ours: its absence is our bug, not the participant's."""
    if edit.get("set") is not None:
        return edit["set"]
    values = json.loads((input_dir / edit["set_from"]).read_text(encoding="utf-8"))
    assert isinstance(values.get(name), dict) and values[name], f"{edit['set_from']} has no values for run {name!r}"
    return values[name]


def edit_config(workdir: Path, edit: dict, values: dict) -> str | None:
    """Apply a config edit to the participant's YAML file; a message when it cannot be applied."""
    path = workdir / edit["file"]
    if not path.is_file():
        return f"the submission has no {edit['file']} to change"
    try:
        document = load_yaml_file(path, label=edit["file"])
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return f"{edit['file']} is not valid YAML: {error}"
    missing = [key for key, value in values.items() if not set_in_yaml(document, key, value)]
    if missing:
        return f"{edit['file']} has no key {', '.join(map(repr, missing))}"
    # trusted: a fresh copy made through the door (copy_out refuses links), before any participant code ran in it
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return None


def limits_of(config: dict) -> Limits:
    """The task's limits (task.json); a task.json written before limits existed gets no limits."""
    return Limits(**config["limits"]) if config.get("limits") else Limits()


def confinement_mode() -> str:
    """'require' (the local worker: refuse to run without a sandbox), 'off' (--no-sandbox), 'job' (the worker
    runs this program and all it starts in one sandbox: `validate`, someone else's bundle), or 'auto' (Codabench:
    the container is the boundary where bubblewrap cannot run inside it)."""
    mode = os.environ.get(SANDBOX_VARIABLE, "auto")
    return mode if mode in ("require", "off", "job") else "auto"


def sandbox_for(stage: Path, input_dir: Path, limits: Limits) -> tuple[Confinement | None, dict]:
    """How to confine the participant's program, and what to record of it; SandboxUnavailable when required."""
    mode = confinement_mode()
    if mode == "off":
        print("WARNING: --no-sandbox: the participant's program runs WITHOUT isolation", file=sys.stderr, flush=True)
        return None, {"sandbox": "none (--no-sandbox was given)"}
    if mode == "job":
        return None, {"sandbox": "the job's: this ingestion program and the code it runs share one bubblewrap sandbox",
                      "files": "private", "network": "off"}
    problem = sandbox_probe()
    if problem and mode == "require":
        raise SandboxUnavailable(problem)
    if problem:
        print(f"WARNING: {problem}; the container is the only boundary", file=sys.stderr, flush=True)
        return None, {"sandbox": f"none: {problem}; the container is the only boundary"}
    # The program sees its inputs (read-only), its stage (working folder and predictions) and this program's
    # folder (the notebook runner): no bundle, no cache, no other job, and not the output folder we write.
    visible = {input_dir: False, stage: True, NOTEBOOK_RUNNER.parent: False}
    return Confinement(visible=visible, network=limits.network), {}


def records_plots(config: dict) -> bool:
    """Only a task whose grader checks what a plot shows (bundle.yaml's submission.record_plots) gets the hook:
    every other task's program runs exactly as before, with no extra variable in its environment."""
    return config.get("record_plots") is True


def run_entry(entry: str, args: list[str], source: Path, input_dir: Path, out: Path, time_limit: float,
              limits: Limits | None = None, edit: dict | None = None, name: str | None = None,
              record_plots: bool = False) -> dict:
    """Run one entry point on a fresh copy of `source` in a stage of its own; out/ gets submission/,
    predictions/ and logs/ (only through the door: no link the participant made is ever followed)."""
    limits = limits or Limits()
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    # The stage sits in a private folder the program cannot see or open up (chmod): nobody else on the
    # machine reaches what it makes there.
    holder = Path(tempfile.mkdtemp(prefix="stage-"))
    stage = holder / "stage"
    stage.mkdir()
    try:
        return _run_staged(entry, args, source, stage, input_dir, out, time_limit, limits, edit, name, record_plots)
    except (SubmissionError, SandboxUnavailable) as error:
        not_started = f"run {name!r} not started: " if name else ""
        return {"entry": entry, "time_limit": time_limit, "status": "failed", "exit_code": None, "duration": 0.0,
                "message": f"{not_started}{error}"}
    finally:
        if shutil.disk_usage(holder).free >= FULL_DISK_BYTES:
            shutil.rmtree(holder, ignore_errors=True)
        # else: kept, so whoever runs us sees the disk full and frees it with the run folder (server/job.py)


def _run_staged(entry, args, source, stage, input_dir, out, time_limit, limits, edit, name, record_plots) -> dict:
    result = {"entry": entry, "time_limit": time_limit}
    workdir, predictions = stage / "submission", stage / "predictions"
    copy_out(source, workdir, label="the submission")
    predictions.mkdir()
    if edit:
        problem = edit_config(workdir, edit, edit_values(edit, input_dir, name))
        if problem:
            return {**result, "status": "failed", "exit_code": None, "duration": 0.0,
                    "message": f"run {name!r} not started: {problem}"}
    if not (workdir / entry).is_file():
        return {**result, "status": "missing_entry", "exit_code": None, "duration": 0.0,
                "message": f"the submission has no {entry} at its root{find_misplaced(workdir, entry)}"}
    arguments = fill_placeholders(args, input_dir, predictions)
    env = {"PYTHONUNBUFFERED": "1", "DATA_DIR": str(input_dir.resolve()), "OUTPUT_DIR": str(predictions.resolve()),
           "MPLBACKEND": "Agg"}
    if entry.endswith(".ipynb"):
        command = [sys.executable, str(NOTEBOOK_RUNNER), entry]
        print(f"executing the notebook {entry} (time limit {time_limit} s)", flush=True)
    else:
        command = [sys.executable, entry, *arguments]
        if record_plots:  # the hook is in this program's folder (visible read-only to the program); the record
            # sits in the stage, out of the folders copied back as the submission's own files
            env.update(PYTHONPATH=str(PLOT_HOOK), MLEB_PLOT_RECORD=str((stage / PLOT_RECORD).resolve()))
        print(f"running {entry} {' '.join(arguments)} (time limit {time_limit} s)", flush=True)
    confinement, protections = sandbox_for(stage, input_dir, limits)
    if confinement is None:
        env = dict(allowed_environment(keep_markers=True), **env)  # unconfined: found again by its markers
    process = run_process(command, cwd=workdir, time_limit=time_limit, env=env, limits=limits,
                          confinement=confinement, stdout_path=out / "logs" / "stdout.txt",
                          stderr_path=out / "logs" / "stderr.txt")
    protections = {**process.protections, **protections}
    result.update(exit_code=process.exit_code, duration=round(process.duration, 3), protections=protections,
                  network=protections.get("network", "on"), files=protections.get("files", "shared"))
    result.update(outcome(entry, process, time_limit, out / "logs"))
    print("--- participant's output (end) ---\n" + tail(out / "logs" / "stdout.txt"), flush=True)
    try:  # the one door out: regular files and folders only, never a link, bounded
        copy_out(workdir, out / "submission", label="the working folder")
        copy_out(predictions, out / "predictions", label="the predictions folder")
    except SubmissionError as error:
        result.update(status="failed", message=f"what the program left cannot be used: {error}")
    try:  # a record that is not a plain file is no record (no curve credit), not a failed run
        if (stage / PLOT_RECORD).exists():
            copy_file_out(stage / PLOT_RECORD, out / PLOT_RECORD, label="the plot record")
    except SubmissionError:
        pass
    return result


def outcome(entry: str, process, time_limit: float, logs: Path) -> dict:
    if process.limit_hit:
        return {"status": "limit", "message": f"{entry} was stopped at a limit of this task: {process.limit_hit}"}
    if process.timed_out:
        return {"status": "timeout",
                "message": f"{entry} did not finish within the time limit of {time_limit} s and was stopped"}
    if process.exit_code != 0:
        return {"status": "failed", "message": f"{entry} exited with code {process.exit_code}; the end of its "
                                               f"error output:\n{tail(logs / 'stderr.txt') or '(nothing)'}"}
    return {"status": "ok", "message": f"{entry} finished in {process.duration:.1f} s"}


def run_extra(run: dict, config: dict, submission_dir: Path, input_dir: Path, output_dir: Path) -> dict:
    print(f"extra run {run['name']!r}", flush=True)
    entry = run.get("entry") or config["entry"]
    args = run["args"] if run.get("args") is not None else config["args"]
    return run_entry(entry, args, submission_dir, input_dir, output_dir / "runs" / run["name"],
                     config["time_limit"], limits_of(config), edit=run.get("config_edit"), name=run["name"],
                     record_plots=records_plots(config))


def run(input_dir: Path, output_dir: Path, program_dir: Path, submission_dir: Path) -> int:
    config = json.loads((program_dir / "task.json").read_text())
    entry, time_limit = config["entry"], config["time_limit"]
    results_files = config.get("results_files") or []
    if not (submission_dir / entry).is_file() and results_files:
        if all((submission_dir / name).is_file() for name in results_files):
            (output_dir / "predictions").mkdir(parents=True, exist_ok=True)
            (output_dir / "logs").mkdir(parents=True, exist_ok=True)
            for name in results_files:
                copy_file_out(submission_dir / name, output_dir / "predictions" / name)
            return finish(output_dir, {
                "entry": entry, "time_limit": time_limit, "status": "results", "exit_code": None, "duration": 0.0,
                "message": f"no {entry}: scoring the submitted {', '.join(results_files)} as submitted"})
    if not (submission_dir / entry).is_file():
        accepted = f" (or the results file(s) {', '.join(results_files)})" if results_files else ""
        (output_dir / "logs").mkdir(parents=True, exist_ok=True)
        return finish(output_dir, {
            "entry": entry, "time_limit": time_limit, "status": "missing_entry", "exit_code": None, "duration": 0.0,
            "message": f"the submission has no {entry}{accepted} at its root{find_misplaced(submission_dir, entry)}"})
    result = run_entry(entry, config["args"], submission_dir, input_dir, output_dir, time_limit, limits_of(config),
                       record_plots=records_plots(config))
    if result["status"] == "ok" and config.get("runs"):
        result["runs"] = {extra["name"]: run_extra(extra, config, submission_dir, input_dir, output_dir)
                          for extra in config["runs"]}
    return finish(output_dir, result)


def finish(output_dir: Path, result: dict) -> int:
    write_new(output_dir / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True) + "\n")
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
