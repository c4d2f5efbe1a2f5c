"""Data for the model-comparison task: two models' predictions on one validation set, and what matters.

Each seed draws the metric priorities (recall, precision, ROC AUC, or a cost per error) and the decision
threshold, then plants two models so that the one the priorities favour has the LOWER accuracy: choosing
by accuracy picks the wrong model. Which letter (A or B) is favoured is drawn too. The three files list
the rows in three different orders, so predictions must be joined by id, not by position.

public/: validation_labels.csv (id, label), predictions_model_A.csv and predictions_model_B.csv (id,
    probability), priorities.yaml: what participants develop on. Nothing here is secret.
input_data/: the same four files for the data the notebook runs on at submission time, drawn from its own
    random stream (metamorphic): the same primary metric, but another threshold (and costs), new rows and
    ids, and the OTHER model favoured, so numbers or a conclusion typed in from a run on the public files are
    wrong there, while a notebook that computes them is right on both.
private/facts.json: the scorer's expected metrics of each model on input_data, the disagreeing ids, the
    favoured model, and the public data's answers (to tell typed-in values apart);
private/hidden_rows.csv: input_data's rows joined (id, label, model_A, model_B), to recompute what a
    notebook that used another threshold would have found.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import roc_auc_score

THRESHOLDS = (0.4, 0.5, 0.6)
PREVALENCE = 0.3
MARGIN = 0.02  # the favoured model wins its metric and loses on accuracy by at least this much
HIDDEN_STREAM = 1  # the hidden data's own random stream: the public files do not depend on it
HIDDEN_DRAW = "hidden_draw"  # params' key for a later phase's hidden draw (absent: draw 0, the stream as always)
REPORTED = ("accuracy", "precision", "recall", "f1", "roc_auc")  # what comparison.json reports per model
# The hidden data's rates differ from the public data's (PREVALENCE, spread 1): a share of positives, and both
# models' separations scaled so that ROC AUCs move by 0.02 or more (every plan still plants at these).
HIDDEN_PREVALENCE = 0.35
HIDDEN_SPREADS = (0.8, 1.25)
DISTINCT = 0.005  # every reported metric of the hidden data differs from the public one's by more than this
# kind → (favoured model's separation and positive rate, rival's), rates as multiples of the prevalence
PLANS = {
    "recall": ((1.7, 2.0), (1.9, 0.9)),
    "precision": ((2.1, 0.35), (1.9, 1.0)),
    "roc_auc": ((2.4, 1.9), (1.7, 0.9)),
    "cost": ((1.7, 2.2), (1.9, 0.8)),
}
PRIORITIES = {
    "recall": "A missed positive (an account takeover we do not block) costs about ten times a false alarm, "
              "so the model that catches more of the positives is shipped.",
    "precision": "Every alert is reviewed by hand and the team is small: a false alarm wastes an analyst's "
                 "hour, so the model whose alerts are right most often is shipped.",
    "roc_auc": "The score is used to rank the review queue, not to decide alone: the model that ranks "
               "positives above negatives best is shipped.",
    "cost": "Each error has a price: the model with the lowest total cost on the validation set is shipped.",
}
PRIORITIES_HEADER = (
    "# What matters when choosing the model to ship (from the product team).\n"
    "# primary_metric: the metric that decides (expected_cost: lower is better; the others: higher).\n"
    "# decision_threshold: a row is predicted positive when its probability >= this value.\n")


def metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    """The definitions the scorer uses: class 1 when probability >= threshold."""
    predicted = probabilities >= threshold
    tp = int(np.sum(predicted & (labels == 1)))
    fp = int(np.sum(predicted & (labels == 0)))
    fn = int(np.sum(~predicted & (labels == 1)))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return {"accuracy": float(np.mean(predicted == (labels == 1))), "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall),
            "roc_auc": float(roc_auc_score(labels, probabilities)), "false_positives": fp, "false_negatives": fn}


def model_probabilities(labels: np.ndarray, separation: float, rate: float, threshold: float,
                        rng: np.random.Generator) -> np.ndarray:
    """A model whose score separates the classes by `separation` and calls `rate` of the rows positive."""
    score = labels * separation + rng.normal(0.0, 1.0, size=len(labels))
    cut = np.quantile(score, 1.0 - rate)
    logit = 1.3 * (score - cut) + np.log(threshold / (1 - threshold))
    probabilities = np.round(1.0 / (1.0 + np.exp(-logit)), 6)
    probabilities[probabilities == threshold] += 1e-6  # no row sits exactly on the threshold
    return probabilities


def primary_value(kind: str, values: dict, costs: dict | None) -> float:
    """Higher is better."""
    if kind == "cost":
        return -(values["false_negatives"] * costs["false_negative"] + values["false_positives"] * costs["false_positive"])
    return values[kind]


def planted(kind: str, labels: np.ndarray, threshold: float, costs: dict | None, rng: np.random.Generator,
            prevalence: float = PREVALENCE, spread: float = 1.0):
    """The favoured model's and its rival's probabilities; `spread` scales both models' separations."""
    (good_sep, good_rate), (rival_sep, rival_rate) = PLANS[kind]
    for _ in range(200):
        favoured = model_probabilities(labels, good_sep * spread, good_rate * prevalence, threshold, rng)
        rival = model_probabilities(labels, rival_sep * spread, rival_rate * prevalence, threshold, rng)
        good, other = metrics(labels, favoured, threshold), metrics(labels, rival, threshold)
        wins = primary_value(kind, good, costs) - primary_value(kind, other, costs)
        needed = MARGIN * (abs(primary_value(kind, other, costs)) if kind == "cost" else 1)
        if wins >= needed and other["accuracy"] - good["accuracy"] >= MARGIN:
            return favoured, rival
    raise AssertionError(f"could not plant a {kind} comparison with these settings")


