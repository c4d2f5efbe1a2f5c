"""Data for the model-comparison task: two models' predictions on one validation set, and what matters.

Each seed draws the metric priorities (recall, precision, ROC AUC, or a cost per error) and the decision
threshold, then plants two models so that the one the priorities favour has the LOWER accuracy: choosing
by accuracy picks the wrong model. Which letter (A or B) is favoured is drawn too. The three files list
the rows in three different orders, so predictions must be joined by id, not by position.

public/ and input_data/: validation_labels.csv (id, label), predictions_model_A.csv and
    predictions_model_B.csv (id, probability), priorities.yaml. Nothing here is secret.
private/facts.json: the scorer's expected metrics of each model, the disagreeing ids and the favoured model.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import roc_auc_score

from bundlegen.definition import scale_parameters

THRESHOLDS = (0.4, 0.5, 0.6)
PREVALENCE = 0.3
MARGIN = 0.02  # the favoured model wins its metric and loses on accuracy by at least this much
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


def planted(kind: str, labels: np.ndarray, threshold: float, costs: dict | None, rng: np.random.Generator):
    (good_sep, good_rate), (rival_sep, rival_rate) = PLANS[kind]
    for _ in range(200):
        favoured = model_probabilities(labels, good_sep, good_rate * PREVALENCE, threshold, rng)
        rival = model_probabilities(labels, rival_sep, rival_rate * PREVALENCE, threshold, rng)
        good, other = metrics(labels, favoured, threshold), metrics(labels, rival, threshold)
        wins = primary_value(kind, good, costs) - primary_value(kind, other, costs)
        needed = MARGIN * (abs(primary_value(kind, other, costs)) if kind == "cost" else 1)
        if wins >= needed and other["accuracy"] - good["accuracy"] >= MARGIN:
            return favoured, rival
    raise AssertionError(f"could not plant a {kind} comparison with these settings")


def prepare(raw_dir: Path | None, out_dir: Path, scale: str, seed: int) -> None:
    if raw_dir is not None:
        raise ValueError("model-comparison generates its own predictions: it takes no --raw-data")
    n_rows = scale_parameters(scale, Path(__file__).parent)["n_rows"]
    rng = np.random.default_rng(seed)
    kind = str(rng.choice(sorted(PLANS)))
    threshold = float(rng.choice(THRESHOLDS))
    costs = {"false_negative": int(rng.integers(5, 13)), "false_positive": 1} if kind == "cost" else None
    favoured_letter = str(rng.choice(["A", "B"]))
    ids = np.array([f"r{number:06d}" for number in rng.choice(10**6, size=n_rows, replace=False)])
    labels = (rng.random(n_rows) < PREVALENCE).astype(int)
    favoured, rival = planted(kind, labels, threshold, costs, rng)
    by_letter = {favoured_letter: favoured, "B" if favoured_letter == "A" else "A": rival}

    priorities = {"primary_metric": "expected_cost" if kind == "cost" else kind, "decision_threshold": threshold}
    if costs:
        priorities["costs"] = costs
    priorities["why"] = PRIORITIES[kind]
    header = ("# What matters when choosing the model to ship (from the product team).\n"
              "# primary_metric: the metric that decides (expected_cost: lower is better; the others: higher).\n"
              "# decision_threshold: a row is predicted positive when its probability >= this value.\n")

    public, input_data, private = out_dir / "public", out_dir / "input_data", out_dir / "private"
    for folder in (public, input_data, private):
        folder.mkdir(parents=True, exist_ok=True)
    tables = {"validation_labels.csv": pd.DataFrame({"id": ids, "label": labels})}
    for letter, probabilities in sorted(by_letter.items()):
        tables[f"predictions_model_{letter}.csv"] = pd.DataFrame({"id": ids, "probability": probabilities})
    for name, table in tables.items():
        shuffled = table.iloc[rng.permutation(n_rows)]  # each file in its own order: join by id
        for folder in (public, input_data):
            shuffled.to_csv(folder / name, index=False, float_format="%.6f")
    for folder in (public, input_data):
        (folder / "priorities.yaml").write_text(header + yaml.safe_dump(priorities, sort_keys=False, width=100))

    expected = {f"model_{letter}": metrics(labels, p, threshold) for letter, p in sorted(by_letter.items())}
    disagreeing = sorted(ids[(by_letter["A"] >= threshold) != (by_letter["B"] >= threshold)].tolist())
    accuracy_leader = max(expected, key=lambda name: expected[name]["accuracy"])
    facts = {"priority": kind, "threshold": threshold, "costs": costs, "favoured_model": f"model_{favoured_letter}",
             "accuracy_leader": accuracy_leader, "metrics": expected, "disagreeing_ids": disagreeing}
    (private / "facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
