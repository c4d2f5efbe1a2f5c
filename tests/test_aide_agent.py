"""The aide adapter (agents/aide: aideml 0.2.2 under MLE-bench's contract), run for real in the agents' sandbox.

With an LLM endpoint it is AIDE end to end: the real openai client inside the sandbox talks HTTP to a local test
server on loopback (tests/llm_stub.py, OpenAI's chat-completions protocol, canned replies), AIDE runs the code it
was given on the task's data, and the best solution's submission.csv is graded by the bundle's own programs.

The task is imet-2020-fgvc7, an MLE-bench Lite competition: a code task that also accepts its results file,
submission.csv, so AIDE's usual flow (its code writes ./working/submission.csv) is the natural one. churn-spec,
the only results-kind task, is graded on a written spec.md, not on predictions.
"""
from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import time
import zipfile
from pathlib import Path

import pytest

from agentlib.definition import find_agent
from agentlib.home import description_markdown
from agentlib.run import grade_rollout, run_agent
from bundlegen.worker import Bundle
from conftest import ROOT, load_module, quiet
from llm_stub import MODEL, LLMStub
from programlib.sandbox import probe

TASK = "imet-2020-fgvc7"
KEY = "sk-test-not-a-secret"
needs_sandbox = pytest.mark.skipif(probe() is not None, reason=f"bubblewrap cannot confine agents here: {probe()}")


def aideml_installed() -> bool:
    """By its metadata: importing aide here would mute warnings and change logging for the whole test process."""
    try:
        return bool(importlib.metadata.version("aideml"))
    except importlib.metadata.PackageNotFoundError:
        return False


needs_aide = pytest.mark.skipif(not aideml_installed(), reason="aideml is not installed (make setup installs it)")

# What the stub answers to every request for code: AIDE's kind of solution to the task (the most frequent
# attributes for every image), with a hold-out metric printed and the predictions in ./working/submission.csv.
SOLUTION = '''\
from collections import Counter

import numpy as np
import pandas as pd

train = pd.read_csv("./input/train.csv")
labels = [str(ids).split() for ids in train["attribute_ids"]]


def top_attributes(rows, k=5):
    return [a for a, _ in Counter(a for row in rows for a in row).most_common(k)]


def micro_f1(truth, predicted):
    tp = sum(len(set(t) & set(predicted)) for t in truth)
    wrong = sum(len(set(predicted) ^ set(t)) for t in truth)
    return 2 * tp / max(1, 2 * tp + wrong)


order = np.random.default_rng(0).permutation(len(labels))
cut = int(0.8 * len(labels))
fit, hold = [labels[i] for i in order[:cut]], [labels[i] for i in order[cut:]]
print(f"Validation micro-F1: {micro_f1(hold, top_attributes(fit)):.4f}")

submission = pd.read_csv("./input/sample_submission.csv")
submission["attribute_ids"] = " ".join(top_attributes(labels))
submission.to_csv("./working/submission.csv", index=False)
'''


def test_the_definition_and_its_variants():
    agent = find_agent("aide")
    assert agent.network and agent.model.kwargs_style == "omegaconf"
    assert agent.model.env_vars == ["OPENAI_API_KEY", "OPENAI_BASE_URL", "AIDE_MODEL"]
    assert agent.command(agent.variant("smoke")) == ["python", "start.py", "agent.steps=2"]
    assert agent.command(agent.variant()) == ["python", "start.py"]


@pytest.mark.parametrize("facts, files, whole", [
    ({"kind": "results", "files": ["spec.md"]}, ["spec.md"], False),
    ({"kind": "code", "entry": "run.py", "results_files": ["submission.csv"]}, ["submission.csv"], False),
    ({"kind": "code", "entry": "baseline.py", "results_files": []}, ["baseline.py"], True),
])
def test_what_the_adapter_submits(facts, files, whole):
    start = load_module("aide_start", ROOT / "agents" / "aide" / "start.py")
    assert start.targets(facts) == files and start.whole_folder(facts) is whole


@needs_sandbox
def test_without_an_endpoint_it_ends_at_once_saying_so(tiny_bundle, tmp_path):
    started = time.monotonic()
    rollout = run_agent("aide", None, tiny_bundle(TASK), tmp_path / "rollout", env={}, log=quiet)
    assert time.monotonic() - started < 30
    assert rollout.status == "failed" and rollout.exit_code == 2, rollout.message
    assert ("aide needs an LLM endpoint: set OPENAI_API_KEY (and OPENAI_BASE_URL for a local server) in the "
            "server's environment") in rollout.message
    assert rollout.env_passed == [] and rollout.submission_files == []


