"""The tabular-baseline rubric as pure functions: what the program did on the hidden data, not how it said it.

The program ran on hidden data (another draw than the public files, with a sharper signal), so the
cross-validated metrics it reports are checked against what its own predictions score on the hidden test
set: honest cross-validation agrees with it, numbers typed in from a run on the public files do not.
"""
from __future__ import annotations

import json
import math
import re

import numpy as np
from sklearn.metrics import roc_auc_score

from programlib import SubmissionError

CV_FILE = "cv_metrics.json"
WEIGHTS = {"roc_auc_points": 0.45, "accuracy_points": 0.1, "cv_metrics": 0.3, "model_family": 0.05,
           "readme_snippet": 0.1}
MIN_FOLDS = 3
SLACK = 0.02  # a competent model a little below the reference logistic regression still gets full points

# Letters, not word boundaries, delimit the words: `val_auc` and `cv_accuracy` count.
AUC_WORD = re.compile(r"(?i)(?<![a-z])(?:roc[\s_-]*)?auc(?:[\s_-]*roc)?(?![a-z])|area under")
ACCURACY_WORD = re.compile(r"(?i)(?<![a-z])acc(?:uracy)?(?![a-z])")
FOLD_INDEX = re.compile(r"(?i)(?<![a-z])(?:fold|split|iteration)\s*(?:#|no\.?|number)?\s*\[?(\d+)")
# A metric is a decimal in [0, 1] or a percentage; bare integers (fold numbers, counts) are not metrics.
VALUE = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d+)?)\s*%|(?<![\w.])(\d?\.\d+)(?![\d.])")
COMMAND = re.compile(r"\bpython3?\s+(?:\./)?(?:[\w./-]*/)?baseline\.py\b([^\n`]*)")
# The brief asks for a logistic regression or a tree model (single trees, forests, boosting).
MODEL_NAMES = re.compile(r"(?i)logistic|logreg|LogisticRegression|tree|forest|boost|xgb|lgbm|lightgbm|catboost")
MODEL_CODE = re.compile(r"\b(LogisticRegression(?:CV)?|SGDClassifier|DecisionTreeClassifier|RandomForestClassifier|"
                        r"ExtraTreesClassifier|(?:Hist)?GradientBoostingClassifier|XGBClassifier|LGBMClassifier|"
                        r"CatBoostClassifier)\s*\(")


# --- metrics of the predictions ----------------------------------------------------------------------

def binary_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    assert labels.shape == probabilities.shape and set(np.unique(labels)) <= {0, 1}
    if len(np.unique(labels)) < 2:  # our data always has both classes; AUC is undefined otherwise
        raise AssertionError("the reference labels hold a single class")
    return {"roc_auc": float(roc_auc_score(labels, probabilities)),
            "accuracy": float(np.mean((probabilities > 0.5).astype(int) == labels))}


def prediction_points(metrics: dict, reference: dict) -> dict[str, float]:
    """AUC from chance (0) to the reference logistic regression (1); accuracy from the majority class to it."""
    auc_span = max(reference["reference_auc"] - 0.5 - SLACK, 0.05)
    majority = reference["majority_accuracy"]
    accuracy_span = max(reference["reference_accuracy"] - majority - SLACK, 0.05)
    return {"roc_auc_points": float(np.clip((metrics["roc_auc"] - 0.5) / auc_span, 0, 1)),
            "accuracy_points": float(np.clip((metrics["accuracy"] - majority) / accuracy_span, 0, 1))}


# --- reading reported metrics ------------------------------------------------------------------------

def metric_value(text: str) -> float | None:
    """The first metric value in text: 0.812, .812 or 81.2 % (as 0.812); None if there is none."""
    for match in VALUE.finditer(text):
        value = float(match.group(1)) / 100 if match.group(1) else float(match.group(2))
        if 0.0 <= value <= 1.0:
            return value
    return None


