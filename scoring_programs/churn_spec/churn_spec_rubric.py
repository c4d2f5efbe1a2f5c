"""The rubric of the churn-spec task: pure functions of the parsed spec and the planted facts.

Each item returns (points in [0, 1], details for the report). The weights are on the Evaluation page.
"""
from __future__ import annotations

import re

from churn_spec_spec import get
from programlib.scoring import overall

WEIGHTS = {"target": 0.2, "horizon": 0.05, "inputs": 0.2, "metrics": 0.15, "constraints": 0.15,
           "consistency": 0.1, "headings": 0.1, "length": 0.05}
HEADINGS = ["Problem", "Target", "Inputs", "Metrics", "Constraints", "Risks"]
MIN_INPUT_COLUMNS = 5
LEAK_FACTOR = 0.5
MAX_WORDS, MAX_LINES, MIN_WORDS = 700, 90, 80
RANKING_METRICS = {"auc", "rocauc", "aucroc", "auroc", "prauc", "aucpr", "averageprecision"}
CADENCE_WORDS = {"daily": "daily", "everyday": "daily", "nightly": "daily", "everynight": "daily",
                 "weekly": "weekly", "everyweek": "weekly", "onceaweek": "weekly",
                 "monthly": "monthly", "everymonth": "monthly", "onceamonth": "monthly"}
AT_K = re.compile(r"(?i)\b(precision|recall)\s*(?:@|_at_|\s+at\s+|\s+at\s+top\s*-?\s*)\s*(k|\d+)\b")


def squash(text: str) -> str:
    """Lower case, letters and digits only: 'ROC-AUC' and 'roc_auc' compare equal."""
    return re.sub(r"[^a-z0-9@]", "", text.lower())


def canonical_metrics(text: str) -> str:
    """'Precision at 500', 'precision_at_500' → 'precision@500'; then squashed."""
    return squash(AT_K.sub(lambda m: f"{m.group(1).lower()}@{m.group(2).lower()}", text))


def at_k(metric: str) -> tuple[str, str] | None:
    match = AT_K.fullmatch(metric.strip())
    return (match.group(1).lower(), match.group(2).lower()) if match else None


def target_item(block: dict, facts: dict) -> tuple[float, dict]:
    target, planted = block.get("target") or {}, facts["target"]
    definition = target.get("definition") or ""
    window = planted["window_days"]
    checks = {
        "source_table": target.get("source_table") == planted["table"],
        "source_column": target.get("source_column") == planted["column"],
        "definition names the source column": bool(re.search(rf"\b{re.escape(planted['column'])}\b", definition)),
        f"definition states the {window}-day window": bool(re.search(
            rf"(?<![\d.]){window}\s*(?:-|\s)?\s*(?:consecutive\s+|calendar\s+)?days?\b", definition, re.I)),
    }
    return sum(checks.values()) / len(checks), checks


def horizon_item(block: dict, facts: dict) -> tuple[float, dict]:
    given = get(block, "target.horizon_days")
    return float(given is not None and given == facts["horizon_days"]), {"horizon_days": given}


def input_pairs(block: dict) -> list[tuple[str, str]]:
    pairs = []
    for entry in block.get("inputs") or []:
        for column in entry.get("columns") or []:
            pairs.append((entry.get("table") or "", column))
    return pairs


def inputs_item(block: dict, facts: dict) -> tuple[float, dict]:
    """Share of named columns that exist in their table × coverage of MIN_INPUT_COLUMNS real ones; leakage halves it."""
    pairs = input_pairs(block)
    schema = facts["columns"]
    real = sorted({pair for pair in pairs if pair[1] in schema.get(pair[0], [])})
    invented = [f"{table}.{column}" for table, column in pairs if (table, column) not in set(real)]
    leaky = (facts["leaky"]["table"], facts["leaky"]["column"]) in real
    details = {"named": len(pairs), "real": len(real), "invented": invented, "leaky column used": leaky}
    if not pairs:
        return 0.0, details
    points = (len(real) / len(set(pairs))) * min(1.0, len(real) / MIN_INPUT_COLUMNS) * (LEAK_FACTOR if leaky else 1.0)
    if len(pairs) != len(set(pairs)):
        details["repeated"] = len(pairs) - len(set(pairs))
    return points, details


