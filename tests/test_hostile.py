"""Every row of docs/reliability.md, asserted: hostile submissions are stopped or contained with a clear message,
hostile archives are refused with nothing written, nothing of a hostile program is left running, no host file
changes (a canary beside each run), and no answer is read or score forged.

Each case is a real run through the local worker (tests/hostile_cases.py). They need bubblewrap: where it cannot
run, they fail with the reason (they never skip)."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from conftest import ROOT, processes_with
from hostile_cases import (CASES, LINK_CASES, MEMORY_MB, PROCESSES, TABLE_END, TABLE_START, TIME_LIMIT,
                           build_bundle_for_cases, input_changes)
from programlib.runner import ENV_ALLOWED
from programlib.sandbox import probe

STOPPED = {"fork bomb": "limit", "memory hog": "limit", "print flood": "limit", "huge file": "limit",
           "CPU burner": "limit", "sleeper": "timeout", "memory in children": "limit",
           "processes in children": "limit", "/tmp filler": "limit"}
# Contained: the attack got nowhere, the run went on and scored as the constant it submits.
CONTAINED = {"escaped daemon", "parent killer", "input vandal", "network", "reserved output", "chroot escape",
             "remount input", "/dev/shm marker", "secrets", "process snooping", "namespaces and mounts",
             "kernel settings", "setuid file", "file system snooping", "inherited descriptors"}
# Refused by the door out of the sandbox (programlib/transfer.py): not scored, the message names the path.
REFUSED = {*LINK_CASES, "planted links", "100,000 files"}
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_bundle_for_cases(tmp_path_factory.mktemp("hostile"))


def left_running(root: str) -> list[str]:
    deadline = time.monotonic() + 5
    while processes_with(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    return processes_with(root)


def host_logs(root: Path) -> str:
    """What the worker's jobs printed (the ingestion and scoring programs, not the participant)."""
    return "".join(path.read_text(errors="replace") for path in sorted((root / "logs").glob("*.txt")))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_case(case, bundle, tmp_path):
    if case.needs_sandbox and probe() is not None:
        pytest.fail(f"this case needs the sandbox: {probe()}")
    outcome = case.run(bundle, tmp_path)
    facts = outcome.facts
    if "outside" in facts:  # an archive: refused before anything is written
        assert case.expected in outcome.message, (outcome.what_happened, outcome.message)
        assert outcome.what_happened.startswith("refused") and facts["written"] == [] and facts["outside"] == []
        return
    root = Path(facts["root"])
    ingestion = facts["ingestion"]
    # Generic: nothing left running, no host file touched, no answer read, no score forged, no traceback of ours.
    assert not left_running(str(root)), "a process of the hostile submission survived the run"
    assert facts["host_intact"], "the canary file on the host, or its folder, changed"
    assert not [v for v in facts["verdicts"] if "BREACH" in v], facts["verdicts"]
    assert "BREACH" not in outcome.message, outcome.message
    assert facts["scores"] is None or facts["scores"]["roc_auc"] == 0.5, facts["scores"]  # a constant's score
    assert "Traceback" not in host_logs(root) and "Traceback" not in (facts["error"] or "")
    assert case.expected in outcome.message, (outcome.what_happened, outcome.message)
    assert ingestion["files"] == "private" and ingestion["network"] == "off"

    if case.name in STOPPED:
        assert ingestion["status"] == STOPPED[case.name] and facts["scores"] is None
        assert facts["error"] and case.expected in ingestion["message"]
    elif case.name in CONTAINED:
        assert ingestion["status"] == "ok" and facts["scores"]["roc_auc"] == 0.5  # scored as a constant
    elif case.name in REFUSED:
        assert ingestion["status"] == "failed" and facts["scores"] is None
        assert ingestion["message"].startswith("what the program left cannot be used: ")
        assert case.expected in facts["error"]  # the scorer repeats it
        assert not (root / "prediction" / "output" / "predictions").exists()
    elif case.name == "NaN predictions":
        assert facts["scores"] is None and "predictions.csv" in facts["error"]
    CHECKS.get(case.name, lambda *_: None)(outcome, root, tmp_path)


def check_links(outcome, root: Path, _tmp_path) -> None:
    ingestion = outcome.facts["ingestion"]
    # No hang: the program ended by itself (a reader of the FIFO would have waited for the time limit).
    assert ingestion["exit_code"] == 0 and ingestion["duration"] < TIME_LIMIT


def check_planted_links(outcome, root: Path, _tmp_path) -> None:
    output = root / "prediction" / "output"
    assert (output / "ingestion_result.json").is_file() and not (output / "ingestion_result.json").is_symlink()
    assert (output / "logs").is_dir() and not (output / "logs").is_symlink()
    assert (output / "logs" / "stdout.txt").is_file() and not (output / "logs" / "stdout.txt").is_symlink()
    links = [str(path) for path in root.rglob("*") if path.is_symlink()]
    assert links == [], f"a link the program planted reached the host: {links}"
    assert not (output / "metadata").exists() and not (output / "runs").exists()


