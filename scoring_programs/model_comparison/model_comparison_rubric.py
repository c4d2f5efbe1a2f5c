"""The rubric of the model-comparison task as pure functions over the executed notebook, comparison.json and the
hidden data the notebook ran on (never the public files: what was typed in from a run on those is wrong here).

Every number is checked against what the hidden data gives: a value that matches it at the priorities'
threshold earns full points, one that matches it at another threshold (the notebook computed, with the wrong
threshold) half, anything else none. The decision counts only when the metrics behind it were computed, and
the prose conclusion only alongside such a decision.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from model_comparison_prose import decisions
from programlib import SubmissionError
from programlib.notebooks import Notebook

MODELS = ("model_A", "model_B")
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
THRESHOLDED = ("accuracy", "precision", "recall", "f1")  # roc_auc needs no threshold
TOLERANCE = 1e-3  # rounding to 3 decimals is fine; a value computed otherwise is off by far more
DECISIVE = {"recall": ("recall",), "precision": ("precision",), "roc_auc": ("roc_auc",),
            "cost": ("precision", "recall")}  # with the label counts, these give the false negatives and positives
ROW_ID = re.compile(r"(?<![A-Za-z0-9])r\d{6}(?![0-9])")
MIN_SHOWN = 5  # disagreeing rows a table must show (all of them when there are fewer)
MIN_SHOWN_SHARE = 0.9  # of the row ids one output shows, the share that must be disagreeing rows
MAX_CONCLUSION_CELLS = 30  # a conclusion is among the last cells that say something
POINTS = {"right": 1.0, "another threshold": 0.5, "public data": 0.0, "wrong": 0.0, "missing": 0.0}

# comparison.json's names, as a reviewer would read them: any case, spacing or punctuation, common synonyms.
METRIC_NAMES = {
    "accuracy": {"accuracy", "acc"},
    "precision": {"precision", "ppv", "positivepredictivevalue"},
    "recall": {"recall", "sensitivity", "tpr", "truepositiverate", "hitrate"},
    "f1": {"f1", "f1score", "fscore", "f1measure", "fmeasure"},
    "roc_auc": {"rocauc", "auc", "auroc", "aucroc", "rocaucscore", "areaundertheroccurve", "areaunderroc"},
}
CHOSEN_NAMES = {"chosenmodel", "chosen", "choice", "modeltoship", "selectedmodel", "recommendedmodel", "decision",
                "shipmodel", "ship"}
COUNT_NAMES = {"count", "n", "number", "total", "rows", "nrows", "ndisagreements", "disagreements"}
TOP_COUNT_NAMES = {"disagreementcount", "disagreementscount", "ndisagreements", "numdisagreements"}


# --- comparison.json -------------------------------------------------------------------------------

def _key(name) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def model_name(value) -> str | None:
    """model_A from "model_A", "Model A", "modela", "A"; None for anything else."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"(?:model)?([ab])", _key(value))
    named = set(re.findall(r"(?i)\bmodel[\s_-]?([ab])\b", value)) if not match else {match.group(1)}
    return f"model_{named.pop().upper()}" if len({letter.lower() for letter in named}) == 1 else None


