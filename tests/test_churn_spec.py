"""The churn-spec task: a spec is scored on the facts of its own brief and schema; malformed specs are refused."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bundlegen.data import load_prepare
from bundlegen.definition import load_task
from bundlegen.worker import run_submission
from conftest import ROOT, load_module, quiet, write_zip

PROGRAM = ROOT / "scoring_programs" / "churn_spec"
KIT = ROOT / "starting_kits" / "churn-spec"
SOLUTION_SPEC = (KIT / "solution" / "spec.md").read_text()
ITEMS = ("target", "horizon", "inputs", "metrics", "constraints", "consistency", "headings", "length")


@pytest.fixture(scope="module")
def rubric():
    load_module("churn_spec_spec", PROGRAM / "churn_spec_spec.py")
    return load_module("churn_spec_rubric", PROGRAM / "churn_spec_rubric.py")


@pytest.fixture(scope="module")
def spec_module(rubric):
    import sys
    return sys.modules["churn_spec_spec"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """prepare() of seeds 0 and 1 (tiny), and seed 0 at the small scale."""
    prepare = load_prepare(load_task(ROOT / "bundles" / "churn-spec"))
    root = tmp_path_factory.mktemp("churn")
    for name, scale, seed in (("seed0", "tiny", 0), ("seed1", "tiny", 1), ("seed0-small", "small", 0)):
        prepare(None, root / name, scale, seed)
    return root


def facts_of(prepared: Path, name: str = "seed0") -> dict:
    return json.loads((prepared / name / "private" / "facts.json").read_text())


def score_text(rubric, spec_module, text: str, facts: dict) -> tuple[dict, dict]:
    spec = spec_module.parse_spec(text)
    return rubric.score_spec(spec.block, spec.body, facts)


def run(tiny_bundle, tmp_path, text: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    return run_submission(tiny_bundle("churn-spec"), write_zip(tmp_path / "s.zip", {"spec.md": text}),
                          workdir=tmp_path / "run", log=quiet)


# --- whole submissions through the local worker -----------------------------------------------------

def test_solution_gets_full_marks_and_the_template_nothing(tiny_bundle, tmp_path):
    solution = run(tiny_bundle, tmp_path / "solution", SOLUTION_SPEC)
    assert solution.ok, solution.error
    assert all(solution.scores[item] == 1.0 for item in ITEMS) and solution.scores["score"] == pytest.approx(1.0)
    template = run(tiny_bundle, tmp_path / "template", (KIT / "sample_submission" / "spec.md").read_text())
    assert template.ok, template.error
    assert all(template.scores[item] == 0.0 for item in ITEMS) and template.scores["score"] == 0.0


def test_prose_that_disagrees_with_a_wrong_block(tiny_bundle, tmp_path):
    """The block says 200 ms and daily, the prose still says 150 ms and weekly: constraints and consistency drop."""
    text = SOLUTION_SPEC.replace("max_latency_ms: 150", "max_latency_ms: 200").replace(
        "retrain_cadence: weekly", "retrain_cadence: daily")
    result = run(tiny_bundle, tmp_path, text)
    assert result.ok, result.error
    assert result.scores["constraints"] == pytest.approx(1 / 3)
    assert result.scores["consistency"] == pytest.approx(5 / 7)
    assert result.scores["target"] == 1.0 and result.scores["inputs"] == 1.0
    assert result.scores["score"] == pytest.approx(1 - 0.15 * 2 / 3 - 0.1 * 2 / 7)


@pytest.mark.parametrize("text,message", [
    ("# ML spec\n\n## Problem\nno front matter\n", "spec.md, line 1: the file must start with the YAML front matter"),
    ("---\ntarget:\n  definition: churn: no session\n---\nbody\n",
     "spec.md, line 3: the front matter is not valid YAML: mapping values are not allowed here"),
    (SOLUTION_SPEC.replace("max_latency_ms: 150", 'max_latency_ms: "150 ms"'),
     "spec.md, line 25: front matter field 'constraints.max_latency_ms' must be a number"),
])
def test_malformed_spec_is_refused_with_file_line_and_field(tiny_bundle, tmp_path, text, message):
    result = run(tiny_bundle, tmp_path, text)
    assert not result.ok and result.scores is None
    assert message in result.error


def test_spec_in_a_folder_is_refused_with_a_hint(tiny_bundle, tmp_path):
    result = run_submission(tiny_bundle("churn-spec"), write_zip(tmp_path / "s.zip", {"mine/spec.md": SOLUTION_SPEC}),
                            workdir=tmp_path / "run", log=quiet)
    assert not result.ok and "no spec.md at its root (found mine/spec.md" in result.error


# --- the data ----------------------------------------------------------------------------------------

def test_every_scale_of_a_seed_gives_the_same_files_and_seeds_differ(prepared):
    def files(name):
        return {p.relative_to(prepared / name).as_posix(): p.read_bytes()
                for p in sorted((prepared / name).rglob("*")) if p.is_file()}

    assert files("seed0") == files("seed0-small")
    assert files("seed0").keys() == files("seed1").keys() and files("seed0") != files("seed1")
    facts, brief = facts_of(prepared), (prepared / "seed0" / "public" / "brief.md").read_text()
    for value in (facts["k"], facts["max_latency_ms"], facts["max_model_size_mb"], facts["target"]["window_days"]):
        assert re.search(rf"\b{value}\b", brief)
    schema = (prepared / "seed0" / "public" / "schema.yaml").read_text()
    assert facts["target"]["column"] in schema and facts["leaky"]["column"] in schema


def test_a_spec_written_for_another_seed_scores_low(rubric, spec_module, prepared):
    """Names cannot be guessed: the seed-0 solution against seed 1's schema names no real column."""
    scores, details = score_text(rubric, spec_module, SOLUTION_SPEC, facts_of(prepared, "seed1"))
    assert scores["inputs"] == 0.0 and details["inputs"]["real"] == 0
    assert not details["target"]["source_table"] and not details["target"]["source_column"]
    assert scores["score"] < 0.6


