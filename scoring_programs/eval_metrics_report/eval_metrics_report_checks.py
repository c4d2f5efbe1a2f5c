"""The rubric of the eval-metrics-report task as pure functions over what the participant's program wrote."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from programlib import SubmissionError
from programlib.checks import is_finite_number

TOLERANCE = 1e-6  # a number given to full precision, against the scorer's own computation
MIN_DECIMALS_PRECISION = 1e-3  # a rounded number counts when given to 3 decimals (0.1% as a percentage)
MIN_MODEL_AUC = 0.65  # the original script's model reaches about 0.85: predictions below are not the model's
PLOTS = ("roc_curve.png", "pr_curve.png")
MIN_SIDE, MAX_SIDE = 100, 4000  # pixels
MIN_PIXEL_STD = 0.01  # on [0, 1] intensities: a blank image has none
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A curve is judged from what the program plotted (the ingestion's plot record), not from its pixels.
ROC_AREA_TOLERANCE = 0.02  # the area under the plotted ROC line against the ROC AUC of the predictions
PR_AREA_TOLERANCE = 0.03  # step or trapezoid area of the plotted PR line against the average precision
SPAN = 0.05  # a curve runs to within this of both ends of [0, 1]
CURVE_DISTANCE = 0.01  # a plotted point this close to the scorer's curve lies on it
MIN_ON_CURVE = 0.9  # share of the plotted points that must lie on it (a few conventional end points may not)
MAX_CHECKED_POINTS = 200  # plotted points checked against the curve, evenly spread
MAX_RECORD_BYTES = 64 * 1024**2

# Links in markdown: ![alt](path "title"), [text](path), <img src="path">.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
HTML_IMAGE = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.(\d+))?)(\s*%)?")
ACCURACY_WORD = re.compile(r"(?i)accuracy")
AUC_WORD = re.compile(r"(?i)(?<![a-z])(?:roc[\s_-]*)?auc(?![a-z])|auroc|area under the (?:roc )?curve")
METRIC_FIELDS = ("accuracy", "roc_auc", "confusion_matrix", "threshold")
# Natural spellings of each field, compared lower-case without separators: "ROC AUC", "AUROC", "AUPRC"...
ALIASES = {"accuracy": ("accuracy", "acc", "evalaccuracy", "testaccuracy"),
           "roc_auc": ("rocauc", "auc", "auroc", "aucroc", "rocaucscore", "areaundertheroccurve"),
           "average_precision": ("averageprecision", "ap", "auprc", "prauc", "aucpr", "averageprecisionscore"),
           "confusion_matrix": ("confusionmatrix", "cm", "confusion"),
           "threshold": ("threshold", "decisionthreshold", "cutoff", "probabilitythreshold")}
DEFAULT_THRESHOLD = 0.5  # what predict() uses: a metrics.json without a threshold is read at it
MATRIX_KEYS = ("tn", "fp", "fn", "tp")


# --- metrics.json ----------------------------------------------------------------------------------

def _key(name) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def find_fields(document: dict) -> dict[str, tuple[str, object]]:
    """field → (the key as written, its value), by natural spelling; top level first, then one level down
    ({"metrics": {...}})."""
    places = [document] + [value for value in document.values() if isinstance(value, dict)]
    found = {}
    for place in places:
        for key, value in place.items():
            for field, spellings in ALIASES.items():
                if field not in found and _key(key) in spellings:
                    found[field] = (str(key), value)
    return found


def decimals_precision(value: float) -> float:
    """How precisely a number was written: 0.8425 → 1e-4; a number with 17 digits → about 1e-17."""
    text = repr(float(value))
    if "e" in text or "." not in text:
        return 1.0 if "e" not in text else TOLERANCE
    return 10.0 ** -len(text.split(".")[1].rstrip("0") or "")


def _rate(key: str, value, *, percent_ok: bool = True) -> tuple[float, float]:
    """(fraction, precision): a fraction in [0, 1] or a percentage in (1, 100]; else the field's error."""
    if not is_finite_number(value):
        raise SubmissionError(f"metrics.json, field '{key}': {value!r} is not a number")
    written, value, precision = value, float(value), decimals_precision(value)
    if 0.0 <= value <= 1.0:
        return value, precision
    if percent_ok and 1.0 < value <= 100.0:
        return value / 100, precision / 100
    raise SubmissionError(f"metrics.json, field '{key}': {written!r} is outside [0, 1] (or [0, 100] as a percentage)")