def _shown(value) -> str:
    """A participant's value in a message: short, and never an error of its own (huge or deeply nested)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return "a huge integer"
    try:
        text = repr(value)
    except (RecursionError, ValueError):
        return "a deeply nested value"
    return text if len(text) <= 80 else text[:77] + "..."


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        place = f"field '{where}'" if where else "the top level"
        raise SubmissionError(f"comparison.json, {place}: expected an object, found {_shown(value)}")
    return value


def _find(document: dict, names: set[str], where: str, required: bool = True):
    """The value of the first key whose normalised name is one of `names` (the field's own name first)."""
    own = _key(where.rsplit(".", 1)[-1])
    keys = sorted((key for key in document if _key(key) in names), key=lambda key: _key(key) != own)
    if keys:
        return document[keys[0]]
    if required:
        raise SubmissionError(f"comparison.json: field '{where}' is missing")
    return None


def _number(value, where: str) -> float:
    """A finite number; "87.5%" is read as 0.875 and "0.8" as 0.8."""
    text = value.strip() if isinstance(value, str) else None
    if text is not None:
        try:
            number = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
        except ValueError:
            number = None
        if number is not None and np.isfinite(number):
            return number
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            if np.isfinite(float(value)):
                return float(value)
        except OverflowError:
            pass
    raise SubmissionError(f"comparison.json, field '{where}': {_shown(value)} is not a number")


def _model_metrics(metrics: dict, model: str) -> dict[str, float]:
    by_model = {model_name(key): value for key, value in reversed(list(metrics.items())) if model_name(key)}
    if model not in by_model:
        raise SubmissionError(f"comparison.json: field 'metrics.{model}' is missing")
    values = _object(by_model[model], f"metrics.{model}")
    return {metric: _number(_find(values, METRIC_NAMES[metric], f"metrics.{model}.{metric}"),
                            f"metrics.{model}.{metric}") for metric in METRICS}


def _disagreement_count(document: dict) -> int:
    """disagreements.count as the pages ask; also a bare count, or the list of disagreeing ids."""
    value = _find(document, {"disagreements", "disagreement"}, "disagreements", required=False)
    where = "disagreements"
    if value is None:
        value = _find(document, TOP_COUNT_NAMES, "disagreements")
    elif isinstance(value, dict):
        value, where = _find(value, COUNT_NAMES, "disagreements.count"), "disagreements.count"
    elif isinstance(value, list):
        value = len(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SubmissionError(f"comparison.json, field '{where}': {_shown(value)} is not a count of rows")
    return value


def parse_comparison(document) -> dict:
    """Check comparison.json; anything malformed is the participant's error, named by its field."""
    _object(document, "")
    metrics = _object(_find(document, {"metrics"}, "metrics"), "metrics")
    chosen = _find(document, CHOSEN_NAMES, "chosen_model")
    if model_name(chosen) is None:
        raise SubmissionError(f"comparison.json, field 'chosen_model': {_shown(chosen)} is not one of "
                              f"{', '.join(MODELS)}")
    return {"metrics": {model: _model_metrics(metrics, model) for model in MODELS},
            "disagreements": _disagreement_count(document), "chosen_model": model_name(chosen)}


# --- the hidden data -------------------------------------------------------------------------------

@dataclass
class Rows:
    """The hidden data joined by id: what the notebook read in DATA_DIR at submission time."""
    ids: np.ndarray
    labels: np.ndarray
    probabilities: dict[str, np.ndarray]

    def disagreeing(self, threshold: float) -> set[str]:
        a, b = (self.probabilities[model] >= threshold for model in MODELS)
        return set(self.ids[a != b].tolist())


def matches(reported, expected) -> np.ndarray | bool:
    """Within TOLERANCE, read as a fraction or as a percentage (87.5 for 0.875)."""
    return (np.abs(reported - expected) <= TOLERANCE) | (np.abs(reported / 100 - expected) <= TOLERANCE)


def cuts(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """The four thresholded metrics at every threshold that splits the rows (cut j holds for thresholds in
    (low[j], high[j]]). Not "all positive" or "none": those need only the labels, not the model's probabilities."""
    order = np.argsort(-probabilities, kind="stable")
    p, y = probabilities[order], labels[order]
    last = np.r_[p[1:] != p[:-1], False]  # the last row of each distinct value, but the lowest
    tp, predicted = np.cumsum(y)[last], np.arange(1, len(p) + 1)[last]
    positives, fp = int(y.sum()), predicted - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"accuracy": (tp + (len(y) - positives) - fp) / len(y), "precision": tp / predicted,
                "recall": tp / max(positives, 1), "f1": 2 * tp / (predicted + positives),
                "high": p[last], "low": p[1:][last[:-1]]}


def threshold_ranges(curve: dict[str, np.ndarray], reported: dict[str, float]) -> list[tuple[float, float]]:
    """The thresholds at which the four reported thresholded metrics are all what the data gives."""
    hit = np.all([matches(reported[metric], curve[metric]) for metric in THRESHOLDED], axis=0)
    return list(zip(curve["low"][hit].tolist(), curve["high"][hit].tolist()))


def common_threshold(ranges: list[list[tuple[float, float]]], right: float) -> float | None:
    """A threshold, other than the right one, at which every model's reported metrics hold; None if none."""
    for (low_a, high_a) in ranges[0]:
        for (low_b, high_b) in ranges[1]:
            low, high = max(low_a, low_b), min(high_a, high_b)
            if low < high and not low < right <= high:
                return high
    return None


# --- the items ---------------------------------------------------------------------------------------

def executes_item(notebook: Notebook) -> tuple[float, str]:
    code = [cell for cell in notebook.cells if cell.kind == "code" and cell.source.strip()]
    if not code:
        return 0.0, "the notebook has no code"
    if notebook.errors:
        return 0.0, f"a cell ended with an error: {notebook.errors[0]}"
    if not notebook.all_executed:
        return 0.0, "some code cells were not executed"
    return 1.0, f"{len(code)} code cells ran without error"


def metric_checks(reported: dict | None, facts: dict, rows: Rows) -> dict:
    """Each reported value's verdict (a key of POINTS), and the threshold the notebook used if not the right one."""
    if reported is None:
        return {"verdicts": {f"{m}.{k}": "missing" for m in MODELS for k in METRICS}, "own_threshold": None}
    verdicts, ranges = {}, []
    for model in MODELS:
        values = reported["metrics"][model]
        ranges.append(threshold_ranges(cuts(rows.labels, rows.probabilities[model]), values))
        for metric in METRICS:
            verdicts[f"{model}.{metric}"] = _verdict(values[metric], metric, model, facts, bool(ranges[-1]))
    return {"verdicts": verdicts, "own_threshold": common_threshold(ranges, facts["threshold"])}


def _verdict(value: float, metric: str, model: str, facts: dict, at_another_threshold: bool) -> str:
    """right; right at another threshold; a value of the public data (typed in); or wrong."""
    if matches(value, facts["metrics"][model][metric]):
        return "right"
    if metric in THRESHOLDED and at_another_threshold:
        return "another threshold"
    public = facts["public"]["metrics"]  # either model's: typed in under its own name or the other's
    return "public data" if any(matches(value, public[typed][metric]) for typed in public) else "wrong"


def metrics_match_item(checks: dict) -> float:
    """The mean of the 10 values' points: 1 right, ½ right at another threshold, 0 otherwise."""
    return sum(POINTS[verdict] for verdict in checks["verdicts"].values()) / len(checks["verdicts"])


def shown_disagreements(notebook: Notebook, disagreeing: set[str]) -> tuple[int, int]:
    """(disagreeing ids shown, all row ids shown) by the code cell whose outputs show the most disagreeing rows."""
    best = (0, 0)
    for cell in notebook.cells:
        shown = set(ROW_ID.findall("\n".join(cell.text_outputs)))
        if shown:
            hits = len(shown & disagreeing)
            if (hits, -len(shown)) > (best[0], -best[1]):
                best = (hits, len(shown))
    return best


def _lists(notebook: Notebook, disagreeing: set[str]) -> tuple[bool, tuple[int, int]]:
    hits, shown = shown_disagreements(notebook, disagreeing)
    return hits >= min(MIN_SHOWN, len(disagreeing)) and hits >= MIN_SHOWN_SHARE * shown, (hits, shown)


def disagreement_item(reported: dict | None, notebook: Notebook, rows: Rows, facts: dict,
                      own_threshold: float | None) -> tuple[float, dict]:
    """½ for the right count in comparison.json, ½ for an output that lists disagreeing rows (and mostly those);
    each half at ½ when right for the threshold the notebook used instead of the priorities' one."""
    right = set(facts["disagreeing_ids"])
    own = rows.disagreeing(own_threshold) if own_threshold is not None else None
    count = None if reported is None else reported["disagreements"]
    count_points = 1.0 if count == len(right) else 0.5 if own is not None and count == len(own) else 0.0
    listed, (hits, shown) = _lists(notebook, right)
    list_points = 1.0 if listed else 0.0
    if not listed and own and _lists(notebook, own)[0]:
        list_points, (hits, shown) = 0.5, _lists(notebook, own)[1]
    found = {"count": count, "count_points": count_points, "public_count": count == facts["public"]["disagreements"],
             "list_points": list_points, "disagreeing_shown": hits, "ids_shown": shown, "own_threshold": own_threshold}
    return 0.5 * count_points + 0.5 * list_points, found


def conclusion_cell(notebook: Notebook) -> tuple[str, set[str]]:
    """The last cell that states a decision (a markdown cell's text, or a code cell's printed/displayed output),
    with the models it ships; else the last cell that says anything, shipping nothing."""
    said = []
    for cell in reversed(notebook.cells):
        text = cell.source if cell.kind == "markdown" else "\n".join(cell.text_outputs) if cell.kind == "code" else ""
        if text.strip():
            said.append(text)
            if shipped := decisions(text):
                return text, shipped
            if len(said) == MAX_CONCLUSION_CELLS:
                break
    return (said[0] if said else ""), set()


def backing(verdicts: dict[str, str], priority: str) -> float:
    """1 if the metrics the decision rests on were computed right for both models, ½ if at another threshold."""
    found = [verdicts[f"{model}.{metric}"] for model in MODELS for metric in DECISIVE[priority]]
    return min(POINTS[verdict] for verdict in found)


def conclusion_item(reported: dict | None, notebook: Notebook, facts: dict,
                    verdicts: dict[str, str]) -> tuple[float, dict]:
    """½ × the decision (chosen_model is the favoured model, backed by computed metrics) + ½ if, with such a
    decision, the conclusion ships that model and only it. Choosing by accuracy scores 0."""
    favoured = facts["favoured_model"]
    chosen = reported["chosen_model"] if reported else None
    backed = backing(verdicts, facts["priority"]) if chosen == favoured else 0.0
    text, shipped = conclusion_cell(notebook)
    prose = backed > 0 and shipped == {favoured}
    found = {"chosen_model": chosen, "chosen_right": chosen == favoured, "backing": backed, "text": text,
             "conclusion_ships": sorted(shipped), "prose_right": prose, "accuracy_leader": facts["accuracy_leader"]}
    return 0.5 * backed + 0.5 * prose, found