# --- the rubric items on hand-made specs -------------------------------------------------------------

def block_with_inputs(inputs):
    return {"inputs": inputs}


def test_inputs_item_penalises_invented_columns_and_leakage(rubric, prepared):
    facts = facts_of(prepared)
    table, columns = next(iter(facts["columns"].items()))
    real = [{"table": table, "columns": columns[:5]}]
    assert rubric.inputs_item(block_with_inputs(real), facts)[0] == 1.0
    points, details = rubric.inputs_item(block_with_inputs(real + [{"table": table, "columns": ["days_active"]}]), facts)
    assert points == pytest.approx(5 / 6) and details["invented"] == [f"{table}.days_active"]
    assert rubric.inputs_item(block_with_inputs([{"table": table, "columns": columns[:2]}]), facts)[0] == pytest.approx(0.4)
    # a real column under the wrong table is invented too
    other = next(t for t in facts["columns"] if t != table)
    assert rubric.inputs_item(block_with_inputs([{"table": other, "columns": columns[1:6]}]), facts)[0] < 1.0
    leaky = real + [{"table": facts["leaky"]["table"], "columns": [facts["leaky"]["column"]]}]
    assert rubric.inputs_item(block_with_inputs(leaky), facts)[0] == pytest.approx(0.5)
    assert rubric.inputs_item({}, facts)[0] == 0.0


@pytest.mark.parametrize("secondary,expected", [
    (["precision@750", "recall@750"], 1.0),
    (["Precision at 750", "recall_at_750"], 1.0),
    (["precision@k", "recall@k"], 2 / 3),  # k must be the brief's capacity
    (["precision@100"], 0.5),
    (["f1"], 1 / 3),
])
def test_metrics_item(rubric, prepared, secondary, expected):
    facts = dict(facts_of(prepared), k=750)
    points, _ = rubric.metrics_item({"metrics": {"primary": "roc-auc", "secondary": secondary}}, facts)
    assert points == pytest.approx(expected)
    assert rubric.metrics_item({"metrics": {"primary": "accuracy", "secondary": secondary}}, facts)[0] < points


def test_target_item_needs_the_column_and_the_window(rubric, prepared):
    facts = facts_of(prepared)
    planted = facts["target"]
    target = {"source_table": planted["table"], "source_column": planted["column"],
              "definition": f"no row in {planted['column']} for {planted['window_days']} consecutive days"}
    assert rubric.target_item({"target": target}, facts)[0] == 1.0
    vague = dict(target, definition="the user stops using the product")
    assert rubric.target_item({"target": vague}, facts)[0] == 0.5
    wrong_window = dict(target, definition=f"no row in {planted['column']} for {planted['window_days'] + 1} days")
    assert rubric.target_item({"target": wrong_window}, facts)[0] == 0.75


def test_headings_and_length(rubric):
    words = " ".join(["word"] * 20)
    body = "\n".join(f"## {h}\n{words}" for h in rubric.HEADINGS)
    assert rubric.headings_item(body)[0] == 1.0 and rubric.length_item(body)[0] == 1.0
    assert rubric.headings_item(body.replace("## Risks", "Risks"))[0] == pytest.approx(5 / 6)
    assert rubric.headings_item("## Target definition\ntext")[1]["Target"] is True
    assert rubric.length_item("short body")[0] == 0.0
    assert rubric.length_item(" ".join(["word"] * 1050))[0] == pytest.approx(0.5)
    assert rubric.length_item("\n".join(["two words"] * 200))[0] == 0.0  # 200 lines: far beyond a page


def test_wrong_types_name_the_field_path(spec_module):
    with pytest.raises(Exception) as raised:
        spec_module.parse_spec("---\ninputs:\n  - table: t\n    columns: a, b\n---\n")
    assert "spec.md, line 4: front matter field 'inputs[0].columns' must be a list" in str(raised.value)
    with pytest.raises(Exception) as raised:
        spec_module.parse_spec("---\nmetrics:\n  secondary: [precision@5, 3]\n---\n")
    assert "'metrics.secondary[1]' must be a text" in str(raised.value)
    assert spec_module.parse_spec("---\n---\n# empty\n").block == {}
