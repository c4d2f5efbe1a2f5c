"""The rubric of the eda-notebook task: pure functions of an executed notebook, its figure record and the facts
of the hidden train.csv it ran on (other rows, columns and rates than the public file: outputs pasted from a run
on the public file match nothing).

Numbers are recognised in what the notebook shows (printed text, tables in text and HTML): a printed number
matches a true value when it equals it up to the printed number's own rounding. Each item returns
(points in [0, 1], details for the report); the weights are on the Evaluation page. The details name no fact of
the hidden file the notebook did not show itself (its column names, rates, counts), so that the report gives away
nothing to paste into the next submission.
"""
from __future__ import annotations

import math
import re

from eda_notebook_claims import NUMBER, Sentence, all_sentences, blocks, mentions, numbers
from eda_notebook_figures import Shown, recognise
from programlib.notebooks import Notebook
from programlib.scoring import overall

WEIGHTS = {"executes": 0.1, "loads_data": 0.1, "basic_stats": 0.15, "missingness": 0.15, "plots": 0.2,
           "problems_named": 0.3}
STATS_COLUMNS = 3  # columns whose mean and std must be shown
MIN_HISTOGRAMS, MAX_HISTOGRAMS = 3, 5  # key feature histograms; more is "every column", not a choice
RATE_TOLERANCE = 0.1  # relative to the positive rate, beyond the printed rounding
WEAK_CORRELATION = 0.9  # below it, a pair printed under a duplicates heading is listed, not called a duplicate
LOST = "why points were lost"


def printed_numbers(text: str) -> list[tuple[float, float, int]]:
    """(value, half a unit of its last printed digit, significant digits) of every number in the text."""
    found = []
    for match in re.finditer(NUMBER, text.replace(",", "")):
        token = match.group(0).lstrip("+-")
        mantissa, _, exponent = token.lower().partition("e")
        decimals = len(mantissa.partition(".")[2])
        digits = len(mantissa.replace(".", "").lstrip("0")) or 1
        try:  # '1e400' is no finite number; an exponent of 5000 digits is no int Python converts
            value = float(match.group(0))
            half_unit = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
        except (ValueError, OverflowError):
            continue
        if math.isfinite(value):
            found.append((value, half_unit, digits))
    return found


def shows(numbers_found: list[tuple[float, float, int]], true: float, min_digits: int = 3) -> bool:
    """A printed number with at least `min_digits` significant digits rounds from `true`."""
    return any(digits >= min_digits and abs(value - true) <= half_unit * 1.001 + 1e-9 * abs(true)
               for value, half_unit, digits in numbers_found)


def cell_texts(book: Notebook) -> list[str]:
    """What each code cell shows, as text (HTML tables as rows): a value counts for a column in the cell that
    names the column."""
    return ["\n".join(blocks(Notebook(book.path, [cell]))) for cell in book.cells if cell.kind == "code"]


def executes_item(book: Notebook) -> tuple[float, dict]:
    details = {"code cells": sum(1 for c in book.cells if c.kind == "code" and c.source.strip()),
               "all executed": book.all_executed, "errors": book.errors}
    points = float(book.all_executed and not book.errors)
    if not points:
        details[LOST] = "no code cell ran" if not details["code cells"] else "a code cell did not run or failed"
    return points, details


def loads_data_item(book: Notebook, facts: dict) -> tuple[float, dict]:
    outputs = "\n".join(cell_texts(book))
    count = any(value == facts["n_rows"] for value, _, _ in printed_numbers(outputs))
    names = [name for name in facts["features"] + [facts["label"]] if mentions(name).search(outputs)]
    enough = 2 * len(names) >= facts["n_columns"]
    details = {"shows the row count of the file it ran on": count,
               "names at least half of its columns": enough}
    if not (count and enough):
        details[LOST] = ("outputs computed on the hidden train.csv show its row count and its columns (e.g. "
                         "frame.shape and frame.head()); numbers pasted from the public file do not match")
    return 0.5 * count + 0.5 * enough, details


