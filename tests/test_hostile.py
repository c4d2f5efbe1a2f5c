"""Every row of docs/reliability.md, asserted: hostile submissions are stopped or contained with a clear message,
hostile archives are refused with nothing written, and nothing of a hostile program is left running."""
from __future__ import annotations

import re
import time

import pytest

from conftest import ROOT, processes_with
from hostile_cases import CASES, TABLE_END, TABLE_START, build_bundle_for_cases
from programlib.runner import sandbox_available

STOPPED = {"fork bomb": "limit", "memory hog": "limit", "print flood": "limit", "huge file": "limit",
           "CPU burner": "limit", "sleeper": "timeout"}
NEEDS_SANDBOX = {"input vandal", "network", "parent killer"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_bundle_for_cases(tmp_path_factory.mktemp("hostile"))


def left_running(root: str) -> list[str]:
    deadline = time.monotonic() + 5
    while processes_with(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    return processes_with(root)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_case(case, bundle, tmp_path):
    if case.name in NEEDS_SANDBOX and not sandbox_available():
        pytest.skip("user namespaces are not available here (documented in docs/reliability.md)")
    outcome = case.run(bundle, tmp_path)
    assert case.expected in outcome.message, (outcome.what_happened, outcome.message)
    facts = outcome.facts
    if "outside" in facts:  # an archive: refused before anything is written
        assert outcome.what_happened.startswith("refused") and facts["written"] == [] and facts["outside"] == []
        return
    assert not left_running(facts["root"]), "a process of the hostile submission survived the run"
    ingestion = facts["ingestion"]
    if case.name in STOPPED:
        assert ingestion["status"] == STOPPED[case.name] and facts["scores"] is None
        assert facts["error"] and case.expected in outcome.message
    elif case.name in ("escaped daemon", "parent killer", "input vandal", "network"):
        assert ingestion["status"] == "ok" and facts["scores"]["roc_auc"] == 0.5  # contained; scored as a constant
    elif case.name == "reserved output":
        assert facts["scores"] is None and "reserves" in facts["error"]
    elif case.name == "NaN predictions":
        assert facts["scores"] is None and "predictions.csv" in facts["error"]
    if case.name == "input vandal":
        assert (tmp_path / "run" / "prediction" / "input_data" / "test.csv").is_file()
    if case.name == "network":
        assert "reached" not in outcome.message and "internet unreachable" in outcome.message


def test_the_reliability_table_lists_every_case():
    """docs/reliability.md is generated from these cases (`python tests/hostile_cases.py`): no row is missing."""
    text = (ROOT / "docs" / "reliability.md").read_text()
    table = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    rows = [re.split(r"(?<!\\)\|", line)[1].strip() for line in table.splitlines() if line.startswith("| ")]
    assert rows[2:] == [case.name for case in CASES]  # after the header and its rule