def metrics_item(block: dict, facts: dict) -> tuple[float, dict]:
    primary = get(block, "metrics.primary") or ""
    secondary = [at_k(metric) for metric in get(block, "metrics.secondary") or []]
    k = str(facts["k"])
    points = {"primary is a ranking metric (AUC, PR AUC, average precision)": float(squash(primary) in RANKING_METRICS)}
    for name in ("precision", "recall"):
        ks = {found[1] for found in secondary if found and found[0] == name}
        # the brief's capacity is k; another cutoff is half right
        points[f"{name}@{k}"] = 1.0 if k in ks else (0.5 if ks else 0.0)
    return sum(points.values()) / len(points), points


def cadence(value: str) -> str | None:
    return CADENCE_WORDS.get(squash(value))


def constraints_item(block: dict, facts: dict) -> tuple[float, dict]:
    checks = {
        "max_latency_ms": get(block, "constraints.max_latency_ms") == facts["max_latency_ms"],
        "max_model_size_mb": get(block, "constraints.max_model_size_mb") == facts["max_model_size_mb"],
        "retrain_cadence": cadence(get(block, "constraints.retrain_cadence") or "") == facts["retrain_cadence"],
    }
    return sum(checks.values()) / len(checks), checks


def number_pattern(value: float) -> str:
    try:
        text = f"{value:g}"
    except OverflowError:  # an integer beyond any float: written out whole
        text = str(value)
    return rf"(?<![\d.]){re.escape(text)}(?:\.0+)?"


def consistency_item(block: dict, body: str) -> tuple[float, dict]:
    """Each value of the block is stated in the prose (numbers with their unit); a value not given fails its check."""
    squashed = canonical_metrics(body)
    checks = {}
    horizon = get(block, "target.horizon_days")
    checks["horizon (N days)"] = horizon is not None and bool(
        re.search(number_pattern(horizon) + r"\s*-?\s*days?\b", body, re.I))
    latency = get(block, "constraints.max_latency_ms")
    checks["latency (N ms)"] = latency is not None and bool(
        re.search(number_pattern(latency) + r"\s*(?:ms|milliseconds?)\b", body, re.I))
    size = get(block, "constraints.max_model_size_mb")
    checks["model size (N MB)"] = size is not None and bool(
        re.search(number_pattern(size) + r"\s*(?:mb|megabytes?)\b", body, re.I))
    word = get(block, "constraints.retrain_cadence")
    checks["retrain cadence"] = bool(word) and squash(word) in squash(body)
    primary = get(block, "metrics.primary")
    checks["primary metric"] = bool(primary) and canonical_metrics(primary) in squashed
    secondary = get(block, "metrics.secondary") or []
    checks["secondary metrics"] = bool(secondary) and all(canonical_metrics(m) in squashed for m in secondary)
    column = get(block, "target.source_column")
    checks["target source column"] = bool(column) and bool(re.search(rf"\b{re.escape(column)}\b", body))
    return sum(checks.values()) / len(checks), checks


def headings_item(body: str) -> tuple[float, dict]:
    """Each required heading is a markdown heading (#, ## or ###) followed by some text before the next heading."""
    sections: dict[str, int] = {}
    current = None
    for line in body.splitlines():
        match = re.match(r"^#{1,3}\s+(.*\S)\s*$", line)
        if match:
            current = next((h for h in HEADINGS if re.match(rf"(?i){h}\b", match.group(1).strip())), None)
            if current:
                sections.setdefault(current, 0)
        elif current and line.strip():
            sections[current] += 1
    found = {heading: sections.get(heading, 0) > 0 for heading in HEADINGS}
    return sum(found.values()) / len(found), found


def length_item(body: str) -> tuple[float, dict]:
    words = len(re.findall(r"\S+", body))
    lines = len(body.strip().splitlines()) if body.strip() else 0
    details = {"words": words, "lines": lines}
    if words < MIN_WORDS:  # a stub is not a one-page spec
        return 0.0, details
    excess = max(words / MAX_WORDS, lines / MAX_LINES)
    return (1.0 if excess <= 1 else max(0.0, 2.0 - excess)), details


def score_spec(block: dict, body: str, facts: dict) -> tuple[dict[str, float], dict[str, dict]]:
    results = {
        "target": target_item(block, facts), "horizon": horizon_item(block, facts),
        "inputs": inputs_item(block, facts), "metrics": metrics_item(block, facts),
        "constraints": constraints_item(block, facts), "consistency": consistency_item(block, body),
        "headings": headings_item(body), "length": length_item(body),
    }
    items = {key: float(points) for key, (points, _) in results.items()}
    return {**items, "score": overall(items, WEIGHTS)}, {key: details for key, (_, details) in results.items()}