def check_inputs_intact(outcome, root: Path, _tmp_path) -> None:
    assert input_changes(outcome.facts["host"], root) == []
    assert (root / "prediction" / "input_data" / "test.csv").is_file()


def check_network(outcome, _root, _tmp_path) -> None:
    assert "internet unreachable" in outcome.message


def check_reserved_output(outcome, root: Path, _tmp_path) -> None:
    assert not (root / "prediction" / "output" / "metadata").exists()
    assert not list((root / "prediction" / "tmp").glob("stage-*")), "the stage outlived the run"


def check_tmp_filler(outcome, _root, _tmp_path) -> None:
    # The kernel stops it at the memory limit (tmpfs pages are charged to it), or /tmp is full: never more.
    assert outcome.facts["details"].get("tmp_mb", 0) <= MEMORY_MB
    assert (f"memory: used more than {MEMORY_MB} MB" in outcome.message
            or any("/tmp full" in verdict for verdict in outcome.facts["verdicts"]))


def check_shm(outcome, root: Path, tmp_path) -> None:
    facts = outcome.facts
    assert facts["first_status"] == "ok" and facts["first_scores"]["roc_auc"] == 0.5
    assert not facts["on_host"] and facts["first_survivors"] == []
    assert not (Path("/dev/shm") / facts["marker"]).exists()
    assert not left_running(str(tmp_path / "run"))


def check_secrets(outcome, _root, _tmp_path) -> None:
    assert outcome.facts["secrets_found"] == []
    assert any("printed its environment" in verdict for verdict in outcome.facts["verdicts"])


def check_processes(outcome, _root, _tmp_path) -> None:
    details = outcome.facts["details"]
    # Only the sandbox's own processes: its init (bwrap) and the program itself; no host process.
    assert details["visible"] and all(name.startswith("bwrap") or name.endswith("baseline.py")
                                      for name in details["visible"].values()), details["visible"]
    allowed = set(ENV_ALLOWED) | {"DATA_DIR", "OUTPUT_DIR", "PYTHONUNBUFFERED", "MPLBACKEND"}
    assert set(details["init_environ"]) <= allowed, details["init_environ"]
    assert "/proc/1/root: the sandbox's own root" in outcome.message


def check_namespaces(outcome, _root, _tmp_path) -> None:
    verdicts = outcome.facts["verdicts"]
    assert len(verdicts) == 5 and all(re.search(r": refused \((EPERM|ENOSYS)\)$", v) for v in verdicts), verdicts


def check_file_system(outcome, _root, _tmp_path) -> None:
    seen = outcome.facts["details"]["seen"]
    assert seen["/etc/shadow"] == seen["/home"] == "absent"
    assert seen["the data cache"] == seen["the bundle"] == seen["the answers"] == "absent"
    # /root and the project may hold the interpreter's folder (a pyenv Python, the project's .venv): only that.
    assert all(state in ("absent", "empty", "only the interpreter's folder") for state in seen.values()), seen


def check_many_files(outcome, root: Path, _tmp_path) -> None:
    ingestion = outcome.facts["ingestion"]
    assert ingestion["duration"] < TIME_LIMIT + 5, "the run went past its time limit"
    for copied in (root / "prediction" / "output" / "submission", root / "scoring" / "input" / "res" / "submission"):
        assert not copied.exists() or sum(1 for _ in copied.rglob("*")) <= 20_000  # not 100,000 copies


def check_descriptors(outcome, root: Path, _tmp_path) -> None:
    descriptors = outcome.facts["details"]["descriptors"]
    assert set(descriptors) == {"0", "1", "2"}, descriptors
    logs = root / "prediction" / "output" / "logs"
    assert descriptors["0"] == "/dev/null"
    assert descriptors["1"] == str(logs / "stdout.txt") and descriptors["2"] == str(logs / "stderr.txt")


CHECKS = {**{name: check_links for name in LINK_CASES}, "planted links": check_planted_links,
          "input vandal": check_inputs_intact, "remount input": check_inputs_intact, "network": check_network,
          "reserved output": check_reserved_output, "/tmp filler": check_tmp_filler, "/dev/shm marker": check_shm,
          "secrets": check_secrets, "process snooping": check_processes, "namespaces and mounts": check_namespaces,
          "file system snooping": check_file_system, "100,000 files": check_many_files,
          "inherited descriptors": check_descriptors}


def test_every_case_is_classified():
    program_cases = {case.name for case in CASES if case.needs_sandbox}
    assert program_cases == set(STOPPED) | CONTAINED | REFUSED | {"NaN predictions"}
    assert f"processes: ran more than {PROCESSES}" in {case.expected for case in CASES}


def test_the_reliability_table_lists_every_case():
    """docs/reliability.md is generated from these cases (`python tests/hostile_cases.py`): no row is missing."""
    text = (ROOT / "docs" / "reliability.md").read_text()
    table = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    rows = [re.split(r"(?<!\\)\|", line)[1].strip() for line in table.splitlines() if line.startswith("| ")]
    assert rows[2:] == [case.name for case in CASES]  # after the header and its rule
