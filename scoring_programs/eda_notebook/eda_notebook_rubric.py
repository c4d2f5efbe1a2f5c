"""The rubric of the eda-notebook task: pure functions of an executed notebook and the planted facts.

Numbers are recognised in what the notebook shows (printed text, tables in text and HTML): a printed number
matches a true value when it equals it up to the printed number's own rounding. Each item returns
(points in [0, 1], details for the report); the weights are on the Evaluation page.
"""
from __future__ import annotations

import math
import re

from programlib.notebooks import Notebook, is_image
from programlib.scoring import overall

WEIGHTS = {"executes": 0.1, "loads_data": 0.1, "basic_stats": 0.15, "missingness": 0.15, "plots": 0.2,
           "problems_named": 0.3}
STATS_COLUMNS = 3  # columns whose mean and std must be shown
MIN_IMAGES, MAX_IMAGES = 4, 6  # the label distribution + 3-5 feature histograms
RATE_TOLERANCE = 0.01  # ±1 percentage point
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
PROBLEM_WORDS = {
    "imbalance": r"imbalanc|minority|positive rate|positives|class balance|rare class|skewed label",
    "constant": r"constant|zero variance|no variance|single (?:unique )?value|one unique value|only one value",
    "missing": r"missing|null|\bnan\b|\bna\b|empty",
    "duplicate": r"duplicat|redundan|correlat|collinear|identical|same information",
}


def printed_numbers(text: str) -> list[tuple[float, float, int]]:
    """(value, half a unit of its last printed digit, significant digits) of every number in the text."""
    found = []
    for match in NUMBER.finditer(text.replace(",", "")):
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


def shows(numbers: list[tuple[float, float, int]], true: float, min_digits: int = 3) -> bool:
    """A printed number with at least `min_digits` significant digits rounds from `true`."""
    return any(digits >= min_digits and abs(value - true) <= half_unit * 1.001 + 1e-9 * abs(true)
               for value, half_unit, digits in numbers)


def executes_item(book: Notebook) -> tuple[float, dict]:
    details = {"code cells": sum(1 for c in book.cells if c.kind == "code" and c.source.strip()),
               "all executed": book.all_executed, "errors": book.errors}
    return float(book.all_executed and not book.errors), details


def loads_data_item(book: Notebook, facts: dict) -> tuple[float, dict]:
    reads = "train.csv" in book.code
    count = any(value == facts["n_rows"] for value, _, _ in printed_numbers(book.outputs))
    return 0.5 * reads + 0.5 * count, {"code reads train.csv": reads, f"shows the row count {facts['n_rows']}": count}


def basic_stats_item(book: Notebook, facts: dict) -> tuple[float, dict]:
    numbers = printed_numbers(book.outputs)
    shown = sorted(name for name, stats in facts["stats"].items()
                   if shows(numbers, stats["mean"]) and shows(numbers, stats["std"]))
    return min(1.0, len(shown) / STATS_COLUMNS), {"columns with mean and std shown": shown}


def shows_missing(numbers, missing: dict) -> bool:
    """The missing count (exactly), or the fraction, or the percentage (rounded, at least 2 digits)."""
    return (any(value == missing["count"] for value, _, _ in numbers)
            or shows(numbers, missing["fraction"], 2) or shows(numbers, 100 * missing["fraction"], 2))


def missingness_item(book: Notebook, facts: dict) -> tuple[float, dict]:
    numbers = printed_numbers(book.outputs)
    found = {f"{name}: {m['count']} missing ({m['fraction']:.1%})": shows_missing(numbers, m)
             for name, m in facts["missing"].items()}
    return sum(found.values()) / len(found), found


def plots_item(book: Notebook, facts: dict) -> tuple[float, dict]:
    images = [image for image in book.images if is_image(image)]
    n = len(images)
    count_points = 1.0 if MIN_IMAGES <= n <= MAX_IMAGES else (n / MIN_IMAGES if n < MIN_IMAGES else 0.5)
    names = [facts["label"]] + label_aliases(book.code, facts["label"])
    label = re.compile("|".join(mentions(name).pattern for name in names))
    label_plot = any(cell.images and label.search(cell.source) for cell in book.cells if cell.kind == "code")
    details = {"images": n, "a cell that draws an image uses the label column": label_plot}
    return 0.75 * count_points + 0.25 * label_plot, details


def label_aliases(code: str, label: str) -> list[str]:
    """Variables the code sets to the label's name (`LABEL = "label"`), which then stand for it."""
    return re.findall(rf"""(?m)^\s*([A-Za-z_]\w*)\s*=\s*["']{re.escape(label)}["']\s*(?:#.*)?$""", code)


def mentions(name: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def text_lines(book: Notebook) -> list[str]:
    """The notebook's prose and printed text, line by line: markdown cells and text outputs."""
    return [line for text in [book.markdown, book.outputs] for line in text.splitlines() if line.strip()]


def names_problem(lines: list[str], words: str, required: list[str], features: list[str], max_names: int) -> bool:
    """A line with a word of the problem that names every required column and few others (not a table dump)."""
    word = re.compile(words, re.I)
    patterns = {name: mentions(name) for name in features}
    for line in lines:
        if not word.search(line) or not all(patterns[name].search(line) for name in required):
            continue
        if sum(1 for pattern in patterns.values() if pattern.search(line)) <= max_names:
            return True
    return False


def names_rate(lines: list[str], rate: float) -> bool:
    """A line about the imbalance with the positive rate as a percentage (3.1%) or a fraction (0.031), ±1 point."""
    word = re.compile(PROBLEM_WORDS["imbalance"], re.I)
    for line in lines:
        if not word.search(line):
            continue
        for match in re.finditer(r"(?<![\w.])(\d+(?:\.\d+)?)\s*%|(?<![\w.])(0?\.\d+)(?![\w.%])", line):
            value = float(match.group(1)) / 100 if match.group(1) else float(match.group(2))
            if math.isfinite(value) and abs(value - rate) <= RATE_TOLERANCE + 1e-12:
                return True
    return False


def problems_named_item(book: Notebook, facts: dict) -> tuple[float, dict]:
    lines, features = text_lines(book), facts["features"]
    a, b = facts["duplicate"]
    found = {
        f"imbalance, positive rate {facts['positive_rate']:.1%}": names_rate(lines, facts["positive_rate"]),
        f"constant column {facts['constant']}": names_problem(
            lines, PROBLEM_WORDS["constant"], [facts["constant"]], features, 2),
        f"heavy missingness in {facts['heavy_missing']}": names_problem(
            lines, PROBLEM_WORDS["missing"], [facts["heavy_missing"]], features, 2),
        f"near-duplicate columns {a} and {b}": names_problem(lines, PROBLEM_WORDS["duplicate"], [a, b], features, 3),
    }
    return sum(found.values()) / len(found), found


def score_notebook(book: Notebook, facts: dict) -> tuple[dict[str, float], dict[str, dict]]:
    results = {"executes": executes_item(book), "loads_data": loads_data_item(book, facts),
               "basic_stats": basic_stats_item(book, facts), "missingness": missingness_item(book, facts),
               "plots": plots_item(book, facts), "problems_named": problems_named_item(book, facts)}
    items = {key: float(points) for key, (points, _) in results.items()}
    return {**items, "score": overall(items, WEIGHTS)}, {key: details for key, (_, details) in results.items()}