def _threshold(found: dict) -> float:
    if "threshold" not in found:
        return DEFAULT_THRESHOLD
    key, value = found["threshold"]
    if not is_finite_number(value) or not 0.0 < value < 1.0:
        shown = value if is_finite_number(value) else repr(value)
        raise SubmissionError(f"metrics.json, field '{key}': {shown} is outside (0.0, 1.0)" if is_finite_number(value)
                              else f"metrics.json, field '{key}': {shown} is not a number")
    return float(value)


def _matrix(key: str, matrix) -> list[list[int]]:
    """[[tn, fp], [fn, tp]], or {"tn": …, "fp": …, "fn": …, "tp": …}."""
    if isinstance(matrix, dict) and {_key(k) for k in matrix} >= set(MATRIX_KEYS):
        by_key = {_key(k): v for k, v in matrix.items()}
        matrix = [[by_key["tn"], by_key["fp"]], [by_key["fn"], by_key["tp"]]]
    shape_ok = (isinstance(matrix, list) and len(matrix) == 2
                and all(isinstance(row, list) and len(row) == 2 for row in matrix))
    if not shape_ok:
        raise SubmissionError(f"metrics.json, field '{key}': {matrix!r} is not a 2×2 list [[tn, fp], [fn, tp]] "
                              "(or an object with tn, fp, fn, tp)")
    for row in matrix:
        for count in row:
            if not is_finite_number(count) or count < 0 or count != int(count):
                raise SubmissionError(f"metrics.json, field '{key}': {count!r} is not a count "
                                      "(a non-negative integer)")
    return [[int(count) for count in row] for row in matrix]


def parse_metrics(document) -> dict:
    """metrics.json read as a reviewer reads it: natural key spellings, fractions or percentages. Each rate is
    (value, precision written); anything malformed is the participant's error, named by field."""
    if not isinstance(document, dict):
        raise SubmissionError("metrics.json: the top level must be an object with fields "
                              f"{', '.join(METRIC_FIELDS)}")
    found = find_fields(document)
    missing = [field for field in ("accuracy", "roc_auc", "confusion_matrix") if field not in found]
    if missing:
        raise SubmissionError(f"metrics.json: field(s) {', '.join(repr(f) for f in missing)} missing (expected "
                              f"{', '.join(METRIC_FIELDS)}; e.g. 'auc' or 'AUROC' are read as roc_auc)")
    parsed = {field: _rate(*found[field]) for field in ("accuracy", "roc_auc", "average_precision")
              if field in found}
    parsed["confusion_matrix"] = _matrix(*found["confusion_matrix"])
    parsed["threshold"] = _threshold(found)
    return parsed


# --- the scorer's own numbers and the items ----------------------------------------------------------

def scorer_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """What metrics.json must say: class 1 when probability >= threshold; matrix [[tn, fp], [fn, tp]]."""
    assert labels.shape == probabilities.shape and len(np.unique(labels)) == 2
    predicted = (probabilities >= threshold).astype(int)
    matrix = [[int(np.sum((labels == truth) & (predicted == guess))) for guess in (0, 1)] for truth in (0, 1)]
    return {"accuracy": float(np.mean(predicted == labels)), "roc_auc": float(roc_auc_score(labels, probabilities)),
            "average_precision": float(average_precision_score(labels, probabilities)),
            "confusion_matrix": matrix, "threshold": threshold}


def predictions_item(labels: np.ndarray, probabilities: np.ndarray | None) -> float:
    """1 when predictions.csv holds a real model's probabilities on the evaluation set."""
    if probabilities is None:
        return 0.0
    return float(roc_auc_score(labels, probabilities) >= MIN_MODEL_AUC)


def same_number(stated: tuple[float, float], true: float) -> bool:
    """A number equals the scorer's to the precision it was written in, at least 3 decimals (or exactly)."""
    value, precision = stated
    if abs(value - true) <= TOLERANCE:
        return True
    return precision <= MIN_DECIMALS_PRECISION + 1e-15 and abs(value - true) <= precision / 2 + 1e-9


def metrics_match_item(reported: dict | None, expected: dict | None) -> tuple[float, dict[str, bool]]:
    """An equal share for each of accuracy, ROC AUC, the confusion matrix (exact counts) and, when given, the
    average precision: each must be the scorer's number on the hidden labels."""
    if reported is None or expected is None:
        return 0.0, {"accuracy": False, "roc_auc": False, "confusion_matrix": False}
    matches = {key: same_number(reported[key], expected[key])
               for key in ("accuracy", "roc_auc", "average_precision") if key in reported}
    matches["confusion_matrix"] = reported["confusion_matrix"] == expected["confusion_matrix"]
    return sum(matches.values()) / len(matches), matches


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


