"""The rubric of the eval-metrics-report task as pure functions over what the participant's program wrote."""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import numpy as np
from sklearn.metrics import roc_auc_score

from programlib import SubmissionError
from programlib.checks import is_finite_number

TOLERANCE = 1e-6  # accuracy and ROC AUC in metrics.json against the scorer's own computation
MIN_MODEL_AUC = 0.65  # the original script's model reaches about 0.85: predictions below are not the model's
PLOTS = ("roc_curve.png", "pr_curve.png")
MIN_SIDE, MAX_SIDE = 100, 4000  # pixels
MIN_PIXEL_STD = 0.01  # on [0, 1] intensities: a blank image has none
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Links in markdown: ![alt](path "title"), [text](path), <img src="path">.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
HTML_IMAGE = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.(\d+))?)(\s*%)?")
ACCURACY_WORD = re.compile(r"(?i)accuracy")
AUC_WORD = re.compile(r"(?i)(?<![a-z])(?:roc[\s_-]*)?auc(?![a-z])|area under the (?:roc )?curve")
METRIC_FIELDS = ("accuracy", "roc_auc", "confusion_matrix", "threshold")


# --- metrics.json ----------------------------------------------------------------------------------

def _number(document: dict, field: str, low: float, high: float, *, open_interval: bool = False) -> float:
    value = document.get(field)
    if not is_finite_number(value):
        raise SubmissionError(f"metrics.json, field '{field}': {value!r} is not a number")
    inside = low < value < high if open_interval else low <= value <= high
    if not inside:
        bounds = f"({low}, {high})" if open_interval else f"[{low}, {high}]"
        raise SubmissionError(f"metrics.json, field '{field}': {value!r} is outside {bounds}")
    return float(value)


def parse_metrics(document) -> dict:
    """Check metrics.json's fields; anything malformed is the participant's error, named by field."""
    if not isinstance(document, dict):
        raise SubmissionError("metrics.json: the top level must be an object with fields "
                              f"{', '.join(METRIC_FIELDS)}")
    missing = [field for field in METRIC_FIELDS if field not in document]
    if missing:
        raise SubmissionError(f"metrics.json: field(s) {', '.join(repr(f) for f in missing)} missing "
                              f"(expected {', '.join(METRIC_FIELDS)})")
    matrix = document["confusion_matrix"]
    shape_ok = (isinstance(matrix, list) and len(matrix) == 2
                and all(isinstance(row, list) and len(row) == 2 for row in matrix))
    if not shape_ok:
        raise SubmissionError(f"metrics.json, field 'confusion_matrix': {matrix!r} is not a 2×2 list "
                              "[[tn, fp], [fn, tp]]")
    for row in matrix:
        for count in row:
            if not is_finite_number(count) or count < 0 or count != int(count):
                raise SubmissionError(f"metrics.json, field 'confusion_matrix': {count!r} is not a count "
                                      "(a non-negative integer)")
    return {"accuracy": _number(document, "accuracy", 0.0, 1.0),
            "roc_auc": _number(document, "roc_auc", 0.0, 1.0),
            "threshold": _number(document, "threshold", 0.0, 1.0, open_interval=True),
            "confusion_matrix": [[int(count) for count in row] for row in matrix]}


# --- the scorer's own numbers and the items ----------------------------------------------------------

def scorer_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """What metrics.json must say: class 1 when probability >= threshold; matrix [[tn, fp], [fn, tp]]."""
    assert labels.shape == probabilities.shape and len(np.unique(labels)) == 2
    predicted = (probabilities >= threshold).astype(int)
    matrix = [[int(np.sum((labels == truth) & (predicted == guess))) for guess in (0, 1)] for truth in (0, 1)]
    return {"accuracy": float(np.mean(predicted == labels)), "roc_auc": float(roc_auc_score(labels, probabilities)),
            "confusion_matrix": matrix, "threshold": threshold}


def predictions_item(labels: np.ndarray, probabilities: np.ndarray | None) -> float:
    """1 when predictions.csv holds a real model's probabilities on the evaluation set."""
    if probabilities is None:
        return 0.0
    return float(roc_auc_score(labels, probabilities) >= MIN_MODEL_AUC)


