"""Hostile submissions and archives, each run for real; tests/test_hostile.py asserts every row and
`python tests/hostile_cases.py` writes the table of docs/reliability.md from the same runs.

The submissions target tabular-baseline (tiny scale) through the local worker, with its limits lowered so a
hostile program hits them in seconds (the defaults are in bundle.yaml's `submission.limits`).
"""
from __future__ import annotations

import io
import json
import socket
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from bundlegen.worker import run_submission  # noqa: E402
from programlib.archive import UnsafeArchiveError, safe_extract  # noqa: E402

TASK = "tabular-baseline"
LOWERED = {"time_limit": 8, "limits": {"memory_mb": 400, "max_processes": 24, "max_output_mb": 2,
                                        "max_file_mb": 16, "cpu_seconds": 4}}
# Writes the constant submission after its hostile part, so a contained attack still gets (a bad) score.
CONSTANT = """
import csv, os
rows = list(csv.DictReader(open(os.path.join(os.environ["DATA_DIR"], "test.csv"))))
with open(os.path.join(os.environ["OUTPUT_DIR"], "predictions.csv"), "w") as handle:
    handle.write("id,target\\n" + "".join(row["id"] + ",0.5\\n" for row in rows))
"""


@dataclass
class Outcome:
    what_happened: str  # e.g. "stopped at the memory limit", "refused", "contained"
    message: str  # what the participant or the organiser is told
    facts: dict


@dataclass
class Case:
    name: str
    attack: str  # what the hostile submission or archive does
    expected: str  # the fragment the message must hold
    run: Callable[[Path, Path], Outcome]  # (bundle, workdir) -> Outcome


def submit(bundle: Path, workdir: Path, script: str, extra: dict[str, bytes] | None = None) -> tuple:
    files = {"baseline.py": script.encode(), **(extra or {})}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    (workdir / "submission.zip").write_bytes(buffer.getvalue())
    result = run_submission(bundle, workdir / "submission.zip", workdir=workdir / "run", log=lambda _m: None)
    ingestion_path = workdir / "run" / "prediction" / "output" / "ingestion_result.json"
    ingestion = json.loads(ingestion_path.read_text()) if ingestion_path.is_file() else {}
    return result, ingestion


def survivors_of(root: Path) -> list[str]:
    """Processes whose command line names the run folder (the participant's program and its children)."""
    import time

    found: list[str] = []
    for _ in range(50):  # a killed tree may take a moment to disappear
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and str(root).encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                pass
        if not found:
            break
        time.sleep(0.1)
    return found


def program_case(script: str) -> Callable[[Path, Path], Outcome]:
    def run(bundle: Path, workdir: Path) -> Outcome:
        result, ingestion = submit(bundle, workdir, script)
        status = ingestion.get("status", "-")
        if result.ok:
            what = f"scored (roc_auc {result.scores['roc_auc']:.2f}); ingestion status {status}"
        else:
            what = f"not scored; ingestion status {status}"
        if status not in ("ok", "-"):  # the ingestion program's own words (the scorer repeats them)
            message = ingestion.get("message", "").splitlines()[0]
        else:
            message = (result.error or "").replace("\n", " ")
        survivors = survivors_of(workdir / "run")
        if result.ok or survivors:
            message = " ".join(filter(None, [message, f"{len(survivors)} of its processes left running" if survivors
                                             else "nothing of it left running after the run"]))
        return Outcome(what, message, {"ingestion": ingestion, "scores": result.scores, "error": result.error,
                                       "root": str(workdir / "run")})
    return run


def printed_case(script: str) -> Callable[[Path, Path], Outcome]:
    """A contained attack: what matters is what the program itself saw (it prints a verdict line)."""
    def run(bundle: Path, workdir: Path) -> Outcome:
        outcome = program_case(script + CONSTANT)(bundle, workdir)
        log = workdir / "run" / "prediction" / "output" / "logs" / "stdout.txt"
        seen = [line for line in log.read_text().splitlines() if line.startswith("VERDICT")] if log.is_file() else []
        outcome.message = "; ".join(line.removeprefix("VERDICT ") for line in seen) or outcome.message
        return outcome
    return run