def read_plot_record(path: Path) -> list[dict]:
    """The entries of the ingestion's plot record (one JSON object a line); what does not parse is no entry."""
    if not path.is_file() or path.stat().st_size > MAX_RECORD_BYTES:
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and isinstance(entry.get("axes"), list):
            entries.append(entry)
    return entries


def _line_arrays(line) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        x, y = np.asarray(line["x"], dtype=float), np.asarray(line["y"], dtype=float)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError):
        return None
    if x.ndim != 1 or x.shape != y.shape:
        return None
    keep = np.isfinite(x) & np.isfinite(y)
    return (x[keep], y[keep]) if keep.sum() >= 2 else None


def recorded_lines(entries: list[dict], image: Path) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The x/y data of the lines of the figure saved as `image` (matched by SHA-256); None if none was saved."""
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    matching = [entry for entry in entries if entry["sha256"] == digest]
    if not matching:
        return None
    lines = [_line_arrays(line) for entry in matching for axes in entry["axes"] if isinstance(axes, dict)
             for line in (axes.get("lines") if isinstance(axes.get("lines"), list) else [])]
    return [line for line in lines if line is not None]


def true_curves(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """The scorer's ROC and PR curves (as polylines) and areas, from predictions.csv and the hidden labels."""
    fpr, tpr, _ = roc_curve(labels, probabilities)
    precision, recall, _ = precision_recall_curve(labels, probabilities)
    return {"roc": (fpr, tpr, float(roc_auc_score(labels, probabilities))),
            "pr": (recall, precision, float(average_precision_score(labels, probabilities)))}


def on_curve_share(x: np.ndarray, y: np.ndarray, curve_x: np.ndarray, curve_y: np.ndarray) -> float:
    """The share of plotted points within CURVE_DISTANCE of the polyline through the scorer's curve."""
    pick = np.unique(np.linspace(0, len(x) - 1, min(len(x), MAX_CHECKED_POINTS)).astype(int))
    points = np.stack([x[pick], y[pick]], axis=1)[:, None, :]
    start = np.stack([curve_x[:-1], curve_y[:-1]], axis=1)[None]
    along = np.stack([np.diff(curve_x), np.diff(curve_y)], axis=1)[None]
    length = np.maximum((along ** 2).sum(axis=2), 1e-18)
    t = np.clip(((points - start) * along).sum(axis=2) / length, 0.0, 1.0)
    distance = np.sqrt(((points - start - t[..., None] * along) ** 2).sum(axis=2)).min(axis=1)
    return float(np.mean(distance <= CURVE_DISTANCE))


