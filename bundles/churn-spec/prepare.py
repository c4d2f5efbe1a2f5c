"""Data for the churn-spec task: a product brief and a generated warehouse schema to write an ML spec from.

The seed alone decides the schema (table and column names carry random suffixes, so they cannot be guessed)
and the facts planted in the brief: how churn is defined (a cancellation not undone within W days, or no
session for W days), the team's weekly contact capacity k (precision@k, recall@k), and the constraints
(latency in ms, model size in MB, retrain cadence) and the base rate of churn. One schema column is filled in
only after a user has left: naming it as an input is label leakage. There is nothing to scale: every scale of a
seed gives the same files, so one spec fits them all. private/facts.json holds what the scorer checks, with the
values each fact could have taken (a spec that states several of them is stuffed, not right).
"""
from __future__ import annotations

import json
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HORIZON_DAYS = 30
# role → (table name choices, description, [(column base name, kind, description)]).
TABLES = {
    "accounts": (["accounts", "users", "members", "customers"], "One row per user account.", [
        ("signup_date", "date", "day the account was created"),
        ("country", "category", "ISO country code given at sign-up"),
        ("plan_tier", "category", "current plan: free, plus or pro"),
        ("acquisition_channel", "category", "how the user found the product"),
        ("birth_year", "integer", "year of birth as entered by the user (may be empty)"),
        ("marketing_opt_in", "boolean", "whether the user accepts marketing e-mails")]),
    "sessions": (["sessions", "app_sessions", "visits"], "One row per app or web session.", [
        ("session_id", "id", "unique id of the session"),
        ("started_at", "timestamp", "when the session started"),
        ("duration_sec", "number", "length of the session in seconds"),
        ("device_type", "category", "ios, android or web"),
        ("screens_viewed", "integer", "number of screens opened during the session")]),
    "subscriptions": (["subscriptions", "billing_subscriptions", "plans_history"], "One row per paid subscription.", [
        ("subscription_id", "id", "unique id of the subscription"),
        ("started_at", "timestamp", "when the subscription started"),
        ("cancelled_at", "timestamp", "when the user cancelled the subscription; empty while it is active"),
        ("paused_at", "timestamp", "when the user paused the subscription (billing stops, the account stays)"),
        ("renewal_date", "date", "next scheduled renewal"),
        ("monthly_price", "number", "price per month in EUR"),
        ("retention_outcome", "category", "filled in by the retention team after the user has left: reason given")]),
    "payments": (["payments", "invoices", "charges"], "One row per payment attempt.", [
        ("payment_id", "id", "unique id of the payment attempt"),
        ("attempted_at", "timestamp", "when the payment was attempted"),
        ("amount", "number", "amount charged in EUR"),
        ("status", "category", "succeeded, failed or refunded"),
        ("failure_code", "category", "processor's code for a failed payment (empty otherwise)")]),
    "support": (["support_tickets", "helpdesk_cases", "contact_requests"], "One row per support request.", [
        ("ticket_id", "id", "unique id of the request"),
        ("opened_at", "timestamp", "when the request was opened"),
        ("closed_at", "timestamp", "when it was resolved (empty while open)"),
        ("topic", "category", "billing, bug, how-to or account"),
        ("satisfaction", "integer", "rating 1-5 the user gave after resolution (may be empty)")]),
    "campaigns": (["campaign_touches", "marketing_sends", "email_events"], "One row per marketing message sent.", [
        ("sent_at", "timestamp", "when the message was sent"),
        ("channel", "category", "email, push or sms"),
        ("opened", "boolean", "whether the user opened it"),
        ("campaign_code", "category", "internal code of the campaign")]),
}
USER_KEY_NAMES = ["user_ref", "member_key", "account_ref", "customer_key"]
PRODUCTS = ["Trailmate", "Pennywise", "Loomly", "Fitwave", "Notewell", "Sproutly"]
CADENCES = ["daily", "weekly", "monthly"]
# The values each planted fact is drawn from (the scorer knows them: stating several of them is stuffing).
WINDOWS = {"cancellation": [7, 10, 14], "inactivity": [14, 21, 28]}
CAPACITIES = [200, 250, 400, 500, 750, 1000]
LATENCIES = [50, 80, 100, 150, 200, 300]
MODEL_SIZES = [20, 50, 100, 200, 250]
CHURN_RATES_PCT = [3, 4, 5, 6, 8]


def suffix(rng: np.random.Generator, length: int) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return rng.choice(list(string.ascii_lowercase)) + "".join(rng.choice(list(alphabet), size=length - 1))


def generate_schema(rng: np.random.Generator) -> tuple[list[dict], dict]:
    """The tables (name, description, columns with type) and where the planted columns are."""
    user_key = f"{rng.choice(USER_KEY_NAMES)}_{suffix(rng, 2)}"
    roles = ["accounts", "sessions", "subscriptions", "payments"] + list(
        rng.choice(["support", "campaigns"], size=int(rng.integers(1, 3)), replace=False))
    tables, where = [], {}
    used = {user_key}
    for role in roles:
        names, description, columns = TABLES[role]
        table_name = f"{rng.choice(names)}_{suffix(rng, 3)}"
        table = {"name": table_name, "description": description,
                 "columns": [{"name": user_key, "type": "string", "description": "id of the user (joins every table)"}]}
        for base, kind, text in columns:
            name = f"{base}_{suffix(rng, 2)}"
            while name in used:
                name = f"{base}_{suffix(rng, 2)}"
            used.add(name)
            column_type = {"id": "string", "category": "string"}.get(kind, kind)
            table["columns"].append({"name": name, "type": column_type, "description": text})
            where[(role, base)] = (table_name, name)
        tables.append(table)
    return tables, where


