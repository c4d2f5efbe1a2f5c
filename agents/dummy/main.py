"""The dummy agent (as MLE-bench's agents/dummy/main.py): who am I, can I see the answers, can I write; then submit
the task's sample submission and log what /home/validate_submission.sh says of it. Exit 2 if anything that looks
like private data is readable."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HOME = Path(os.environ.get("AGENT_DIR", "/home/agent")).parent  # /home in the sandbox
SUBMISSION = Path(os.environ.get("SUBMISSION_DIR", "/home/submission"))
LOGS = Path(os.environ.get("LOGS_DIR", "/home/logs"))
CODE = Path(os.environ.get("CODE_DIR", "/home/code"))
DATA = Path(os.environ.get("DATA_DIR", "/home/data"))
# Where a bundle's answers would be, here or in MLE-bench's container, or on the worker that graded the task.
PRIVATE_GUESSES = ("/private", "/private/data", "/home/private", "/home/data/private", "/home/data/../private",
                   "/home/reference_data", "/home/data/reference_data", "/home/data/../reference_data",
                   "/app/input/ref", "/app/reference_data", "/app/input_data", "/reference_data", "/input_data")
SUSPECT = ("reference_data", "private", "answer", "ground_truth", "solution.zip", "scoring_program",
           "competition.yaml", "input_data")
SKIPPED = ("/proc", "/sys", "/dev", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")


def say(line: str, log) -> None:
    print(line, flush=True)
    log.write(line + "\n")


def readable(path: str) -> bool:
    try:
        if os.path.isdir(path):
            os.listdir(path)
            return True
        with open(path, "rb") as handle:
            handle.read(1)
        return True
    except OSError:
        return False


def interpreter_folders() -> set[str]:
    places = (sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable))
    return {os.path.realpath(place) for place in places}


def suspicious_files() -> tuple[list[str], int]:
    """Every visible path outside the system, the interpreter and the home whose name looks like answers."""
    skip = set(SKIPPED) | interpreter_folders() | {"/home", os.path.realpath(HOME)}
    found, folders = [], 0
    for root, dirs, names in os.walk("/", followlinks=False):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]
        folders += 1
        found += [os.path.join(root, n) for n in dirs + names if any(s in n.lower() for s in SUSPECT)]
    return found, folders


def check_private(log) -> bool:
    """True when nothing private can be read."""
    readable_guesses = [p for p in PRIVATE_GUESSES if os.path.lexists(p) and readable(p)]
    real_home = os.path.realpath(HOME)
    parent = os.path.dirname(real_home)
    siblings = sorted(set(os.listdir(parent)) - {os.path.basename(real_home)}) if real_home != "/home" else []
    found, folders = suspicious_files()
    say(f"private data: tried {len(PRIVATE_GUESSES)} places where answers could be: "
        f"{'readable: ' + ', '.join(readable_guesses) if readable_guesses else 'none exists or is readable'}", log)
    say(f"private data: /home is {real_home}; beside it: {', '.join(siblings) or 'nothing'}", log)
    say(f"private data: walked {folders} visible folders outside the system and the home: "
        f"{'FOUND ' + ', '.join(found[:10]) if found else 'nothing that looks like answers'}", log)
    return not readable_guesses and not siblings and not found


def check_writable(log) -> bool:
    ok = True
    for folder in (SUBMISSION, CODE, LOGS):
        probe = folder / ".write-check"
        try:
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            say(f"cannot write {folder}: {error}", log)
            ok = False
    try:
        (DATA / ".write-check").write_text("no")
        say(f"WARNING: {DATA} is writable (it should be read-only)", log)
        ok = False
    except OSError:
        say(f"{DATA} is read-only, as it should be", log)
    return ok


def submit_sample(log) -> bool:
    kit = HOME / "starting_kit" / "sample_submission"
    if kit.is_dir():
        shutil.copytree(kit, SUBMISSION, dirs_exist_ok=True)
        say(f"submitted the starting kit's sample submission: {', '.join(sorted(os.listdir(kit)))}", log)
        return True
    facts = json.loads((HOME / "submission_format.json").read_text())
    files = facts.get("files") or facts.get("results_files") or []  # a code task that also takes results files
    samples = [(DATA / f"sample_{name}", name) for name in files]
    if files and all(source.is_file() for source, _ in samples):
        for source, name in samples:
            shutil.copyfile(source, SUBMISSION / name)
        say(f"submitted the public data's sample files as {', '.join(files)}", log)
        return True
    say("this task has no sample submission", log)
    return False


def format_check(log) -> None:
    """MLE-bench's dummy asks the grading server whether its submission is valid; here the home's script answers."""
    script = HOME / "validate_submission.sh"
    if not script.is_file():
        say("format check: this home has no validate_submission.sh", log)
        return
    done = subprocess.run([str(script), str(SUBMISSION), "--json"], capture_output=True, text=True, timeout=300)
    lines = done.stdout.strip().splitlines()
    verdict = json.loads(lines[-1]) if lines else {"result": done.stderr.strip()[-500:]}
    say(f"format check (exit {done.returncode}): {verdict.get('result')}", log)


def main() -> int:
    with open(LOGS / "dummy.log", "w") as log:
        root = os.getuid() == 0
        say(f"user: uid {os.getuid()} ({'root' if root else 'not root'})", log)
        say(f"python: {sys.version.split()[0]} at {sys.executable}", log)
        private_ok = check_private(log)
        writable_ok = check_writable(log)
        submitted = submit_sample(log)
        if submitted:
            format_check(log)
        shutil.copyfile(__file__, CODE / "main.py")
        if not private_ok:
            say("FAIL: something that looks like private data is visible to the agent", log)
            return 2
        return 0 if writable_ok and submitted else 1


if __name__ == "__main__":
    sys.exit(main())