def metrics_match_item(reported: dict | None, expected: dict | None) -> tuple[float, dict[str, bool]]:
    """⅓ for each of accuracy, ROC AUC (within TOLERANCE) and the confusion matrix (exact counts)."""
    if reported is None or expected is None:
        return 0.0, {"accuracy": False, "roc_auc": False, "confusion_matrix": False}
    matches = {"accuracy": abs(reported["accuracy"] - expected["accuracy"]) <= TOLERANCE,
               "roc_auc": abs(reported["roc_auc"] - expected["roc_auc"]) <= TOLERANCE,
               "confusion_matrix": reported["confusion_matrix"] == expected["confusion_matrix"]}
    return sum(matches.values()) / 3, matches


def image_problem(path: Path) -> str | None:
    """None for a real plot: a PNG that decodes, of a sensible size, not blank; else what is wrong."""
    if not path.is_file():
        return "missing"
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        return "not a PNG file (no PNG signature)"
    if len(data) < 24 or data[12:16] != b"IHDR":
        return "not a PNG file (no IHDR header)"
    # The size from the header, before decoding: a tiny file can hold a huge image (a decompression bomb).
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        return f"{width}×{height} pixels: a plot is {MIN_SIDE} to {MAX_SIDE} pixels on each side"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image

    try:
        pixels = np.asarray(matplotlib.image.imread(path), dtype=float)
    except Exception as error:  # a broken file raises whatever its decoder raises
        return f"does not decode as an image ({type(error).__name__})"
    if pixels.ndim not in (2, 3):
        return f"unexpected image shape {pixels.shape}"
    height, width = pixels.shape[:2]
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        return f"{width}×{height} pixels: a plot is {MIN_SIDE} to {MAX_SIDE} pixels on each side"
    if pixels.max() > 1.0:  # integer PNGs decode to 0..255 in some versions
        pixels = pixels / 255.0
    channels = pixels.reshape(height * width, -1)  # per channel: an opaque alpha channel is not a picture
    if float(channels.std(axis=0).max()) < MIN_PIXEL_STD:
        return "blank (a single colour)"
    return None


def plots_item(output_dir: Path) -> tuple[float, dict[str, str | None]]:
    problems = {name: image_problem(output_dir / name) for name in PLOTS}
    return sum(problem is None for problem in problems.values()) / len(PLOTS), problems


def linked_files(markdown: str, report_dir: Path) -> set[Path]:
    """The local files the report links to (relative links only), resolved from the report's folder."""
    found = set()
    for target in MARKDOWN_LINK.findall(markdown) + HTML_IMAGE.findall(markdown):
        try:
            parsed = urlparse(target)
            if parsed.scheme or parsed.netloc or target.startswith("/"):
                continue  # a URL or an absolute path does not travel with the report
            found.add((report_dir / PurePosixPath(unquote(parsed.path))).resolve())
        except (ValueError, OSError):  # '//[x' (a broken IPv6 host), '%00' (a null byte): links to nothing
            continue
    return found


def stated_values(markdown: str, word: re.Pattern) -> list[tuple[float, float]]:
    """(value, precision) of every number after `word` on the same line; 84.2% is (0.842, 0.001)."""
    values = []
    for line in markdown.splitlines():
        match = word.search(line)
        if not match:
            continue
        for number in NUMBER.finditer(line, match.end()):
            decimals = len(number.group(2) or "")
            value, precision = float(number.group(1)), 10.0 ** -decimals
            if number.group(3):
                value, precision = value / 100, precision / 100
            values.append((value, precision))
    return values


def states(markdown: str, word: re.Pattern, value: float) -> bool:
    """The report gives `value` to at least 3 decimals (or 0.1%) on a line that names it."""
    return any(precision <= 1e-3 + 1e-15 and abs(stated - value) <= precision / 2 + 1e-9
               for stated, precision in stated_values(markdown, word))


def report_item(markdown: str | None, report_dir: Path, reported: dict | None) -> tuple[float, dict[str, bool]]:
    """¼ for each plot linked by a relative path that resolves to it, ¼ each for accuracy and AUC stated."""
    checks = {"links roc_curve.png": False, "links pr_curve.png": False,
              "states the accuracy": False, "states the ROC AUC": False}
    if markdown is None:
        return 0.0, checks
    links = linked_files(markdown, report_dir)
    for name in PLOTS:
        checks[f"links {name}"] = (report_dir / name).resolve() in links and (report_dir / name).is_file()
    if reported is not None:
        checks["states the accuracy"] = states(markdown, ACCURACY_WORD, reported["accuracy"])
        checks["states the ROC AUC"] = states(markdown, AUC_WORD, reported["roc_auc"])
    return sum(checks.values()) / len(checks), checks
