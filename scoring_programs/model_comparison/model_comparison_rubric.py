"""The rubric of the model-comparison task as pure functions over the executed notebook and comparison.json."""
from __future__ import annotations

import re

from programlib import SubmissionError
from programlib.checks import is_finite_number
from programlib.notebooks import Notebook

MODELS = ("model_A", "model_B")
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
TOLERANCE = 1e-6
ROW_ID = re.compile(r"(?<![A-Za-z0-9])r\d{6}(?![0-9])")
MIN_SHOWN = 5  # disagreeing rows a table must show (all of them when there are fewer)
MIN_SHOWN_SHARE = 0.9  # of the row ids one output shows, the share that must be disagreeing rows
SHIP = re.compile(r"(?i)\bship\w*\W+(?:the\s+)?model[\s_-]?([ab])\b")


# --- comparison.json -------------------------------------------------------------------------------

def _field(document: dict, key: str, where: str):
    if not isinstance(document, dict):
        place = f"field '{where}'" if where else "the top level"
        raise SubmissionError(f"comparison.json, {place}: expected an object, found {str(document)[:80]!r}")
    if key not in document:
        raise SubmissionError(f"comparison.json: field '{where}.{key}' is missing".replace("'.", "'"))
    return document[key]


def parse_comparison(document) -> dict:
    """Check comparison.json; anything malformed is the participant's error, named by its field."""
    metrics = {}
    for model in MODELS:
        values = _field(_field(document, "metrics", ""), model, "metrics")
        metrics[model] = {}
        for metric in METRICS:
            value = _field(values, metric, f"metrics.{model}")
            if not is_finite_number(value):
                raise SubmissionError(f"comparison.json, field 'metrics.{model}.{metric}': {value!r} is not a number")
            metrics[model][metric] = float(value)
    count = _field(_field(document, "disagreements", ""), "count", "disagreements")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise SubmissionError(f"comparison.json, field 'disagreements.count': {count!r} is not a count of rows")
    chosen = _field(document, "chosen_model", "")
    if chosen not in MODELS:
        raise SubmissionError(f"comparison.json, field 'chosen_model': {chosen!r} is not one of {', '.join(MODELS)}")
    return {"metrics": metrics, "disagreements": count, "chosen_model": chosen}


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


def metrics_match_item(reported: dict | None, expected: dict) -> tuple[float, dict[str, bool]]:
    """The share of the 10 values (5 metrics × 2 models) within TOLERANCE of the scorer's."""
    matches = {f"{model}.{metric}": reported is not None and
               abs(reported["metrics"][model][metric] - expected[model][metric]) <= TOLERANCE
               for model in MODELS for metric in METRICS}
    return sum(matches.values()) / len(matches), matches


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


def disagreement_item(reported: dict | None, notebook: Notebook, disagreeing: set[str]) -> tuple[float, dict]:
    """½ for the right count in comparison.json, ½ for an output that lists disagreeing rows (and mostly those)."""
    hits, shown = shown_disagreements(notebook, disagreeing)
    needed = min(MIN_SHOWN, len(disagreeing))
    facts = {"count_right": reported is not None and reported["disagreements"] == len(disagreeing),
             "shown": hits >= needed and hits >= MIN_SHOWN_SHARE * shown, "disagreeing_shown": hits,
             "ids_shown": shown}
    return 0.5 * facts["count_right"] + 0.5 * facts["shown"], facts


def conclusion_text(notebook: Notebook) -> str:
    """The last cell that says something: a markdown cell's text, or a code cell's printed/displayed output."""
    for cell in reversed(notebook.cells):
        text = cell.source if cell.kind == "markdown" else "\n".join(cell.text_outputs) if cell.kind == "code" else ""
        if text.strip():
            return text
    return ""


def shipped_models(text: str) -> set[str]:
    return {f"model_{letter.upper()}" for letter in SHIP.findall(text)}


def conclusion_item(reported: dict | None, notebook: Notebook, favoured: str) -> tuple[float, dict]:
    """1: chosen_model and the conclusion both ship the favoured model; ½: only chosen_model does; else 0."""
    shipped = shipped_models(conclusion_text(notebook))
    facts = {"chosen_model": reported["chosen_model"] if reported else None, "conclusion_ships": sorted(shipped)}
    if reported is None or reported["chosen_model"] != favoured:
        return 0.0, facts
    if shipped == {favoured}:
        return 1.0, facts
    return (0.0 if shipped else 0.5), facts