def after_word(line: str, word: re.Pattern) -> float | None:
    match = word.search(line)
    if not match:
        return None
    rest = FOLD_INDEX.sub(" ", line[match.end():])  # "AUC for fold 3: 0.81": the 3 is not the AUC
    return metric_value(rest)


def printed_metrics(stdout: str) -> dict:
    """Per-fold and summary (mean) AUC/accuracy from printed lines, or from a printed table with a header."""
    folds, summary = [], {}
    header = None
    for line in stdout.splitlines():
        auc, accuracy = after_word(line, AUC_WORD), after_word(line, ACCURACY_WORD)
        if auc is None and accuracy is None:
            header = table_header(line) or header
            row = table_row(line, header)
            if row:
                folds.append(row)
            continue
        header = None
        if FOLD_INDEX.search(line):
            folds.append({"roc_auc": auc, "accuracy": accuracy})
        else:
            summary.update({k: v for k, v in (("roc_auc", auc), ("accuracy", accuracy)) if v is not None})
    return {"folds": folds, "summary": summary, "model": None, "source": "printed output"}


def table_header(line: str) -> list[str] | None:
    """The columns of a printed table whose header names AUC and accuracy (no numbers in it)."""
    tokens = line.split()
    if any(AUC_WORD.fullmatch(t) or "auc" in t.lower() for t in tokens) and any(
            ACCURACY_WORD.search(t) for t in tokens) and metric_value(line) is None:
        return tokens
    return None


def table_row(line: str, header: list[str] | None) -> dict | None:
    if not header:
        return None
    tokens = line.split()[-len(header):]  # a leading index column (pandas) is dropped
    if len(tokens) != len(header):
        return None
    row = {}
    for name, token in zip(header, tokens):
        key = "roc_auc" if "auc" in name.lower() else "accuracy" if ACCURACY_WORD.search(name) else None
        if key:
            row[key] = metric_value(token)
    return row if row.get("roc_auc") is not None else None


def number_of(value, where: str) -> float:
    """A metric from cv_metrics.json: a number in [0, 1], or a percentage (a number up to 100 or "81.2 %")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SubmissionError(f"{CV_FILE}: field '{where}': {value!r} is not a number")
    number = metric_value(value) if isinstance(value, str) else float(value)
    if number is not None and isinstance(value, (int, float)) and 1 < number <= 100:
        number /= 100
    if number is None or not math.isfinite(number) or not 0 <= number <= 1:
        raise SubmissionError(f"{CV_FILE}: field '{where}': {value!r} is not a metric in [0, 1] or a percentage")
    return number


def metrics_of(entry, where: str) -> dict:
    if not isinstance(entry, dict):
        raise SubmissionError(f"{CV_FILE}: field '{where}': expected an object with roc_auc and accuracy")
    found = {}
    for key, value in entry.items():
        name = "roc_auc" if AUC_WORD.search(str(key)) else "accuracy" if ACCURACY_WORD.search(str(key)) else None
        if name:
            found[name] = number_of(value, f"{where}.{key}")
    return found


def json_metrics(text: str) -> dict:
    """cv_metrics.json: {"model": ..., "folds": [{"roc_auc": .., "accuracy": ..}, ...], "mean": {...}}."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise SubmissionError(f"{CV_FILE}: not valid JSON ({str(error)[:120]})") from None
    if not isinstance(document, dict):
        raise SubmissionError(f"{CV_FILE}: the top level must be an object with 'model' and 'folds'")
    folds = document.get("folds")
    if not isinstance(folds, list):
        raise SubmissionError(f"{CV_FILE}: field 'folds': expected a list of per-fold metrics")
    summary = metrics_of(document.get("mean", {}), "mean")
    model = document.get("model")
    return {"folds": [metrics_of(entry, f"folds[{i}]") for i, entry in enumerate(folds)], "summary": summary,
            "model": model if isinstance(model, str) else None, "source": CV_FILE}