def draw_setting(rng: np.random.Generator, avoid: dict | None) -> dict:
    """What decides and how the models behave. With `avoid` (the public variant): the same primary metric, but
    another threshold, other costs, the other model favoured, and other rates (prevalence, separations)."""
    kind = avoid["kind"] if avoid else str(rng.choice(sorted(PLANS)))
    threshold = float(rng.choice([t for t in THRESHOLDS if not avoid or t != avoid["threshold"]]))
    costs = None
    if kind == "cost":
        prices = [price for price in range(5, 13) if not avoid or price != avoid["costs"]["false_negative"]]
        costs = {"false_negative": int(rng.choice(prices) if avoid else rng.integers(5, 13)), "false_positive": 1}
    favoured_letter = other_letter(avoid["favoured_letter"]) if avoid else str(rng.choice(["A", "B"]))
    setting = {"kind": kind, "threshold": threshold, "costs": costs, "favoured_letter": favoured_letter,
               "prevalence": PREVALENCE, "spread": 1.0}
    if avoid:  # the public files' rates drawn again would give its numbers again (at a large scale, nearly)
        setting.update(prevalence=HIDDEN_PREVALENCE, spread=float(rng.choice(HIDDEN_SPREADS)))
    return setting


def draw_variant(rng: np.random.Generator, n_rows: int, avoid: dict | None = None) -> dict:
    """One comparison: its priorities and rows; with `avoid`, ids of its own too (see draw_setting)."""
    setting = draw_setting(rng, avoid)
    numbers = rng.choice(10**6, size=2 * n_rows if avoid else n_rows, replace=False)
    if avoid:  # a row id typed in from the public data is never a hidden row
        numbers = numbers[~np.isin(numbers, avoid["numbers"])][:n_rows]
    labels = (rng.random(n_rows) < setting["prevalence"]).astype(int)
    favoured, rival = planted(setting["kind"], labels, setting["threshold"], setting["costs"], rng,
                              setting["prevalence"], setting["spread"])
    letter = setting["favoured_letter"]
    return {**setting, "numbers": numbers, "ids": np.array([f"r{number:06d}" for number in numbers]),
            "labels": labels, "by_letter": {letter: favoured, other_letter(letter): rival}}


def other_letter(letter: str) -> str:
    return "B" if letter == "A" else "A"


