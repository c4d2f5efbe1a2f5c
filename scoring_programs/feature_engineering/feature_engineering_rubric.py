"""The rubric of the feature-engineering task: pure functions of the numbers the scorer has read.

Each item returns (points in [0, 1], a sentence saying why) for the detailed results.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from programlib import SubmissionError
from programlib.tables import parse_numbers, read_csv_table

ENTRY = "train.py"
NOTEBOOK = "experiment.ipynb"  # the experiment section: run as extra runs, it writes the table it shows
PREDICTIONS = "predictions.csv"
COMPARISON = "comparison.csv"
REQUIRED_ROWS = ("baseline", "new")
WEIGHTS = {"test_auc": 0.3, "improvement": 0.3, "comparison_table": 0.25, "reproducible": 0.15}
# What each check of the table is worth: the baseline row, the new row, and the gain it claims.
CHECKS = {"baseline": 0.25, "new": 0.4, "gain": 0.35}
ORACLE_SLACK = 0.08  # full test_auc marks this close to the AUC of the true probabilities (per-user estimates are noisy)
FULL_GAIN = 0.08  # full improvement marks for this much hidden-test AUC over the baseline's
SIGMAS = 3.0  # a table number this many standard errors (holdout + test noise) from the measured one is wrong
MIN_GAP = 0.02  # never demand more agreement than this, however large the data
TOLERANCE = 1e-6  # the rerun's table: same code, same data, fixed seeds give the same numbers


def auc_standard_error(auc: float, positives: float, negatives: float) -> float:
    """Hanley & McNeil (1982): the standard error of an AUC measured on this many positives and negatives."""
    auc = min(max(auc, 0.5), 0.999)
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2))
    return math.sqrt(max(variance, 0.0) / max(positives * negatives, 1.0))


def agreement_gap(auc: float, n_train: int, train_rate: float, test_positives: int, test_negatives: int) -> float:
    """How far a validation AUC (a quarter of train.csv held out) may honestly be from a hidden-test AUC."""
    n_valid = n_train / 4
    valid = auc_standard_error(auc, n_valid * train_rate, n_valid * (1 - train_rate))
    test = auc_standard_error(auc, test_positives, test_negatives)
    return max(MIN_GAP, SIGMAS * math.hypot(valid, test))


def test_auc_item(auc: float, oracle_auc: float) -> tuple[float, str]:
    ceiling = oracle_auc - ORACLE_SLACK
    points = min(1.0, max(0.0, (auc - 0.5) / (ceiling - 0.5)))
    return points, f"(AUC {auc:.4f} − 0.5) / ({ceiling:.4f} − 0.5), clipped to [0, 1]"


def improvement_item(auc: float, baseline_auc: float) -> tuple[float, str]:
    gain = auc - baseline_auc
    return min(1.0, max(0.0, gain / FULL_GAIN)), f"gain {gain:+.4f} over the baseline; full marks from {FULL_GAIN}"


def read_comparison(path: Path, name: str) -> dict[str, float]:
    """comparison.csv → {model: valid_auc}; any other columns are allowed; both required rows must be there."""
    if not path.is_file():
        raise SubmissionError(f"{name}: file not found")
    try:
        header = next(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))), [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise SubmissionError(f"{name}: cannot read it as UTF-8 CSV ({error})") from None
    header = [column.strip() for column in header]
    missing = [column for column in ("model", "valid_auc") if column not in header]
    if missing:
        raise SubmissionError(f"{name}, line 1: missing column(s) {', '.join(missing)}; the header must hold "
                              f"model and valid_auc (e.g. model,features,valid_auc)")
    frame = read_csv_table(path, header, name=name)
    values = parse_numbers(frame, "valid_auc", name=name, low=0.0, high=1.0)
    table: dict[str, float] = {}
    for row, (model, value) in enumerate(zip(frame["model"].astype(str).str.strip().str.lower(), values)):
        if model in table:
            raise SubmissionError(f"{name}, line {row + 2}, column 'model': {model!r} appears twice")
        table[model] = float(value)
    absent = [model for model in REQUIRED_ROWS if model not in table]
    if absent:
        raise SubmissionError(f"{name}: no row with model = {' or '.join(absent)}; the table needs the rows "
                              f"{' and '.join(REQUIRED_ROWS)}")
    return table


def table_checks(table: dict[str, float], auc: float, baseline: dict[str, float], gap: float) -> dict[str, bool]:
    """Each number of the table against what the scorer measured on the hidden data (baseline: the baseline
    train.py's own holdout AUC or its hidden-test AUC; new: your predictions' hidden-test AUC)."""
    hidden_gain = auc - baseline["test"]
    return {"baseline": min(abs(table["baseline"] - baseline["valid"]), abs(table["baseline"] - baseline["test"])) <= gap,
            "new": abs(table["new"] - auc) <= gap,
            "gain": abs((table["new"] - table["baseline"]) - hidden_gain) <= gap}


def comparison_item(table: dict[str, float] | None, auc: float, baseline: dict[str, float],
                    gap: float) -> tuple[float, str]:
    """The share (by CHECKS' weights) of the table's numbers that agree with the re-measurement."""
    if table is None:
        return 0.0, f"no {COMPARISON} written by the executed {NOTEBOOK}"
    passed = table_checks(table, auc, baseline, gap)
    points = sum(CHECKS[name] for name, ok in passed.items() if ok)
    said = {"baseline": "baseline row", "new": "new row", "gain": "claimed gain (new − baseline)"}
    verdicts = [f"{said[name]} {'agrees' if ok else 'does not agree'}" for name, ok in passed.items()]
    return points, (f"{'; '.join(verdicts)} with what the scorer measured on the hidden data (allowed gap "
                    f"{gap:.3f}: three standard errors of a holdout AUC against a test AUC)")


def trusted(points: float, why: str, table_points: float) -> tuple[float, str]:
    """A model item counts in proportion to the square of the table's share of verified numbers: results
    reported with made-up numbers are not results a reviewer can accept."""
    if table_points >= 1:
        return points, why
    return points * table_points**2, f"{why}; × {table_points:.2f}² as only that share of the table checks out"


def reproducible_item(table: dict[str, float] | None, rerun: dict[str, float] | None, note: str,
                      table_right: bool = True) -> tuple[float, str]:
    if table is None:
        return 0.0, f"no {COMPARISON} to reproduce"
    if not table_right:
        return 0.0, "reproducing a table that does not agree with the hidden data counts for nothing"
    if rerun is None:
        return 0.0, note
    if set(table) != set(rerun):
        return 0.0, f"the second run's table has other rows: {sorted(rerun)} instead of {sorted(table)}"
    worst = max(abs(table[model] - rerun[model]) for model in table)
    if not math.isfinite(worst) or worst > TOLERANCE:
        return 0.0, f"the second run's valid_auc differs by up to {worst:.3g} (allowed {TOLERANCE:g})"
    return 1.0, f"the second run gave the same table (largest difference {worst:.3g})"