# --- the rubric items --------------------------------------------------------------------------------

def reported_means(reported: dict) -> dict:
    """The reported mean of each metric: the summary line or field, else the mean of the folds."""
    means = {}
    for key in ("roc_auc", "accuracy"):
        values = [fold[key] for fold in reported["folds"] if fold.get(key) is not None]
        means[key] = reported["summary"].get(key, float(np.mean(values)) if values else None)
    return means


def tolerances(reference: dict, test_auc: float) -> dict[str, float]:
    """How far honest cross-validation may land from the test metrics: sampling noise of both (two standard
    errors, rough binomial ones) plus a margin for the refit on all rows."""
    share = min(reference["test_share_1"], 1 - reference["test_share_1"])
    minority_test = max(reference["n_test"] * share, 1)
    minority_train = max(reference["n_train"] * min(reference["train_share_1"], 1 - reference["train_share_1"]), 1)
    auc_noise = math.sqrt(test_auc * (1 - test_auc) + 0.01) * math.sqrt(1 / minority_test + 1 / minority_train)
    accuracy_noise = 0.5 * math.sqrt(1 / reference["n_test"] + 1 / reference["n_train"])
    return {"roc_auc": 0.02 + 2 * auc_noise, "accuracy": 0.02 + 2 * accuracy_noise}


def cv_metrics_item(reported: dict, metrics: dict, reference: dict) -> tuple[float, dict]:
    """0.2 for per-fold AUC and accuracy of at least MIN_FOLDS (distinct) folds; 0.4 each for a mean AUC and a
    mean accuracy that agree with what the predictions score on the hidden test set (honest cross-validation on
    these data); without folds, 0.2 for an agreeing AUC (a hold-out estimate)."""
    folds = [f for f in reported["folds"] if f.get("roc_auc") is not None]
    means = reported_means(reported)
    gaps = {key: None if means[key] is None else abs(means[key] - metrics[key]) for key in means}
    limits = tolerances(reference, metrics["roc_auc"])
    facts = {"source": reported["source"], "folds": len(folds), "means": means,
             "agrees": {key: gaps[key] is not None and gaps[key] <= limits[key] for key in gaps},
             "distinct_folds": len({round(f["roc_auc"], 6) for f in folds}) > 1}
    per_fold = len(folds) >= MIN_FOLDS and all(f.get("accuracy") is not None for f in folds)
    facts["per_fold"] = per_fold
    if per_fold and not facts["distinct_folds"]:  # one number repeated is not k folds
        return 0.0, facts
    if not per_fold:  # an honest hold-out estimate is worth something, but it is not cross-validation
        return 0.2 * facts["agrees"]["roc_auc"], facts
    return 0.2 + 0.4 * facts["agrees"]["roc_auc"] + 0.4 * facts["agrees"]["accuracy"], facts


def model_family_item(model_name: str | None, script: str, auc_points: float) -> tuple[float, dict]:
    """A logistic regression or tree model, built in the code and actually predicting (AUC above chance)."""
    built = sorted(set(MODEL_CODE.findall(script)))
    named = bool(model_name and MODEL_NAMES.search(model_name))
    facts = {"built": built, "named": model_name, "predicts": auc_points > 0.2}
    return float(bool(built or named) and facts["predicts"]), facts


def readme_snippet_item(readme: str | None, script: str) -> tuple[float, dict]:
    """A command that runs baseline.py; its options must be ones baseline.py defines."""
    facts = {"command": None, "unknown_options": []}
    match = COMMAND.search(readme or "")
    if not match:
        return 0.0, facts
    facts["command"] = match.group(0).strip()
    options = re.findall(r"(?<!\S)(--?[A-Za-z][\w-]*)", match.group(1))
    facts["unknown_options"] = [o for o in options if not re.search(rf"""["']{re.escape(o)}["']""", script)]
    return (0.5 if facts["unknown_options"] else 1.0), facts
