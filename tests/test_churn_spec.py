"""The churn-spec task: a spec is scored on the right claims it makes about its own brief and schema, where it
makes them; stuffing, tokens, pasted briefs and specs of another seed score low; malformed specs are refused.

tests/corpus/churn-spec/ holds specs written for the bundle's seed (0): `competent-*` and `paraphrased-*`
(correct, in different styles and words), `weak-*` (right but thin), `gaming-*` (written to the scorer, not
to the brief). Each runs through the real bundle's scoring program.
"""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bundlegen.data import load_prepare
from bundlegen.definition import load_task
from bundlegen.worker import run_submission
from conftest import ROOT, load_module, quiet, write_zip

PROGRAM = ROOT / "scoring_programs" / "churn_spec"
KIT = ROOT / "starting_kits" / "churn-spec"
CORPUS = ROOT / "tests" / "corpus" / "churn-spec"
SOLUTION_SPEC = (KIT / "solution" / "spec.md").read_text()
SOLUTION_BLOCK = SOLUTION_SPEC.split("\n---\n", 1)[0] + "\n---\n"
ITEMS = ("target", "leakage", "inputs", "metrics", "constraints", "risks", "structure")
KINDS = {"competent": "competent", "paraphrased": "competent", "weak": "weak", "gaming": "gaming"}


@pytest.fixture(scope="module")
def rubric():
    for name in ("churn_spec_text", "churn_spec_spec", "churn_spec_claims"):
        load_module(name, PROGRAM / f"{name}.py")
    return load_module("churn_spec_rubric", PROGRAM / "churn_spec_rubric.py")