def _ordered(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The line from its low-x end; None unless x never goes back (a curve swept by a threshold)."""
    if x[0] > x[-1]:
        x, y = x[::-1], y[::-1]
    return (x, y) if np.all(np.diff(x) >= -1e-9) else None


def roc_problem(x: np.ndarray, y: np.ndarray, truth: tuple) -> str | None:
    """None when the line is the ROC curve of the predictions on the hidden labels; else what is wrong."""
    ordered = _ordered(x, y)
    if ordered is None or np.any(np.diff(ordered[1]) < -1e-9):
        return "not monotone: a ROC curve never goes back in either rate"
    x, y = ordered
    if min(x.min(), y.min()) < -1e-9 or max(x.max(), y.max()) > 1 + 1e-9:
        return "its values are not rates in [0, 1]"
    if max(x[0], y[0]) > SPAN or min(x[-1], y[-1]) < 1 - SPAN:
        return "does not run from (0, 0) to (1, 1)"
    curve_x, curve_y, auc = truth
    if abs(float(np.trapezoid(y, x)) - auc) > ROC_AREA_TOLERANCE:
        return f"the area under it ({np.trapezoid(y, x):.3f}) is not the ROC AUC of your predictions on the hidden labels"
    share = on_curve_share(x, y, curve_x, curve_y)
    if share < MIN_ON_CURVE:
        return f"only {share:.0%} of its points lie on the ROC curve of your predictions on the hidden labels"
    return None


def _pr_problem(recall: np.ndarray, precision: np.ndarray, truth: tuple) -> str | None:
    ordered = _ordered(recall, precision)
    if ordered is None:
        return "not monotone: recall only grows as the threshold falls"
    recall, precision = ordered
    if min(recall.min(), precision.min()) < -1e-9 or max(recall.max(), precision.max()) > 1 + 1e-9:
        return "its values are not rates in [0, 1]"
    if recall[0] > 2 * SPAN or recall[-1] < 1 - SPAN:
        return "its recall does not run from 0 to 1"
    curve_recall, curve_precision, ap = truth
    step, trapezoid = float(np.sum(np.diff(recall) * precision[1:])), float(np.trapezoid(precision, recall))
    if min(abs(step - ap), abs(trapezoid - ap)) > PR_AREA_TOLERANCE:
        return (f"the area under it ({step:.3f}) is not the average precision of your predictions on the hidden "
                "labels")
    share = on_curve_share(recall, precision, curve_recall, curve_precision)
    if share < MIN_ON_CURVE:
        return f"only {share:.0%} of its points lie on the PR curve of your predictions on the hidden labels"
    return None


def pr_problem(x: np.ndarray, y: np.ndarray, truth: tuple) -> str | None:
    """None when the line is the precision-recall curve (recall on x, or on y) of the hidden evaluation."""
    first = _pr_problem(x, y, truth)
    return None if first is None or _pr_problem(y, x, truth) is None else first


CURVES = {"roc_curve.png": ("roc", roc_problem), "pr_curve.png": ("pr", pr_problem)}


def curve_problem(path: Path, entries: list[dict], curves: dict | None) -> str | None:
    """None when `path` is a valid image whose recorded figure holds the right curve; else why not."""
    problem = image_problem(path)
    if problem is not None:
        return problem
    if curves is None:
        return "not checked: there are no predictions (predictions.csv) to draw the curve from"
    lines = recorded_lines(entries, path)
    if lines is None:
        return ("no record of a matplotlib figure saved as this file during the run: an image made otherwise, "
                "changed after saving or pasted in, shows nothing the scorer can check")
    kind, judge = CURVES[path.name]
    if not lines:
        return "the figure saved as this file has no plotted line"
    problems = [judge(x, y, curves[kind]) for x, y in lines]
    if None in problems:
        return None
    longest = max(range(len(lines)), key=lambda index: len(lines[index][0]))  # the likely curve: most points
    return f"no line of the figure is the expected curve; its longest line: {problems[longest]}"


def plots_item(output_dir: Path, entries: list[dict], curves: dict | None) -> tuple[float, dict[str, str | None]]:
    problems = {name: curve_problem(output_dir / name, entries, curves) for name in PLOTS}
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


def _table_columns(lines: list[str], word: re.Pattern) -> list[str]:
    """The cells below a markdown table header that names the metric: | accuracy | ROC AUC | over | 0.84 | 0.91 |."""
    found = []
    for index, line in enumerate(lines):
        if not line.strip().startswith("|"):
            continue
        header = [cell.strip() for cell in line.strip().strip("|").split("|")]
        columns = [column for column, cell in enumerate(header) if word.search(cell)]
        for row in lines[index + 1:]:
            if not row.strip().startswith("|") or not columns:
                break
            cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
            found += [cells[column] for column in columns if column < len(cells)]
    return found


def stated_values(markdown: str, word: re.Pattern) -> list[tuple[float, float]]:
    """(value, precision) of every number after `word` on the same line, or below it in a table column;
    84.2% (or 84.2 alone, a number over 1) is (0.842, 0.001)."""
    lines = markdown.splitlines()
    texts = [line[match.end():] for line in lines for match in [word.search(line)] if match]
    values = []
    for text in texts + _table_columns(lines, word):
        for number in NUMBER.finditer(text):
            decimals = len(number.group(2) or "")
            value, precision = float(number.group(1)), 10.0 ** -decimals
            if number.group(3) or 1.0 < value <= 100.0:
                value, precision = value / 100, precision / 100
            values.append((value, precision))
    return values


def states(markdown: str, word: re.Pattern, value: float) -> bool:
    """The report gives `value` (the scorer's) to at least 3 decimals (or 0.1%), where it names the metric."""
    return any(same_number(stated, value) for stated in stated_values(markdown, word))


def report_item(markdown: str | None, report_dir: Path, expected: dict | None,
                plots_ok: dict[str, bool]) -> tuple[float, dict[str, bool]]:
    """¼ for each plot linked by a relative path that resolves to it, when the plot is a verified curve (a link
    to a picture of nothing is worth nothing), ¼ each for the accuracy and the ROC AUC stated: the scorer's."""
    checks = {"links roc_curve.png (a verified curve)": False, "links pr_curve.png (a verified curve)": False,
              "states the accuracy": False, "states the ROC AUC": False}
    if markdown is None:
        return 0.0, checks
    links = linked_files(markdown, report_dir)
    for name in PLOTS:
        linked = (report_dir / name).resolve() in links and (report_dir / name).is_file()
        checks[f"links {name} (a verified curve)"] = linked and plots_ok.get(name, False)
    if expected is not None:
        checks["states the accuracy"] = states(markdown, ACCURACY_WORD, expected["accuracy"])
        checks["states the ROC AUC"] = states(markdown, AUC_WORD, expected["roc_auc"])
    return sum(checks.values()) / len(checks), checks