def basic_stats_item(book: Notebook, facts: dict) -> tuple[float, dict]:
    shown = set()
    for text in cell_texts(book):
        found = printed_numbers(text)
        shown |= {name for name, stats in facts["stats"].items() if mentions(name).search(text)
                  and shows(found, stats["mean"]) and shows(found, stats["std"])}
    details = {"columns with mean and std shown": sorted(shown)}
    if len(shown) < STATS_COLUMNS:
        details[LOST] = (f"{STATS_COLUMNS} feature columns need their true mean and standard deviation (3 significant "
                         f"digits) in the output of a cell that names them; {len(shown)} found")
    return min(1.0, len(shown) / STATS_COLUMNS), details


def shows_missing(found, missing: dict) -> bool:
    """The missing count (exactly), or the fraction, or the percentage (rounded, at least 2 digits)."""
    return (any(value == missing["count"] for value, _, _ in found)
            or shows(found, missing["fraction"], 2) or shows(found, 100 * missing["fraction"], 2))


def missingness_item(book: Notebook, facts: dict) -> tuple[float, dict]:
    texts = [(text, printed_numbers(text)) for text in cell_texts(book)]
    kinds = {facts["heavy_missing"]: "heavily", facts["light_missing"]: "lightly"}
    found = {f"the {kinds.get(name, 'other')} missing column: its missing count or share shown":
             any(mentions(name).search(text) and shows_missing(numbers_found, m) for text, numbers_found in texts)
             for name, m in facts["missing"].items()}
    details = dict(found)
    if not all(found.values()):
        details[LOST] = ("each column with missing values needs its missing count, fraction or percentage in the "
                         "output of a cell that names it")
    return sum(found.values()) / len(found), details


def plots_item(shown: Shown | None, columns: dict | None, facts: dict) -> tuple[float, dict]:
    if shown is None or columns is None:
        return 0.0, {"figures recorded": 0, LOST: "no matplotlib figure was shown (the record of the notebook's "
                                                  "figures is missing)"}
    label_plot, features = recognise(shown, columns, facts["label"])
    n = len(features)
    histogram_points = min(n, MIN_HISTOGRAMS) / MIN_HISTOGRAMS if n <= MAX_HISTOGRAMS else 0.5
    details = {"figures shown": shown.recorded - shown.unshown,
               "the label distribution (its two class counts or shares)": label_plot,
               "feature columns shown as histograms of their values": features}
    reasons = ([] if label_plot else ["no shown figure has the label's class counts"]) + (
        [f"{n} feature histograms match the data (3 to 5 wanted)"] if histogram_points < 1 else [])
    if reasons:
        details[LOST] = "; ".join(reasons)
    return label_plot / 3 + 2 * histogram_points / 3, details


def figure_findings(shown: Shown | None) -> list[list[str]]:
    """For the report: what was recognised in each shown axes."""
    if shown is None:
        return []
    return [[f"figure {axes.figure + 1}", axes.title or "(no title)", "; ".join(axes.found) or "nothing recognised"]
            for axes in shown.axes if axes.groups or axes.wedges]


# --- problems named ---------------------------------------------------------------------------------

def problem_columns(facts: dict) -> dict[str, set[str]]:
    return {"constant": {facts["constant"]}, "missing": set(facts["missing"]), "duplicate": set(facts["duplicate"])}


def verdict(kind: str, column: str, sentence: Sentence, truths: dict[str, set[str]]) -> str | None:
    """'true', 'false', or None for a claim that is neither: a column with another problem the same sentence
    names ("x (constant), y (69% missing)"), or a clean column said to have 0 missing values."""
    if column in truths[kind]:
        return "true"
    if any(column in truths[other] for other in sentence.claims.get(column, set()) & truths.keys()):
        return None
    stated = numbers(sentence.text)
    if kind == "missing" and 0.0 in stated:
        return None  # "x: 0 missing", a row of isna().sum(): a true statement
    shares = [abs(value) for value in stated if abs(value) <= 1]
    if kind == "duplicate" and sentence.inherited and shares and max(shares) < WEAK_CORRELATION:
        return None  # a weak pair listed under a "highly correlated pairs" heading (a top-k list)
    return "false"