@pytest.fixture(scope="module")
def spec_module(rubric):
    return sys.modules["churn_spec_spec"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """prepare() of seeds 0, 1 and 6 (a cancellation brief) at the tiny scale, and seed 0 at the small scale."""
    task = load_task(ROOT / "bundles" / "churn-spec")
    prepare = load_prepare(task)
    root = tmp_path_factory.mktemp("churn")
    for name, scale, seed in (("seed0", "tiny", 0), ("seed1", "tiny", 1), ("seed6", "tiny", 6),
                              ("seed0-small", "small", 0)):
        prepare(None, root / name, dict(task.model.scales[scale]), seed)
    return root


def facts_of(prepared: Path, name: str = "seed0") -> dict:
    return json.loads((prepared / name / "private" / "facts.json").read_text())


def score_text(rubric, spec_module, text: str, facts: dict) -> tuple[dict, dict]:
    spec = spec_module.parse_spec(text)
    return rubric.score_spec(spec.block, spec.body, facts)


def check(details: dict, item: str, prefix: str) -> float:
    """Points of the check of `item` whose name starts with `prefix`."""
    return next(c.points for c in details["items"][item].checks if c.name.startswith(prefix))


def run(tiny_bundle, tmp_path, text: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    return run_submission(tiny_bundle("churn-spec"), write_zip(tmp_path / "s.zip", {"spec.md": text}),
                          workdir=tmp_path / "run", log=quiet)


@pytest.fixture(scope="module")
def bundle_score(tiny_bundle, tmp_path_factory):
    """score(text) → scores.json of the built bundle's scoring program, run as the worker runs it."""
    root = tmp_path_factory.mktemp("churn-bundle")
    with zipfile.ZipFile(tiny_bundle("churn-spec")) as bundle:
        for member, folder in (("scoring_program.zip", "program"), ("reference_data.zip", "ref")):
            zipfile.ZipFile(io.BytesIO(bundle.read(member))).extractall(root / folder)

    def score(text: str, name: str) -> dict:
        job = root / name
        (job / "input" / "res").mkdir(parents=True)
        (job / "input" / "ref").symlink_to(root / "ref")
        (job / "input" / "res" / "spec.md").write_text(text)
        done = subprocess.run([sys.executable, "scoring.py", str(job / "input"), str(job / "output")],
                              cwd=root / "program", capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads((job / "output" / "scores.json").read_text())

    return score


# --- the corpus: ranks as a reviewer would --------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus_scores(bundle_score) -> dict[str, tuple[str, float]]:
    scores = {}
    for path in sorted(CORPUS.glob("*.md")):
        kind = KINDS[path.name.split("-")[0]]
        scores[path.name] = (kind, bundle_score(path.read_text(), path.stem)["score"])
    print("\n" + "\n".join(f"{name:36} {kind:9} {score:.3f}" for name, (kind, score) in scores.items()))
    return scores


def test_corpus_has_every_kind(corpus_scores):
    kinds = [kind for kind, _ in corpus_scores.values()]
    assert kinds.count("competent") >= 3 and kinds.count("weak") >= 1 and kinds.count("gaming") >= 4
    for name in ("gaming-lorem-tokens.md", "gaming-stuffing.md", "gaming-other-seed.md", "paraphrased-correct.md"):
        assert name in corpus_scores


def test_gaming_scores_below_weak_below_competent(corpus_scores):
    by_kind = {kind: {n: s for n, (k, s) in corpus_scores.items() if k == kind} for kind in set(KINDS.values())}
    gaming, weak, competent = by_kind["gaming"], by_kind["weak"], by_kind["competent"]
    assert max(gaming.values()) <= 0.3, gaming
    assert 0.3 < min(weak.values()) and max(weak.values()) < min(competent.values()), (weak, competent)
    assert min(competent.values()) >= 0.8, competent


def test_the_other_seed_spec_is_competent_for_its_own_seed(rubric, spec_module, prepared):
    """Its prose is good: it fails on seed 0 because every name and value is seed 1's, not because of its style."""
    text = (CORPUS / "gaming-other-seed.md").read_text()
    own, _ = score_text(rubric, spec_module, text, facts_of(prepared, "seed1"))
    assert own["score"] >= 0.8
    other, details = score_text(rubric, spec_module, text, facts_of(prepared))
    assert other["factor"] == 0.0 and other["score"] == 0.0 and "0% of the" in details["grounding"]


# --- whole submissions through the local worker -----------------------------------------------------

def test_solution_gets_full_marks_and_the_template_nothing(tiny_bundle, tmp_path):
    solution = run(tiny_bundle, tmp_path / "solution", SOLUTION_SPEC)
    assert solution.ok, solution.error
    assert all(solution.scores[item] == 1.0 for item in ITEMS) and solution.scores["score"] == pytest.approx(1.0)
    template = run(tiny_bundle, tmp_path / "template", (KIT / "sample_submission" / "spec.md").read_text())
    assert template.ok, template.error
    assert all(template.scores[item] == 0.0 for item in ITEMS) and template.scores["score"] == 0.0


def test_detailed_results_say_what_was_checked_and_why_points_were_lost(tiny_bundle, tmp_path):
    result = run(tiny_bundle, tmp_path, (CORPUS / "gaming-lorem-tokens.md").read_text())
    assert result.ok, result.error
    page = result.detailed_results.read_text()
    for text in ("retention_outcome_jq is listed among the inputs", "no sentence about the target states 14 days",
                 "bags of values", "front matter: yes; prose:"):
        assert text in page, text
    assert "<script" not in page and "http" not in page.split("<style>")[0]


@pytest.mark.parametrize("text,message", [
    ("# ML spec\n\n## Problem\nno front matter\n", "spec.md, line 1: the file must start with the YAML front matter"),
    ("---\ntarget:\n  definition: churn: no session\n---\nbody\n",
     "spec.md, line 3: the front matter is not valid YAML: mapping values are not allowed here"),
    (SOLUTION_SPEC.replace("max_latency_ms: 150", 'max_latency_ms: "150 ms"'),
     "spec.md, line 28: front matter field 'constraints.max_latency_ms' must be a number"),
    (SOLUTION_SPEC.replace("  - column: retention_outcome_jq\n", "  - column: [retention_outcome_jq]\n"),
     "spec.md, line 22: front matter field 'leakage[0].column' must be a text"),
    (SOLUTION_SPEC.replace("  - column: retention_outcome_jq\n    reason", "  - 3\n  - reason"),
     "spec.md, line 22: front matter field 'leakage[0]' must be a mapping {column, reason}"),
])
def test_malformed_spec_is_refused_with_file_line_and_field(tiny_bundle, tmp_path, text, message):
    result = run(tiny_bundle, tmp_path, text)
    assert not result.ok and result.scores is None
    assert message in result.error
    assert "Traceback" not in result.error


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
    for value in (facts["k"], facts["max_latency_ms"], facts["max_model_size_mb"], facts["target"]["window_days"],
                  f"{facts['churn_rate_pct']}%"):
        assert re.search(rf"\b{value}(?!\d)", brief)
    schema = (prepared / "seed0" / "public" / "schema.yaml").read_text()
    assert facts["target"]["column"] in schema and facts["leaky"]["column"] in schema
    assert facts["brief"] == brief and facts["user_key"] in schema
    assert set(facts["ids"]) < set(re.findall(r"\w+", schema))


def test_seed_0_keeps_its_names_and_facts(prepared):
    """Specs written for the bundle before the base rate was added still name the same schema."""
    facts = facts_of(prepared)
    assert (facts["target"]["table"], facts["target"]["column"], facts["leaky"]["column"]) == (
        "visits_rao", "started_at_a1", "retention_outcome_jq")
    assert (facts["k"], facts["max_latency_ms"], facts["max_model_size_mb"], facts["retrain_cadence"]) == (
        750, 150, 100, "weekly")


# --- paraphrases: natural wording keeps its points, wrong claims lose them --------------------------

def body_with(section: str, sentence: str) -> str:
    """The solution's front matter and a body of one section holding `sentence`."""
    return f"{SOLUTION_BLOCK}\n# Spec\n\n## {section}\n\n{sentence}\n"


@pytest.mark.parametrize("sentence,handled", [
    ("We do not use retention_outcome_jq because it leaks the outcome.", True),
    ("retention_outcome_jq is filled in only after the user has left, so it is excluded.", True),
    ("Excluding retention_outcome_jq avoids label leakage.", True),
    ("retention_outcome_jq would leak the target and is never used as a feature.", True),
    ("The retention outcome column cannot be known at prediction time, so we drop it.", True),
    ("`retention_outcome_jq` is written once the customer is gone: a leak, so it is not an input.", True),
    ("retention_outcome_jq is a strong predictor, but we cannot use it because it leaks.", True),
    ("We drop retention_outcome_jq; without it there is no leakage.", True),
    ("Don't use retention_outcome_jq — it is only filled after churn.", True),
    ("retention_outcome_jq is not a leak.", False),
    ("retention_outcome_jq does not leak and is a useful feature.", False),
    ("We use retention_outcome_jq as a feature.", False),
    ("There is no leakage risk in retention_outcome_jq.", False),
    ("retention_outcome_jq is safe to use.", False),
])
def test_leak_paraphrases_and_negations(rubric, spec_module, prepared, sentence, handled):
    _, details = score_text(rubric, spec_module, body_with("Notes", sentence), facts_of(prepared))
    assert check(details, "leakage", "retention_outcome_jq named") == (1.0 if handled else 0.0)


def test_a_column_listed_under_a_leakage_heading_is_called_a_leak(rubric, spec_module, prepared):
    _, details = score_text(rubric, spec_module, body_with("Leakage", "- retention_outcome_jq"), facts_of(prepared))
    assert check(details, "leakage", "retention_outcome_jq named") == 1.0
    _, details = score_text(rubric, spec_module, body_with("Inputs", "- retention_outcome_jq"), facts_of(prepared))
    assert check(details, "leakage", "retention_outcome_jq named") == pytest.approx(0.3)  # the block alone


@pytest.mark.parametrize("sentence,expected", [
    ("A user churns after 14 consecutive days without a session.", 1.0),
    ("Churn means fourteen days in a row with no session.", 1.0),
    ("A user who opens no session for two weeks has churned.", 1.0),
    ("A fortnight without any session counts as churn.", 1.0),
    ("Churn = 14+ consecutive days with zero sessions.", 1.0),
    ("A user churns after 7 days without a session.", 0.0),  # a wrong window voids the block's share too
    ("A user churns after 7, 10, 14, 21 or 28 days without a session.", 0.0),  # wrong ones, and none claimed
])
def test_window_paraphrases(rubric, spec_module, prepared, sentence, expected):
    _, details = score_text(rubric, spec_module, body_with("Target", sentence), facts_of(prepared))
    assert check(details, "target", "the 14-day churn window") == pytest.approx(expected)


@pytest.mark.parametrize("prefix,sentence,expected", [
    ("latency", "Each prediction is served in at most 150 ms.", 1.0),
    ("latency", "p99 latency stays below 150 milliseconds.", 1.0),
    ("latency", "The API answers within 0.15 s.", 1.0),
    ("latency", "A hundred and fifty ms per request at most.", 1.0),
    ("latency", "The API answers within 200 ms.", 0.0),
    ("model size", "The model must fit in 100 MB.", 1.0),
    ("model size", "The artefact weighs at most 0.1 GB.", 1.0),
    ("model size", "Model size: one hundred megabytes.", 1.0),
    ("retrain cadence", "The model is retrained weekly.", 1.0),
    ("retrain cadence", "We refresh the model once a week.", 1.0),
    ("retrain cadence", "Retraining happens every week, not daily.", 1.0),
    ("retrain cadence", "The model is retrained daily.", 0.0),
    ("retrain cadence", "The team contacts users weekly.", 0.3),  # not about retraining: the block alone
])
def test_constraint_paraphrases(rubric, spec_module, prepared, prefix, sentence, expected):
    _, details = score_text(rubric, spec_module, body_with("Constraints", sentence), facts_of(prepared))
    assert check(details, "constraints", prefix) == pytest.approx(expected)


@pytest.mark.parametrize("sentence,expected", [
    ("About 6% of users churn in a month.", 1.0),
    ("Only six percent of active users churn each month.", 1.0),
    ("The churn rate is 0.06.", 1.0),
    ("Roughly 1 in 17 users churns.", 1.0),
    ("Churners are a small minority, so the classes are imbalanced.", 1.0),
    ("The churn rate is 30%.", 0.0),
    ("The classes are balanced.", 0.0),
])
def test_base_rate_paraphrases(rubric, spec_module, prepared, sentence, expected):
    _, details = score_text(rubric, spec_module, body_with("Metrics", sentence), facts_of(prepared))
    assert check(details, "metrics", "class imbalance") == expected


@pytest.mark.parametrize("metric,sentence,expected", [
    ("precision", "We report precision at the top 750.", 1.0),
    ("precision", "The hit rate among the 750 users contacted each week.", 1.0),
    ("precision", "Precision in the top seven hundred and fifty.", 1.0),
    ("precision", "We report precision at the top 500.", 0.3),
    ("recall", "recall@750 for the weekly list.", 1.0),
    ("recall", "The share of all churners caught in the top 750.", 1.0),
    ("recall", "We track how many churners we reach.", 0.3),
    ("recall", "Optimise for AUC; report precision and recall at k=750.", 1.0),
])
def test_at_k_paraphrases(rubric, spec_module, prepared, metric, sentence, expected):
    _, details = score_text(rubric, spec_module, body_with("Metrics", sentence), facts_of(prepared))
    assert check(details, "metrics", f"{metric}@750") == pytest.approx(expected)


@pytest.mark.parametrize("item,prefix,sentence,expected", [
    ("metrics", "time-based", "Models are validated on a time-based hold-out month.", 1.0),
    ("metrics", "time-based", "We train on earlier months and evaluate on the most recent one.", 1.0),
    ("metrics", "time-based", "Evaluation uses an out-of-time split.", 1.0),
    ("metrics", "time-based", "We hold out the last 4 weeks for validation and train on everything before.", 1.0),
    ("metrics", "time-based", "We evaluate on a random 20% split.", 0.0),
    ("leakage", "features only", "Features are built from data up to the cutoff only.", 1.0),
    ("leakage", "features only", "Features only use data up to the scoring date.", 1.0),
    ("leakage", "features only", "Every feature is computed as of the prediction date.", 1.0),
    ("leakage", "features only", "All inputs are point-in-time snapshots.", 1.0),
    ("leakage", "features only", "We use all the data we have.", 0.0),
])
def test_validation_and_point_in_time_paraphrases(rubric, spec_module, prepared, item, prefix, sentence, expected):
    _, details = score_text(rubric, spec_module, body_with("Notes", sentence), facts_of(prepared))
    assert check(details, item, prefix) == expected


@pytest.mark.parametrize("sentence,expected", [
    ("A paused subscription does not count as churn.", 1.0),
    ("A user who re-activates within 14 days has not churned.", 1.0),
    ("Paused users churn.", 0.0),
])
def test_fine_print_of_a_cancellation_brief(rubric, spec_module, prepared, sentence, expected):
    facts = facts_of(prepared, "seed6")
    assert facts["target"]["variant"] == "cancellation"
    _, details = score_text(rubric, spec_module, body_with("Target", sentence), facts)
    assert check(details, "target", "the rule's fine print") == expected


# --- what is not a claim --------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "## Target\n\n30 days 14 days 150 ms 100 MB weekly ROC AUC precision@750 recall@750 started_at_a1\n",
    "## Target\n\n<!-- A user churns after 14 consecutive days without a session. -->\n",
    "## Target\n\n```\nA user churns after 14 consecutive days without a session.\n```\n",
    "## Target\n\nchurn, label, no session, 14 days, consecutive, horizon, inactivity\n",
])
def test_tokens_comments_code_and_keyword_lists_claim_nothing(rubric, spec_module, prepared, body):
    _, details = score_text(rubric, spec_module, f"{SOLUTION_BLOCK}\n{body}", facts_of(prepared))
    assert check(details, "target", "the 14-day churn window") == pytest.approx(0.3)  # the block's share only


def test_a_pasted_brief_claims_nothing_but_a_quoted_definition_counts(rubric, spec_module, prepared):
    facts = facts_of(prepared)
    pasted, _ = score_text(rubric, spec_module, (CORPUS / "gaming-pasted-brief.md").read_text(), facts)
    assert pasted["target"] < 0.3 and pasted["constraints"] < 0.5
    definition = next(line for line in facts["brief"].splitlines() if "churned" in line)
    _, details = score_text(rubric, spec_module, SOLUTION_SPEC.replace(
        "Binary label per user and scoring date.", definition.split(".**", 1)[1].strip()), facts)
    assert check(details, "target", "the 14-day churn window") == 1.0


def test_stuffing_multiplies_the_score(rubric, spec_module, prepared):
    facts = facts_of(prepared)
    every = ", ".join(c for cs in facts["columns"].values() for c in cs)
    scores, details = score_text(rubric, spec_module, SOLUTION_SPEC + f"\nEvery column may leak: {every}.\n", facts)
    assert scores["factor"] == pytest.approx(0.3) and any("called leaks" in s for s in details["stuffing"])
    cutoffs = SOLUTION_SPEC.replace("[precision@750, recall@750]", "[precision@200, precision@250, precision@400, "
                                    "precision@500, precision@750, precision@1000, recall@750]")
    assert score_text(rubric, spec_module, cutoffs, facts)[0]["factor"] == pytest.approx(0.3)


def test_prose_disagreeing_with_a_wrong_block(rubric, spec_module, prepared):
    """The block says 200 ms and daily, the prose 150 ms and weekly: the prose's share stands, the block's does not."""
    text = SOLUTION_SPEC.replace("max_latency_ms: 150", "max_latency_ms: 200").replace(
        "retrain_cadence: weekly", "retrain_cadence: daily")
    scores, _ = score_text(rubric, spec_module, text, facts_of(prepared))
    assert scores["constraints"] == pytest.approx((0.7 + 1 + 0.7) / 3)
    assert scores["target"] == 1.0 and scores["inputs"] == 1.0


def test_inputs_item_penalises_invented_columns(rubric, spec_module, prepared):
    facts = facts_of(prepared)
    table = "accounts_bag"
    invented = SOLUTION_SPEC.replace("marketing_opt_in_yj]", "marketing_opt_in_yj, days_active]")
    _, details = score_text(rubric, spec_module, invented, facts)
    assert check(details, "inputs", "inputs in the front matter") == pytest.approx(22 / 23)
    assert f"{table}.days_active" in details["items"]["inputs"].checks[0].note


def test_wrong_types_name_the_field_path(spec_module):
    with pytest.raises(Exception) as raised:
        spec_module.parse_spec("---\ninputs:\n  - table: t\n    columns: a, b\n---\n")
    assert "spec.md, line 4: front matter field 'inputs[0].columns' must be a list" in str(raised.value)
    with pytest.raises(Exception) as raised:
        spec_module.parse_spec("---\nmetrics:\n  secondary: [precision@5, 3]\n---\n")
    assert "'metrics.secondary[1]' must be a text" in str(raised.value)
    assert spec_module.parse_spec("---\n---\n# empty\n").block == {}
    assert spec_module.leakage_entries(spec_module.parse_spec("---\nleakage: [a_b, {column: c_d}]\n---\n").block) == [
        ("a_b", ""), ("c_d", "")]


def test_a_huge_body_is_read_in_bounded_time(rubric, spec_module, prepared):
    import time
    facts = facts_of(prepared)
    started = time.monotonic()
    for filler in ("1, " * 40_000, "<!--" * 30_000, "seven " * 20_000, "retention_outcome_jq leaks " * 8_000):
        score_text(rubric, spec_module, SOLUTION_BLOCK + "\n## Target\n" + filler, facts)
    assert time.monotonic() - started < 20
