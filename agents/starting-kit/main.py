"""The starting-kit agent: what a participant does with the kit. Submit what its README says to submit (its
sample_submission/ folder, or the whole kit where the kit itself is the program, with its entry at the root); for
a code task, first run that code once on the public data, as the README asks, to check that it runs. What it
submits goes through the home's format check (/home/validate_submission.sh), whose verdict it prints.

    python main.py [--check true|false]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOME = Path(os.environ.get("AGENT_DIR", "/home/agent")).parent  # /home in the sandbox
KIT = HOME / "starting_kit"
DATA = Path(os.environ.get("DATA_DIR", "/home/data"))
SUBMISSION = Path(os.environ.get("SUBMISSION_DIR", "/home/submission"))
CODE = Path(os.environ.get("CODE_DIR", "/home/code"))
LOGS = Path(os.environ.get("LOGS_DIR", "/home/logs"))


def what_to_submit(task: dict) -> Path | None:
    """The kit's sample_submission/, else the kit itself when its entry is at its root (imet, ECG)."""
    if (KIT / "sample_submission").is_dir():
        return KIT / "sample_submission"
    if task.get("entry") and (KIT / task["entry"]).is_file():
        return KIT
    return None


def check_script(task: dict, workdir: Path, out: Path, timeout: float, log) -> int:
    fill = {"{input_data}": str(DATA), "{predictions}": str(out)}
    args = [fill.get(arg, arg) for arg in task.get("args") or []]
    for placeholder, value in fill.items():
        args = [arg.replace(placeholder, value) for arg in args]
    command = [sys.executable, task["entry"], *args]
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    env = dict(os.environ, DATA_DIR=str(DATA), OUTPUT_DIR=str(out))
    try:
        done = subprocess.run(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        log.write(f"stopped after {timeout:g} s\n")
        return 124
    return done.returncode


def check_notebook(task: dict, workdir: Path, out: Path, timeout: float, log) -> int:
    import nbformat
    from nbclient import NotebookClient

    os.environ.update(DATA_DIR=str(DATA), OUTPUT_DIR=str(out))  # the kernel inherits them
    path = workdir / task["entry"]
    notebook = nbformat.read(path, as_version=4)
    log.write(f"executing {task['entry']} (DATA_DIR={DATA})\n")
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
    except Exception as error:  # nbclient raises several kinds: each is a failed check
        log.write(f"failed: {type(error).__name__}: {error}\n")
        return 1
    finally:
        nbformat.write(notebook, out / f"executed_{path.name}")
    return 0


def check_run(task: dict, log) -> str:
    """Run the submission once on the public data, in a scratch copy (as the README's check does)."""
    scratch = Path(tempfile.mkdtemp(prefix="check-"))
    workdir, out = scratch / "submission", CODE / "check_run"
    shutil.copytree(SUBMISSION, workdir)
    out.mkdir(parents=True, exist_ok=True)
    timeout = float(task.get("run_time_limit") or float(os.environ.get("TIME_LIMIT_SECS", "600")) / 2)
    started = time.monotonic()
    run = check_notebook if task["entry"].endswith(".ipynb") else check_script
    code = run(task, workdir, out, timeout, log)
    shutil.rmtree(scratch, ignore_errors=True)
    return f"check run on the public data: {'ok' if code == 0 else f'failed (exit {code})'} " \
           f"in {time.monotonic() - started:.1f} s"


def format_check() -> str:
    """The home's format check on what was submitted (MLE-bench's validate_submission.sh); its full output goes to
    logs/format_check.log."""
    script = HOME / "validate_submission.sh"
    if not script.is_file():
        return "format check: this home has no validate_submission.sh"
    done = subprocess.run([str(script), str(SUBMISSION)], capture_output=True, text=True, timeout=300)
    (LOGS / "format_check.log").write_text(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1]).get("result") if lines else done.stderr.strip()[-500:]
    return f"format check (exit {done.returncode}): {result}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", default="true", choices=("true", "false"))
    options = parser.parse_args(argv)
    task = json.loads((HOME / "submission_format.json").read_text())
    source = what_to_submit(task) if KIT.is_dir() else None
    if source is None:
        print("this task's starting kit has nothing to submit (no sample_submission/, no entry at its root)",
              file=sys.stderr)
        return 1
    shutil.copytree(source, SUBMISSION, dirs_exist_ok=True)
    shutil.copytree(source, CODE / "submitted", dirs_exist_ok=True)
    print(f"submitting {source.relative_to(HOME)}: {', '.join(sorted(os.listdir(source)))}", flush=True)
    print(format_check(), flush=True)
    if task["kind"] == "code" and options.check == "true" and task.get("entry"):
        with open(LOGS / "check_run.log", "w") as log:
            print(check_run(task, log), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