@needs_sandbox
@needs_aide
def test_an_endpoint_that_cannot_be_reached_ends_it_at_once(tiny_bundle, tmp_path):
    with LLMStub(code=SOLUTION) as stub:
        closed = stub.base_url  # a loopback port with nothing listening once the stub is gone
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": closed}
    started = time.monotonic()
    rollout = run_agent("aide", "smoke", tiny_bundle(TASK), tmp_path / "rollout", env=env, log=quiet)
    assert time.monotonic() - started < 60  # AIDE itself would retry until the time limit
    assert rollout.status == "failed" and rollout.exit_code == 3, rollout.message
    assert f"cannot reach the LLM endpoint {closed}" in rollout.message


@needs_sandbox
@needs_aide
def test_with_a_local_endpoint_aide_submits_a_graded_solution(tiny_bundle, tmp_path):
    bundle = tiny_bundle(TASK)
    started = time.monotonic()
    with LLMStub(code=SOLUTION, metric=0.31) as stub:
        env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": stub.base_url, "UNRELATED_SECRET": "never passed"}
        rollout = run_agent("aide", "smoke", bundle, tmp_path / "rollout", env=env, log=quiet)
        ran = time.monotonic() - started
        grade = grade_rollout(rollout, bundle, log=quiet)
        requests = list(stub.requests)
    elapsed = time.monotonic() - started
    print(f"aide rollout {ran:.1f} s, with grading {elapsed:.1f} s, {len(requests)} requests")
    assert elapsed < 90

    assert rollout.status == "completed", rollout.message
    assert rollout.env_passed == ["OPENAI_API_KEY", "OPENAI_BASE_URL"]
    assert rollout.submission_files == ["submission.csv"]
    assert grade["status"] == "graded", grade
    assert grade["primary"] == "micro_f1" and 0 < grade["score"] <= 1
    rows = list(csv.DictReader((rollout.folder / "submission" / "submission.csv").open()))
    sample = list(csv.DictReader(_public_file(bundle, "sample_submission.csv").splitlines()))
    assert [row["id"] for row in rows] == [row["id"] for row in sample]  # every test image, predicted by the code

    _assert_aide_asked_the_stub(requests, bundle)
    assert (rollout.folder / "code" / "best_solution.py").read_text().strip() == SOLUTION.strip()
    journal = json.loads(next((rollout.folder / "logs" / "aide").glob("*/journal.json")).read_text())
    assert len(journal["nodes"]) == 2 and all(node["metric"]["value"] == 0.31 for node in journal["nodes"])
    assert "step 2/2" in (rollout.folder / "agent_stdout.txt").read_text()
    assert KEY not in (rollout.folder / "rollout.json").read_text()


def _assert_aide_asked_the_stub(requests: list[dict], bundle: Path) -> None:
    """The models list first (the adapter's check), then per step a request for code and a review by function
    call, then the report; every one with the key and the model the endpoint lists."""
    assert requests[0]["method"] == "GET" and requests[0]["path"] == "/v1/models"
    chats = [r for r in requests if r["path"] == "/v1/chat/completions"]
    assert len(chats) == 5 and len(requests) == 6, [r["path"] for r in requests]
    assert all(r["authorization"] == f"Bearer {KEY}" for r in requests)
    assert all(r["body"]["model"] == MODEL for r in chats)
    reviews = [r["body"] for r in chats if r["body"].get("tools")]
    assert len(reviews) == 2
    assert all(body["tools"][0]["function"]["name"] == "submit_review" for body in reviews)
    prompt = chats[0]["body"]["messages"][0]["content"]
    assert description_markdown(Bundle(bundle)).strip() in prompt  # the task's description.md, whole
    assert "./working/submission.csv" in prompt and "BENCHMARK INSTRUCTIONS" in prompt  # and the instructions


def _public_file(bundle: Path, name: str) -> str:
    opened = Bundle(bundle)
    phase, _task = opened.phase_and_task(0)
    with zipfile.ZipFile(io.BytesIO(opened.archive.read(phase["public_data"]))) as public:
        return public.read(name).decode()