def archive_case(build: Callable[[], bytes], **limits) -> Callable[[Path, Path], Outcome]:
    def run(_bundle: Path, workdir: Path) -> Outcome:
        target = workdir / "unpacked"
        try:
            safe_extract(io.BytesIO(build()), target, label="submission.zip", **limits)
        except UnsafeArchiveError as error:
            outside = sorted(p.name for p in workdir.rglob("*") if p.is_file() and target not in p.parents)
            written = sorted(p.name for p in target.rglob("*")) if target.exists() else []
            return Outcome("refused, nothing written", str(error), {"outside": outside, "written": written})
        return Outcome("unpacked", "", {})
    return run


def zip_of(entries: list[tuple[str, bytes, int | None]]) -> bytes:
    """entries: (name, data, unix mode or None)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def network_probe() -> str:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    LISTENERS.append(listener)  # kept open while the case runs
    return f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3)
    print("VERDICT reached a server on the host's loopback")
except OSError as error:
    print("VERDICT host unreachable:", error)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    print("VERDICT reached the internet")
except OSError as error:
    print("VERDICT internet unreachable:", error)
"""


LISTENERS: list[socket.socket] = []

CASES = [
    Case("fork bomb", "forks until it is stopped", "processes: ran more than 24",
         program_case("import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(60)\n")),
    Case("memory hog", "allocates 2 GB", "memory: used more than 400 MB",
         program_case("import time\nblocks = [bytearray(50 * 1024**2) for _ in range(40)]\ntime.sleep(60)\n")),
    Case("print flood", "prints without end", "output: printed more than 2 MB",
         program_case("while True:\n    print('spam' * 250)\n")),
    Case("huge file", "writes a 100 MB file", "file size: tried to write a file larger than 16 MB",
         program_case("open('huge.bin', 'wb').write(bytes(100 * 1024**2))\n")),
    Case("CPU burner", "spins on the CPU", "CPU time: used more than 4 CPU seconds",
         program_case("while True:\n    pass\n")),
    Case("sleeper", "sleeps past the time limit", "did not finish within the time limit of 8 s",
         program_case("import time\ntime.sleep(600)\n")),
    Case("escaped daemon", "double-forks a daemon in a new session, then exits 0", "nothing of it left running",
         program_case("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                      "        time.sleep(600)\n    os._exit(0)\n" + CONSTANT)),
    Case("parent killer", "sends SIGKILL to its parent and to every process it can see",
         "nothing of it left running",
         program_case("import os, signal\nfor pid in [os.getppid(), 1] + [int(p) for p in os.listdir('/proc') "
                      "if p.isdigit()]:\n    if pid != os.getpid():\n        try:\n            os.kill(pid, 9)\n"
                      "        except OSError:\n            pass\n" + CONSTANT)),
    Case("input vandal", "deletes and overwrites its input data", "input data is read-only",
         printed_case("import os, glob\nfor path in glob.glob(os.path.join(os.environ['DATA_DIR'], '*')):\n"
                      "    try:\n        os.remove(path)\n        print('VERDICT deleted', path)\n"
                      "    except OSError as error:\n"
                      "        print('VERDICT input data is read-only:', error.strerror)\n        break\n")),
    Case("network", "connects to a server on the host's loopback and to the internet", "host unreachable",
         None),  # built when run (it opens a listener)
    Case("reserved output", "writes output/metadata, which Codabench's worker reserves", "output/metadata",
         program_case("import os\nopen(os.path.join(os.environ['OUTPUT_DIR'], '..', 'metadata'), 'w').write('x')\n"
                      + CONSTANT)),
    Case("NaN predictions", "predicts NaN for every row", "predictions.csv",
         program_case(CONSTANT.replace(',0.5', ',nan'))),
    Case("zip slip", "an entry named ../../evil.py", "escapes the target folder",
         archive_case(lambda: zip_of([("baseline.py", b"print(1)", None), ("../../evil.py", b"x", None)]))),
    Case("absolute path", "an entry named /tmp/evil.py", "has an absolute path",
         archive_case(lambda: zip_of([("/tmp/evil.py", b"x", None)]))),
    Case("symlink", "an entry that is a symbolic link to /etc/passwd", "is a symbolic link",
         archive_case(lambda: zip_of([("baseline.py", b"/etc/passwd", 0o120777)]))),
    Case("zip bomb", "200 MB of zeros in a 0.2 MB zip (limit lowered to 50 MB; default 20 GB)",
         "uncompressed, more than the limit", archive_case(lambda: zip_of([("bomb.bin", bytes(200 * 1024**2), None)]),
                                                           max_total_bytes=50 * 1024**2)),
    Case("too many entries", "5,000 entries (limit lowered to 1,000; default 200,000)", "more than the limit of 1000",
         archive_case(lambda: zip_of([(f"f{i}.txt", b"", None) for i in range(5000)]), max_entries=1000)),
    Case("not a zip", "random bytes named submission.zip", "not a valid zip file",
         archive_case(lambda: bytes(range(256)) * 10)),
]


def network_case(bundle: Path, workdir: Path) -> Outcome:
    try:
        return printed_case(network_probe())(bundle, workdir)
    finally:
        while LISTENERS:
            LISTENERS.pop().close()


CASES[[c.name for c in CASES].index("network")].run = network_case


def build_bundle_for_cases(workdir: Path) -> Path:
    """tabular-baseline at the tiny scale, with the lowered limits, from a copy of the project."""
    import yaml

    from bundlegen.build import build_bundle
    from bundlegen.definition import load_task
    from conftest import copy_project

    project = copy_project(workdir / "project")
    path = project.bundles_dir / TASK / "bundle.yaml"
    definition = yaml.safe_load(path.read_text())
    definition["submission"].update(LOWERED)
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return build_bundle(load_task(path.parent, project), workdir / "dist", scale_name="tiny",
                        cache_dir=workdir / "cache", log=lambda _m: None)


def markdown_table(outcomes: list[tuple[Case, Outcome]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")[:300]
    lines = ["| case | what the submission does | what happened | message |", "| --- | --- | --- | --- |"]
    lines += [f"| {case.name} | {cell(case.attack)} | {cell(outcome.what_happened)} | {cell(outcome.message) or '-'} |"
              for case, outcome in outcomes]
    return "\n".join(lines) + "\n"


def write_report(target: Path) -> None:
    import tempfile

    from programlib.runner import sandbox_available

    with tempfile.TemporaryDirectory(prefix="hostile-") as folder:
        root = Path(folder)
        bundle = build_bundle_for_cases(root)
        outcomes = []
        for number, case in enumerate(CASES):
            print(f"[{number + 1}/{len(CASES)}] {case.name}", flush=True)
            workdir = root / f"case{number}"
            workdir.mkdir()
            outcomes.append((case, case.run(bundle, workdir)))
    text = target.read_text() if target.exists() else ""
    head = text.split(TABLE_START)[0] if TABLE_START in text else DEFAULT_HEAD
    sandbox = ("yes" if sandbox_available() else "no: files and network are not isolated on this machine")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(head + TABLE_START + "\n\n" + f"User namespaces (private files, no network): {sandbox}.\n\n"
                      + markdown_table(outcomes) + "\n" + TABLE_END + "\n")


TABLE_START = "<!-- generated by `python tests/hostile_cases.py`: do not edit below -->"
TABLE_END = "<!-- end of the generated table -->"
DEFAULT_HEAD = "# Reliability\n\n"

if __name__ == "__main__":
    write_report(HERE.parent / "docs" / "reliability.md")
    print("wrote docs/reliability.md")