def judge_claims(sentences: list[Sentence], facts: dict) -> dict[str, dict[str, dict[str, str]]]:
    """Per problem, the columns claimed truly and falsely, each with the first sentence that claimed it."""
    truths = problem_columns(facts)
    verdicts = {kind: {"true": {}, "false": {}} for kind in truths}
    for sentence in sentences:
        for column in dict.fromkeys(sentence.columns):
            for kind in sentence.claims.get(column, set()) & truths.keys():
                found = verdict(kind, column, sentence, truths)
                if found:
                    verdicts[kind][found].setdefault(column, sentence.text)
    for claims in verdicts.values():
        claims["false"] = {c: s for c, s in claims["false"].items() if c not in claims["true"]}
    return verdicts


def precision_factor(claims: dict[str, dict[str, str]]) -> float:
    """1 when at most a third of the columns claimed are wrong, 0 when two thirds are: claiming a problem for
    every column names none."""
    true, false = len(claims["true"]), len(claims["false"])
    return min(1.0, max(0.0, 3 * true / max(1, true + false) - 1))


def rate_values(text: str) -> list[tuple[float, float]]:
    """(share, half a unit of its printed rounding) of each percentage and each fraction below 1 in the text."""
    found = []
    for match in re.finditer(rf"({NUMBER})\s*(%|percent)?", text.replace(",", "")):
        try:
            value = float(match.group(1))
        except (ValueError, OverflowError):
            continue
        decimals = len(match.group(1).partition(".")[2]) if "e" not in match.group(1).lower() else 6
        if match.group(2) and 0 < value < 100:
            found.append((value / 100, 0.5 * 10.0 ** -decimals / 100))
        elif not match.group(2) and 0 < value < 1:
            found.append((value, 0.5 * 10.0 ** -decimals))
    return found


def gives_ratio(text: str, facts: dict) -> bool:
    """'a ratio of 32:1', '1 in 33 rows': the classes' ratio within RATE_TOLERANCE."""
    ratio = (facts["n_rows"] - facts["positives"]) / max(1, facts["positives"])
    found = [max(float(a), float(b)) / max(min(float(a), float(b)), 1e-9)
             for a, b in re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)(?![\w.])", text)]
    found += [float(n) - 1 for n in re.findall(r"\b1 (?:in|out of) (\d+(?:\.\d+)?)(?![\w.])", text)]
    return any(abs(value - ratio) <= RATE_TOLERANCE * ratio for value in found)


def rate_sentence(sentence: Sentence, facts: dict) -> bool | None:
    """True: it gives the positive rate (or the negative one, 'k of n' rows, the ratio, or, on a line of the
    label's class counts, the positive count); False: it gives rates, mostly wrong ones; None: it gives none."""
    rate = facts["positive_rate"]
    given = numbers(sentence.text)
    if (facts["positives"] in given and (facts["n_rows"] in given or "label shares" in sentence.kinds)
            or gives_ratio(sentence.text, facts)):
        return True
    values = rate_values(sentence.text)
    if not values:
        return None
    tolerance = RATE_TOLERANCE * min(rate, 1 - rate)
    right = sum(1 for value, half_unit in values
                if min(abs(value - rate), abs(value - (1 - rate))) <= max(half_unit * 1.001, tolerance))
    return right > 0 and right >= len(values) - right