def plant_facts(rng: np.random.Generator, where: dict) -> dict:
    variant = str(rng.choice(["cancellation", "inactivity"]))
    if variant == "cancellation":
        table, column = where[("subscriptions", "cancelled_at")]
        window = int(rng.choice(WINDOWS["cancellation"]))
    else:
        table, column = where[("sessions", "started_at")]
        window = int(rng.choice(WINDOWS["inactivity"]))
    leaky_table, leaky_column = where[("subscriptions", "retention_outcome")]
    return {
        "product": str(rng.choice(PRODUCTS)), "horizon_days": HORIZON_DAYS,
        "target": {"variant": variant, "table": table, "column": column, "window_days": window},
        "leaky": {"table": leaky_table, "column": leaky_column},
        "k": int(rng.choice(CAPACITIES)),
        "max_latency_ms": int(rng.choice(LATENCIES)),
        "max_model_size_mb": int(rng.choice(MODEL_SIZES)),
        "retrain_cadence": str(rng.choice(CADENCES)),
        # drawn last, so that every earlier fact (and name) of a seed is what it was before this one existed
        "churn_rate_pct": int(rng.choice(CHURN_RATES_PCT)),
        **schema_facts(where),
        "candidates": {"window_days": sorted({w for ws in WINDOWS.values() for w in ws}), "k": CAPACITIES,
                       "max_latency_ms": LATENCIES, "max_model_size_mb": MODEL_SIZES,
                       "retrain_cadence": CADENCES, "churn_rate_pct": CHURN_RATES_PCT},
    }


def schema_facts(where: dict) -> dict:
    """What the scorer needs to read prose about the schema: each table's role, each column's base name, the ids."""
    kinds = {(role, base): kind for role, (_, _, columns) in TABLES.items() for base, kind, _ in columns}
    return {"roles": {table: role for (role, _), (table, _) in where.items()},
            "bases": {column: base for (_, base), (_, column) in where.items()},
            "ids": sorted(column for key, (_, column) in where.items() if kinds[key] == "id")}


def write_brief(facts: dict) -> str:
    target = facts["target"]
    if target["variant"] == "cancellation":
        churn = (f"A user has **churned** when they cancel their paid subscription and do not re-activate it within "
                 f"{target['window_days']} days. Pausing a subscription is not churn. Cancellations are recorded in "
                 f"the billing system.")
    else:
        churn = (f"A user has **churned** when they start no session, in the app or on the web, for "
                 f"{target['window_days']} consecutive days. Sessions are logged by the product analytics pipeline.")
    cadence = {"daily": "every night", "weekly": "once a week", "monthly": "once a month"}[facts["retrain_cadence"]]
    return f"""# Product brief: churn prediction for {facts['product']}

**Ask.** Predict which users will churn in the next {facts['horizon_days']} days, so the retention team can
reach out before they leave. Historically about {facts['churn_rate_pct']}% of active users churn in a
{facts['horizon_days']}-day window.

**What churn means here.** {churn}

**How the scores are used.** Every Monday the retention team contacts the users with the highest churn risk.
They have capacity for at most {facts['k']} users a week, so what matters is how many of those {facts['k']} really
churn, and how many of all churners they reach. Product also wants one overall number to compare models.

**Constraints from engineering.**
- The score is served by the in-app API: at most {facts['max_latency_ms']} ms per prediction (p99).
- The serving container has room for a model of at most {facts['max_model_size_mb']} MB.
- The data platform retrains models {cadence} ({facts['retrain_cadence']}); anything else needs a new pipeline.

**Data.** Use only the tables and columns of `schema.yaml` (the data warehouse). Each table links to a user
through the same user id column.
"""


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    if raw_dir is not None:
        raise ValueError("the churn-spec task generates its brief and schema; it takes no raw data")
    rng = np.random.default_rng(seed)
    tables, where = generate_schema(rng)
    facts = plant_facts(rng, where)
    facts["columns"] = {table["name"]: [c["name"] for c in table["columns"]] for table in tables}
    facts["user_key"] = tables[0]["columns"][0]["name"]  # the join key of every table: not a feature

    public, private = out_dir / "public", out_dir / "private"
    public.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    (public / "brief.md").write_text(write_brief(facts), encoding="utf-8")
    schema = {"tables": tables}
    header = f"# Data warehouse schema of {facts['product']}: every table and column a model may use.\n"
    (public / "schema.yaml").write_text(header + yaml.safe_dump(schema, sort_keys=False, width=120), encoding="utf-8")
    facts["brief"] = write_brief(facts)  # the scorer tells a spec from a pasted brief
    (private / "facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n", encoding="utf-8")
