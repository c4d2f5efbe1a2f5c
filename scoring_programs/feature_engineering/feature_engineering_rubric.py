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
PREDICTIONS = "predictions.csv"
COMPARISON = "comparison.csv"
REQUIRED_ROWS = ("baseline", "new")
WEIGHTS = {"test_auc": 0.4, "improvement": 0.3, "comparison_table": 0.2, "reproducible": 0.1}
ORACLE_SLACK = 0.04  # full test_auc marks this close to the AUC of the true probabilities
FULL_GAIN = 0.08  # full improvement marks for this much hidden-test AUC over the baseline's
HONEST_GAP = 0.06  # a validation AUC this close to the hidden-test AUC is honest (tiny holdouts are noisy)
TIE = 0.005  # a hidden-test gain smaller than this has no sign to contradict
TOLERANCE = 1e-6  # the rerun's table: same code, same data, fixed seeds give the same numbers


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


def comparison_item(table: dict[str, float] | None, auc: float, baseline_auc: float) -> tuple[float, str]:
    """⅓ the table is there; ⅓ its baseline row is honest; ⅓ its new row is honest and its gain has the right sign."""
    if table is None:
        return 0.0, f"no {COMPARISON} in the folder given by --output-dir"
    baseline, new = table["baseline"], table["new"]
    baseline_honest = abs(baseline - baseline_auc) <= HONEST_GAP
    new_honest = abs(new - auc) <= HONEST_GAP
    hidden_gain = auc - baseline_auc
    sign_agrees = abs(hidden_gain) < TIE or (new - baseline) * hidden_gain > 0
    points = (1 + baseline_honest + (new_honest and sign_agrees)) / 3
    why = (f"table present; baseline row {baseline:.4f} {'within' if baseline_honest else 'not within'} "
           f"{HONEST_GAP} of the baseline's hidden-test AUC {baseline_auc:.4f}; new row {new:.4f} "
           f"{'within' if new_honest else 'not within'} {HONEST_GAP} of your hidden-test AUC {auc:.4f}; claimed "
           f"gain {new - baseline:+.4f} vs hidden-test gain {hidden_gain:+.4f}: "
           f"{'consistent' if sign_agrees else 'opposite signs'}")
    return points, why


def reproducible_item(table: dict[str, float] | None, rerun: dict[str, float] | None, note: str) -> tuple[float, str]:
    if table is None:
        return 0.0, f"no {COMPARISON} to reproduce"
    if rerun is None:
        return 0.0, note
    if set(table) != set(rerun):
        return 0.0, f"the second run's table has other rows: {sorted(rerun)} instead of {sorted(table)}"
    worst = max(abs(table[model] - rerun[model]) for model in table)
    if not math.isfinite(worst) or worst > TOLERANCE:
        return 0.0, f"the second run's valid_auc differs by up to {worst:.3g} (allowed {TOLERANCE:g})"
    return 1.0, f"the second run gave the same table (largest difference {worst:.3g})"


