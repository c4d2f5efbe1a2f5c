"""The rubric of the churn-spec task: pure functions of the parsed spec and the planted facts.

Every check asks whether the spec makes a right claim about this task's data, and where: a value that is right
in the front matter only earns BLOCK_SHARE of its check (it is transcribed, not argued); the rest needs a unit of
the body about that subject that says it. Claims that are wrong cost points, and a spec that stuffs (names most
columns as leaks, lists most cutoffs or metrics, states several windows or values for one fact) is multiplied by
STUFFING_FACTOR; one whose names are not this schema's (written for another seed) by its share of real names.
The weights and every check are on the Evaluation page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from churn_spec_claims import (AT_CUTOFF, CADENCES, EVENT_CUES, POINT_IN_TIME, PRECISION, PRIMARY_CUE, RANKING,
                               RECALL, RETRAIN_CUE, TIME_SPLIT, VALIDATION_CUE, Names, Reading, at_k_units,
                               base_rate_units, cadences_in, families_in, horizon_units, leak_claims, metric_units,
                               nuance_units, risk_themes, target_units, window_claims)
from churn_spec_spec import get, leakage_entries
from churn_spec_text import (Unit, durations, is_keyword_list, is_prose, megabytes, milliseconds, normalise,
                             read_sections, same, words)
from programlib.scoring import overall

WEIGHTS = {"target": 0.2, "leakage": 0.2, "inputs": 0.15, "metrics": 0.15, "constraints": 0.1, "risks": 0.1,
           "structure": 0.1}
HEADINGS = {"Problem": "problem", "Target": "target", "Inputs": "inputs", "Metrics": "metrics",
            "Constraints": "constraints", "Risks": "risks"}
BLOCK_SHARE = 0.3  # a right value in the front matter alone: transcribed from the brief, not shown understood
STUFFING_FACTOR = 0.3  # a spec that claims everything says nothing a reviewer can use
GROUNDING_FULL = 0.5  # below this share of real schema names, the spec is about some other schema
FREE_WRONG_LEAKS = 3  # a cautious spec may flag a few innocent columns; beyond, each costs a quarter
MIN_INPUT_COLUMNS, MIN_INPUT_ROLES, MIN_RISK_THEMES = 5, 3, 3
MAX_WORDS, MAX_LINES, MIN_WORDS = 700, 90, 80
INPUT_CUE = re.compile(r"feature|input|signal|predictor|derived|computed from|aggregat")
ROLE_WORDS = {
    "accounts": r"account|sign-?up|tenure|country|plan tier|acquisition|acquired|opt-?in|demograph|birth|\bage\b",
    "sessions": r"session|visit|activity|usage|engagement|recency|frequency|device|screen|log(?:ged)?[\s-]?in|"
                r"opened the app|app opens|last seen",
    "subscriptions": r"subscri|billing|paus|cancel|renew|price|downgrade|upgrade",
    "payments": r"payment|charge|invoice|failed|refund|amount|dunning|card",
    "support": r"support|ticket|help[\s-]?desk|help request|complain|satisf|happy|csat|nps\b|contact request",
    "campaigns": r"campaign|marketing|e-?mail|push|sms|message|newsletter",
}
# What a section under each required heading must speak of to count as written (filler text does not)
SUBSTANCE = {
    "problem": r"churn|retention|contact|capacity|rank|users|customers|\d",
    "target": r"churn|label|session|cancel|inactiv|\d+ days?",
    "inputs": "|".join(ROLE_WORDS.values()),
    "metrics": r"auc|precision|recall|roc|average precision|lift|@",
    "constraints": r"\d+(?:\.\d+)? ?(?:ms|mb|gb|s\b|seconds?|milliseconds?)|daily|weekly|monthly|retrain",
    "risks": r"leak|drift|season|shift|feedback|intervention|imbalanc|cold|new users|missing|privacy|fair|bias|delay",
}


@dataclass
class Check:
    name: str
    share: float  # of its item
    points: float  # in [0, 1]
    note: str  # what was found, or why points were lost


@dataclass
class Item:
    checks: list[Check]
    stuffing: list[str] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(check.share * check.points for check in self.checks)


@dataclass
class Context:
    block: dict
    reading: Reading
    names: Names
    facts: dict


def quote(unit: Unit) -> str:
    text = unit.text if len(unit.text) <= 110 else unit.text[:107] + "..."
    return f'"{text}" ({unit.heading or "before the first heading"})'


def claim(name: str, share: float, block_ok: bool, prose: list[Unit], missing: str,
          contradiction: str | None = None) -> Check:
    """BLOCK_SHARE for the front matter, the rest for a unit of prose about it; a contradiction voids both."""
    if contradiction:
        return Check(name, share, 0.0, contradiction)
    points = BLOCK_SHARE * block_ok + (1 - BLOCK_SHARE) * bool(prose)
    said = f"prose: {quote(prose[0])}" if prose else f"prose: {missing}"
    return Check(name, share, points, f"front matter: {'yes' if block_ok else 'no'}; {said}")


def prose_check(name: str, share: float, prose: list[Unit], missing: str) -> Check:
    return Check(name, share, float(bool(prose)), f"{quote(prose[0])}" if prose else missing)


# --- target ------------------------------------------------------------------------------------------

def target_item(ctx: Context) -> Item:
    facts, planted = ctx.facts, ctx.facts["target"]
    block = ctx.block.get("target") or {}
    definition = block.get("definition") or ""
    units = target_units(ctx.reading, facts)
    window, horizon = planted["window_days"], facts["horizon_days"]
    source = [u for u in units if planted["column"] in ctx.names.columns_in(u.norm)
              or any(ctx.names.tables.get(t) == planted["table"] for t in re.findall(r"[a-z][a-z0-9_]+", u.norm))]
    event = EVENT_CUES[planted["variant"]]
    right_window, wrong_windows = window_claims(units, facts)
    stated = durations_of(definition)
    candidates = set(facts.get("candidates", {}).get("window_days", [])) - {window, horizon}
    block_window = any(same(d, window) for d in stated) and len(candidates & set(stated)) <= 1
    contradiction = None
    if wrong_windows and not right_window:
        contradiction = f"the prose gives the churn window as {days(wrong_windows)}; the brief says {window} days"
    checks = [
        claim("source table and column of the churn event", 0.2, block.get("source_table") == planted["table"]
              and block.get("source_column") == planted["column"], source,
              f"no sentence about the target names {planted['column']} or {planted['table']}"),
        claim("the churn event", 0.2, bool(event.search(normalise(definition))),
              [u for u in units if event.search(u.norm)],
              f"no sentence about the target says what the churn event is ({planted['variant']})"),
        claim(f"the {window}-day churn window", 0.25, block_window, right_window,
              f"no sentence about the target states {window} days", contradiction),
        claim(f"the {horizon}-day horizon", 0.2, get(ctx.block, "target.horizon_days") == horizon,
              horizon_units(ctx.reading, horizon), f"no sentence about the target states the {horizon}-day horizon"),
        prose_check("the rule's fine print", 0.15, nuance_units(units, facts), fine_print_missing(planted["variant"])),
    ]
    stuffing = [f"the target's prose states {len(wrong_windows)} wrong windows ({days(wrong_windows)})"] \
        if len(wrong_windows) >= 3 else []
    return Item(checks, stuffing)


def durations_of(text: str) -> list[float]:
    return durations(normalise(text))


def days(values) -> str:
    return ", ".join(f"{value:g} days" for value in sorted(values))


def fine_print_missing(variant: str) -> str:
    if variant == "cancellation":
        return "nothing says that a paused subscription is not churn, or that re-activating undoes a cancellation"
    return "nothing says the inactive days are consecutive, or that a session in the app or on the web counts"


# --- leakage -----------------------------------------------------------------------------------------

def wrong_leaks(ctx: Context, claimed: dict) -> list[str]:
    """Columns claimed to leak that do not (the churn event's own column is a fair worry, not a wrong claim)."""
    claimed = {**leak_claims(ctx.reading.lists, ctx.names), **claimed}  # a list of columns under Leakage counts here
    blocked = {column for column, _ in leakage_entries(ctx.block)}
    said = {column for column, polarity in claimed.items() if "leaky" in polarity}  # with a reason: a claim
    fair = {ctx.facts["leaky"]["column"], ctx.facts["target"]["column"], ctx.facts.get("user_key")}
    fair |= set(ctx.facts.get("ids", []))  # dropping an id is harmless, whatever the reason given
    real = {c for cs in ctx.facts["columns"].values() for c in cs}
    return sorted((said | (blocked & real)) - fair)


def leak_named_check(ctx: Context, claimed: dict, wrong: list[str]) -> Check:
    leaky = ctx.facts["leaky"]["column"]
    said = claimed.get(leaky, {})
    in_block = any(column == leaky for column, _ in leakage_entries(ctx.block))
    name = f"{leaky} named as a leak"
    if leaky in input_columns(ctx.block):
        return Check(name, 0.5, 0.0, f"{leaky} is listed among the inputs: the model would learn from the outcome")
    if "safe" in said:
        return Check(name, 0.5, 0.0, f"the prose says {leaky} is safe or used: {quote(said['safe'])}")
    prose = [said[p] for p in ("leaky", "excluded") if p in said]
    check = claim(name, 0.5, in_block, prose, f"no sentence says {leaky} leaks the outcome and is not used")
    if "leaky" not in said and "excluded" in said:  # excluded, but no reason given anywhere near
        check.points -= (1 - BLOCK_SHARE) / 2
        check.note += " (excluded without saying why: half)"
    if len(wrong) > FREE_WRONG_LEAKS:
        check.points *= max(0.0, 1 - (len(wrong) - FREE_WRONG_LEAKS) / 4)
        check.note += f"; {len(wrong)} other columns also called leaks: {', '.join(wrong[:8])}"
    return check


def leakage_item(ctx: Context) -> Item:
    claimed = leak_claims(ctx.reading.units, ctx.names)
    leaky = ctx.facts["leaky"]["column"]
    wrong = wrong_leaks(ctx, claimed)
    inputs = input_columns(ctx.block)
    used = leaky in inputs or "safe" in claimed.get(leaky, {})
    checks = [
        leak_named_check(ctx, claimed, wrong),
        Check(f"{leaky} not an input", 0.2, float(bool(inputs) and not used),
              "no inputs listed" if not inputs else f"{leaky} is used" if used else "not among the inputs"),
        prose_check("features only from data before the scoring date", 0.3,
                    [u for u in ctx.reading.units if POINT_IN_TIME.search(u.norm)],
                    "nothing says features are computed only from data known at the scoring date"),
    ]
    feature_columns = sum(len(cs) for cs in ctx.facts["columns"].values()) - len(ctx.facts["columns"])
    stuffed = len(wrong) >= max(5, 0.4 * feature_columns)
    return Item(checks, [f"{len(wrong)} columns that do not leak are called leaks"] if stuffed else [])


# --- inputs ------------------------------------------------------------------------------------------

def input_pairs(block: dict) -> list[tuple[str, str]]:
    return [(entry.get("table") or "", column) for entry in block.get("inputs") or [] for column in
            entry.get("columns") or []]


def input_columns(block: dict) -> set[str]:
    return {column for _, column in input_pairs(block)}


def inputs_block_check(ctx: Context) -> Check:
    pairs, schema = input_pairs(ctx.block), ctx.facts["columns"]
    real = {pair for pair in pairs if pair[1] in schema.get(pair[0], [])}
    invented = [f"{t}.{c}" for t, c in dict.fromkeys(pairs) if (t, c) not in real]
    not_features = set(ctx.facts.get("ids", [])) | {ctx.facts.get("user_key")}
    features = {pair for pair in real if pair[1] not in not_features}
    points = len(real) / len(set(pairs)) * min(1.0, len(features) / MIN_INPUT_COLUMNS) if pairs else 0.0
    note = f"{len(real)} of {len(set(pairs))} named columns exist, {len(features)} of them features (not ids)"
    return Check("inputs in the front matter exist in the schema", BLOCK_SHARE, points,
                 note + (f"; invented: {', '.join(invented[:8])}" if invented else ""))


def inputs_prose_check(ctx: Context) -> Check:
    roles = set(ctx.facts.get("roles", {}).values())
    found: dict[str, Unit] = {}
    units = [u for u in ctx.reading.units + ctx.reading.lists if u.topics & {"inputs"} or INPUT_CUE.search(u.norm)]
    for unit in units:
        if len(words(unit.norm)) < 3:  # a list of names is the block again, not a description
            continue
        prose = is_prose(unit) and not is_keyword_list(unit)
        named = named_roles(ctx, unit, exact=not prose)
        described = [role for role in roles if role in named or re.search(ROLE_WORDS[role], unit.norm)]
        if not prose:  # words in a list describe the one table they name exactly, if any
            described = [role for role in described if role in named][:1]
        for role in described:
            found.setdefault(role, unit)
    points = min(1.0, len(found) / MIN_INPUT_ROLES)
    note = (f"tables described: {', '.join(sorted(found))}" if found else
            "no sentence about the inputs describes what is taken from which table")
    return Check(f"inputs described in prose (at least {MIN_INPUT_ROLES} tables)", 1 - BLOCK_SHARE, points, note)


def named_roles(ctx: Context, unit: Unit, exact: bool) -> set[str]:
    """Roles of the tables a unit names: by a table's or a column's exact name, or (in prose) a table's base name."""
    roles, tables = ctx.facts.get("roles", {}), ctx.names.tables
    owner = {c: t for t, cs in ctx.facts["columns"].items() for c in cs if c != ctx.facts.get("user_key")}
    found = set()
    for token in re.findall(r"[a-z][a-z0-9_]+", unit.norm):
        table = token if token in roles else owner.get(token) if exact else tables.get(token, owner.get(token))
        found.add(roles.get(table))
    return found - {None}


def inputs_item(ctx: Context) -> Item:
    return Item([inputs_block_check(ctx), inputs_prose_check(ctx)])


# --- metrics -----------------------------------------------------------------------------------------

def block_cutoffs(block: dict, metric: str) -> set[str]:
    found = set()
    for text in get(block, "metrics.secondary") or []:
        match = AT_CUTOFF.fullmatch(text.lower().strip())
        if match and match.group(0).startswith(metric):
            found.add(match.group(1))
    return found


def at_k_check(ctx: Context, units: list[Unit], metric: str, pattern: re.Pattern) -> tuple[Check, list[str]]:
    k = ctx.facts["k"]
    cutoffs = block_cutoffs(ctx.block, metric)
    prose, others = at_k_units(units, pattern, k)
    check = claim(f"{metric}@{k}", 0.2, str(k) in cutoffs, prose, f"no sentence about metrics gives {metric} at {k}")
    if str(k) not in cutoffs and cutoffs:  # another cutoff, or a literal k: half of the front matter's share
        check.points += BLOCK_SHARE / 2
        check.note += f" (front matter cutoff {', '.join(sorted(cutoffs))}: half)"
    wrong_candidates = others & set(ctx.facts.get("candidates", {}).get("k", []))
    stuffing = []
    if len(cutoffs - {str(k), "k"}) >= 3 or len(wrong_candidates) >= 3:
        stuffing.append(f"{metric} is given at {len(cutoffs | {str(o) for o in others})} cutoffs")
    return check, stuffing


def primary_check(ctx: Context, units: list[Unit]) -> tuple[Check, list[str]]:
    families = families_in((get(ctx.block, "metrics.primary") or "").lower())
    block_ok = bool(families) and set(families) <= RANKING  # 'ROC AUC (PR AUC to break ties)' is still one choice
    prose = [u for u in units if set(families_in(u.norm)) & RANKING and
             (PRIMARY_CUE.search(u.norm) or set(families_in(u.norm)) & set(families))]
    check = claim("primary metric ranks users (ROC AUC, PR AUC, average precision)", 0.25, block_ok, prose,
                  "no sentence about metrics names a ranking metric as the primary one")
    return check, ([f"the primary metric names {len(families)} metrics"] if len(families) >= 3 else [])


def imbalance_check(ctx: Context) -> Check:
    rate = ctx.facts.get("churn_rate_pct", 0) / 100
    right, wrong = base_rate_units(ctx.reading, rate)
    listed = families_in(" ".join([get(ctx.block, "metrics.primary") or ""] +
                                  list(get(ctx.block, "metrics.secondary") or [])).lower())
    name = "class imbalance taken into account"
    if "accuracy" in listed:
        return Check(name, 0.15, 0.0, f"accuracy is a listed metric: with {rate:.0%} churn it rewards predicting "
                                      "that nobody churns")
    if wrong and not right:
        return Check(name, 0.15, 0.0, f"a wrong base rate: {quote(wrong[0])}; the brief says {rate:.0%}")
    return prose_check(name, 0.15, right, f"nothing says churners are rare (about {rate:.0%} of users)")


def metrics_item(ctx: Context) -> Item:
    units = metric_units(ctx.reading)
    primary, stuffing = primary_check(ctx, units)
    precision, more = at_k_check(ctx, units, "precision", PRECISION)
    recall, most = at_k_check(ctx, units, "recall", RECALL)
    split = [u for u in ctx.reading.units if TIME_SPLIT.search(u.norm)
             and ("metrics" in u.topics or VALIDATION_CUE.search(u.norm))]
    checks = [primary, precision, recall, imbalance_check(ctx),
              prose_check("time-based validation", 0.2, split, "nothing says models are validated on a later period "
                                                                 "than they are trained on")]
    secondary = get(ctx.block, "metrics.secondary") or []
    if len(secondary) >= 6:
        stuffing.append(f"{len(secondary)} secondary metrics")
    return Item(checks, stuffing + more + most)


# --- constraints -------------------------------------------------------------------------------------

def value_check(ctx: Context, field_name: str, label: str, read, unit_word: str) -> tuple[Check, list[str]]:
    expected = ctx.facts[field_name]
    candidates = set(ctx.facts.get("candidates", {}).get(field_name, [])) - {expected}
    right, wrong = [], set()
    for unit in ctx.reading.units:
        stated = read(unit.norm)
        others = {c for c in candidates if any(same(v, c, 0.03) for v in stated)}
        right += [unit] if any(same(v, expected, 0.03) for v in stated) and len(others) <= 1 else []
        wrong |= others
    contradiction = (f"the prose gives the {label} as {', '.join(f'{w:g} {unit_word}' for w in sorted(wrong))}; "
                     f"the brief says {expected} {unit_word}") if wrong and not right else None
    check = claim(f"{label}: {expected} {unit_word}", 1 / 3, get(ctx.block, f"constraints.{field_name}") == expected,
                  right, f"no sentence states {expected} {unit_word}", contradiction)
    return check, ([f"the {label} is given as {len(wrong) + bool(right)} values"] if len(wrong) >= 3 else [])


def cadence_check(ctx: Context) -> Check:
    expected = ctx.facts["retrain_cadence"]
    block_ok = cadences_in(normalise(get(ctx.block, "constraints.retrain_cadence") or "")) == {expected}
    units = [u for u in ctx.reading.units if RETRAIN_CUE.search(u.norm)]
    right = [u for u in units if expected in cadences_in(u.norm) and len(cadences_in(u.norm)) < len(CADENCES)]
    wrong = {c for u in units for c in cadences_in(u.norm)} - {expected}
    contradiction = (f"the prose says the model is retrained {', '.join(sorted(wrong))}; the brief says {expected}"
                     if wrong and not right else None)
    return claim(f"retrain cadence: {expected}", 1 / 3, block_ok, right,
                 f"no sentence about retraining says {expected}", contradiction)


def constraints_item(ctx: Context) -> Item:
    latency, stuffed = value_check(ctx, "max_latency_ms", "latency", milliseconds, "ms")
    size, more = value_check(ctx, "max_model_size_mb", "model size", megabytes, "MB")
    return Item([latency, size, cadence_check(ctx)], stuffed + more)


# --- risks and structure -----------------------------------------------------------------------------

def risks_item(ctx: Context) -> Item:
    themes = risk_themes(ctx.reading)
    note = "; ".join(f"{theme}: {quote(unit)}" for theme, unit in themes.items()) or "no risk is discussed"
    return Item([Check(f"risks discussed (at least {MIN_RISK_THEMES} kinds)", 1.0,
                       min(1.0, len(themes) / MIN_RISK_THEMES), note)])


def length_points(body_words: int, lines: int) -> float:
    if body_words < MIN_WORDS:  # a stub is not a one-page spec
        return 0.0
    excess = max(body_words / MAX_WORDS, lines / MAX_LINES)
    return 1.0 if excess <= 1 else max(0.0, 2.0 - excess)


def structure_item(ctx: Context, body: str) -> Item:
    counted = {id(unit) for unit in ctx.reading.units}
    present = {name: any(topic in s.topics and any(id(u) in counted and is_prose(u) and re.search(SUBSTANCE[topic],
                                                                                                  u.norm)
                                                   for u in s.units) for s in ctx.reading.sections)
               for name, topic in HEADINGS.items()}
    missing = [name for name, found in present.items() if not found]
    body_words = len(re.findall(r"\S+", body))
    lines = len(body.strip().splitlines()) if body.strip() else 0
    return Item([
        Check("headings with prose under each", 0.7, sum(present.values()) / len(HEADINGS),
              f"missing or without a sentence of prose: {', '.join(missing)}" if missing else "all six"),
        Check("one page", 0.3, length_points(body_words, lines), f"{body_words} words, {lines} lines"),
    ])


# --- the whole -------------------------------------------------------------------------------------

def grounding(ctx: Context) -> tuple[float, str]:
    """Share of the front matter's schema names that are this schema's; a spec for another seed has none."""
    schema = ctx.facts["columns"]
    columns = {c for cs in schema.values() for c in cs}
    named = [get(ctx.block, "target.source_table"), get(ctx.block, "target.source_column")]
    named += [c for _, c in input_pairs(ctx.block)] + [t for t, _ in input_pairs(ctx.block)]
    named += [column for column, _ in leakage_entries(ctx.block)]
    named = [n for n in named if isinstance(n, str) and n]
    if not named:
        return 1.0, "the front matter names no table or column"
    real = sum(n in schema or n in columns for n in named) / len(named)
    note = f"{real:.0%} of the {len(named)} names in the front matter are in schema.yaml"
    return min(1.0, real / GROUNDING_FULL), note


def score_spec(block: dict, body: str, facts: dict) -> tuple[dict[str, float], dict]:
    names = Names.of(facts)
    ctx = Context(block, Reading.of(read_sections(body), names, facts.get("brief", "")), names, facts)
    items = {"target": target_item(ctx), "leakage": leakage_item(ctx), "inputs": inputs_item(ctx),
             "metrics": metrics_item(ctx), "constraints": constraints_item(ctx), "risks": risks_item(ctx),
             "structure": structure_item(ctx, body)}
    points = {key: round(min(1.0, max(0.0, item.points)), 6) for key, item in items.items()}
    stuffing = [reason for item in items.values() for reason in item.stuffing]
    grounded, grounding_note = grounding(ctx)
    factor = grounded * (STUFFING_FACTOR if stuffing else 1.0)
    scores = {**points, "factor": factor, "score": round(overall(points, WEIGHTS) * factor, 6)}
    details = {"items": items, "stuffing": stuffing, "grounding": grounding_note, "bags": ctx.reading.bags,
               "pasted": ctx.reading.pasted}
    return scores, details