def names_rate(sentences: list[Sentence], facts: dict) -> tuple[bool, str]:
    """The imbalance is named with the rate: sentences giving the true rate are at least as many as those giving
    a wrong one (a list of every rate, or rates pasted from the public file, do not count). Where a sentence
    names the imbalance without a rate ("the classes are imbalanced"), the lines of the label's class counts
    or shares (value_counts) give it."""
    about = [s for s in sentences if "imbalance" in s.kinds]
    if any(rate_sentence(s, facts) is None for s in about):
        about += [s for s in sentences if "label shares" in s.kinds and "imbalance" not in s.kinds]
    verdicts = [(rate_sentence(s, facts), s.text) for s in about]
    right = [text for found, text in verdicts if found is True]
    wrong = [text for found, text in verdicts if found is False]
    if right and len(right) >= len(wrong):
        return True, right[0]
    return False, (f"{len(wrong)} sentence(s) about the imbalance give a wrong rate, e.g. {wrong[0]!r}" if wrong
                   else "no sentence about the imbalance gives the positive rate")


def pair_named(sentences: list[Sentence], pair: list[str]) -> str | None:
    """The first sentence that calls both columns of the pair near-duplicates."""
    return next((s.text for s in sentences if all("duplicate" in s.claims.get(name, set()) for name in pair)), None)


def problems_named_item(book: Notebook, facts: dict) -> tuple[float, dict]:
    sentences = all_sentences(book, facts["features"], facts["label"])
    claims = judge_claims(sentences, facts)
    factors = {kind: precision_factor(found) for kind, found in claims.items()}
    rate_ok, rate_note = names_rate(sentences, facts)
    a, b = facts["duplicate"]
    found = {
        "imbalance": (rate_ok, rate_note),
        "constant": (facts["constant"] in claims["constant"]["true"],
                     claims["constant"]["true"].get(facts["constant"])),
        "missing": (facts["heavy_missing"] in claims["missing"]["true"],
                    claims["missing"]["true"].get(facts["heavy_missing"])),
        "duplicate": (pair_named(sentences, [a, b]) is not None, pair_named(sentences, [a, b])),
    }
    points = {kind: float(ok) * factors.get(kind, 1.0) for kind, (ok, _) in found.items()}
    return sum(points.values()) / len(points), problem_details(facts, found, claims, points)


def problem_details(facts: dict, found: dict, claims: dict, points: dict) -> dict:
    titles = {"imbalance": "class imbalance, with the positive rate", "constant": "the constant column",
              "missing": "the heavily missing column", "duplicate": "the near-duplicate pair"}
    details = {}
    for kind, (ok, where) in found.items():
        details[f"{titles[kind]}: named"] = f"yes: {where!r}" if ok else f"no ({where or 'not found'})"
        wrong = claims.get(kind, {}).get("false", {})
        if wrong:  # how many, not which: which columns lack a problem is a fact of the hidden file
            example = next(iter(wrong.values()))
            details[f"{titles[kind]}: columns claimed that do not have it"] = f"{len(wrong)}, e.g. {example!r}"
        details[f"{titles[kind]}: points"] = points[kind]
    lost = [kind for kind, value in points.items() if value < 1]
    if lost:
        details[LOST] = ("a problem counts when a sentence names it with its column(s) (the rate, for the imbalance); "
                         "claiming it for columns without it costs points; lost on: " + ", ".join(lost))
    return details


def score_notebook(book: Notebook, facts: dict, shown: Shown | None = None,
                   columns: dict | None = None) -> tuple[dict[str, float], dict[str, dict]]:
    results = {"executes": executes_item(book), "loads_data": loads_data_item(book, facts),
               "basic_stats": basic_stats_item(book, facts), "missingness": missingness_item(book, facts),
               "plots": plots_item(shown, columns, facts), "problems_named": problems_named_item(book, facts)}
    items = {key: float(points) for key, (points, _) in results.items()}
    return {**items, "score": overall(items, WEIGHTS)}, {key: details for key, (_, details) in results.items()}