def draw_hidden(rng: np.random.Generator, n_rows: int, public: dict) -> dict:
    """The data the notebook runs on at submission time: drawn until nothing typed in from the public data's
    run (any model's metric under either name, the count of disagreements) is right by chance."""
    seen = facts_of(public)
    for _ in range(100):  # a few draws at most, in practice
        hidden = draw_variant(rng, n_rows, avoid=public)
        facts = facts_of(hidden)
        close = [abs(facts["metrics"][model][name] - seen["metrics"][typed][name]) <= DISTINCT
                 for model in facts["metrics"] for typed in seen["metrics"] for name in REPORTED]
        if not any(close) and len(facts["disagreeing_ids"]) != len(seen["disagreeing_ids"]):
            return hidden
    raise AssertionError("could not draw hidden data that differs from the public data")


def facts_of(variant: dict) -> dict:
    """What the scorer checks: each model's metrics at the threshold, the disagreeing ids, the favoured model."""
    by_letter, threshold, labels = variant["by_letter"], variant["threshold"], variant["labels"]
    expected = {f"model_{letter}": metrics(labels, p, threshold) for letter, p in sorted(by_letter.items())}
    disagreeing = sorted(variant["ids"][(by_letter["A"] >= threshold) != (by_letter["B"] >= threshold)].tolist())
    return {"priority": variant["kind"], "threshold": threshold, "costs": variant["costs"],
            "favoured_model": f"model_{variant['favoured_letter']}",
            "accuracy_leader": max(expected, key=lambda name: expected[name]["accuracy"]),
            "metrics": expected, "disagreeing_ids": disagreeing}


def public_summary(facts: dict) -> dict:
    """The public data's answers, so the scorer can tell numbers typed in from an offline run on them."""
    return {"threshold": facts["threshold"], "favoured_model": facts["favoured_model"],
            "metrics": facts["metrics"], "disagreements": len(facts["disagreeing_ids"])}


def write_variant(folder: Path, variant: dict, rng: np.random.Generator) -> None:
    """The notebook's four input files; each table lists the rows in its own order (join by id)."""
    ids, n_rows = variant["ids"], len(variant["ids"])
    tables = {"validation_labels.csv": pd.DataFrame({"id": ids, "label": variant["labels"]})}
    for letter, probabilities in sorted(variant["by_letter"].items()):
        tables[f"predictions_model_{letter}.csv"] = pd.DataFrame({"id": ids, "probability": probabilities})
    for name, table in tables.items():
        table.iloc[rng.permutation(n_rows)].to_csv(folder / name, index=False, float_format="%.6f")
    kind = variant["kind"]
    priorities = {"primary_metric": "expected_cost" if kind == "cost" else kind,
                  "decision_threshold": variant["threshold"]}
    if variant["costs"]:
        priorities["costs"] = variant["costs"]
    priorities["why"] = PRIORITIES[kind]
    (folder / "priorities.yaml").write_text(PRIORITIES_HEADER + yaml.safe_dump(priorities, sort_keys=False, width=100))


def hidden_stream(seed: int, params: Mapping[str, Any]) -> list[int]:
    """The hidden draw's random stream: draw 0's as always, each later draw (a later phase) one of its own."""
    draw = int(params.get(HIDDEN_DRAW, 0))
    return [seed, HIDDEN_STREAM] + ([draw] if draw else [])


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    if raw_dir is not None:
        raise ValueError("model-comparison generates its own predictions: it takes no --raw-data")
    n_rows = params["n_rows"]
    rng = np.random.default_rng(seed)
    public = draw_variant(rng, n_rows)
    hidden_rng = np.random.default_rng(hidden_stream(seed, params))
    hidden = draw_hidden(hidden_rng, n_rows, public)
    folders = {name: out_dir / name for name in ("public", "input_data", "private")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    write_variant(folders["public"], public, rng)  # the same rng calls, so the same bytes, as before
    write_variant(folders["input_data"], hidden, hidden_rng)
    facts = {**facts_of(hidden), "public": public_summary(facts_of(public))}
    (folders["private"] / "facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    rows = pd.DataFrame({"id": hidden["ids"], "label": hidden["labels"], "model_A": hidden["by_letter"]["A"],
                         "model_B": hidden["by_letter"]["B"]}).sort_values("id")
    rows.to_csv(folders["private"] / "hidden_rows.csv", index=False, float_format="%.6f")
