"""Scoring program of the tabular-baseline task.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/test_labels.csv holds the hidden answers; res/ is the ingestion program's output (the
participant's files, its predictions, its logs and ingestion_result.json).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from programlib import SubmissionError
from programlib.report import Report, new_figure
from programlib.results import ingestion_outcome, output_file
from programlib.scoring import Scored, overall, run_scoring
from programlib.tables import check_ids, parse_numbers, read_csv_table

ENTRY = "baseline.py"
PREDICTIONS = "predictions.csv"
HONEST_AUC_GAP = 0.1
WEIGHTS = {"roc_auc": 0.6, "accuracy": 0.2, "cv_metrics": 0.1, "readme_snippet": 0.1}

NUMBER = re.compile(r"(?<![\d.])(\d?\.\d+|[01])(?![\d.])")
# Letters, not word boundaries, delimit the words: `val_auc` and `cv_accuracy` count.
AUC_WORD = re.compile(r"(?i)(?<![a-z])(?:roc[\s_-]*)?auc(?![a-z])")
ACCURACY_WORD = re.compile(r"(?i)(?<![a-z])acc(?:uracy)?(?![a-z])")
CV_WORD = re.compile(r"(?i)(?<![a-z])(?:folds?|cv|cross[\s_-]*validat[a-z]*|k-?fold)(?![a-z])")
COMMAND = re.compile(r"\bpython3?\s+(?:\./)?(?:[\w./-]*/)?baseline\.py\b([^\n`]*)")


# --- pure metric functions -------------------------------------------------------------------------

def binary_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    assert labels.shape == probabilities.shape and set(np.unique(labels)) <= {0, 1}
    if len(np.unique(labels)) < 2:  # our data always has both classes; AUC is undefined otherwise
        raise AssertionError("the reference labels hold a single class")
    return {"roc_auc": float(roc_auc_score(labels, probabilities)),
            "accuracy": float(np.mean((probabilities > 0.5).astype(int) == labels))}


def printed_values(text: str, word: re.Pattern) -> list[float]:
    """Values in [0, 1] printed after `word` on the same line (the first number after each mention)."""
    values = []
    for line in text.splitlines():
        match = word.search(line)
        if match:
            number = NUMBER.search(line, match.end())
            if number and 0.0 <= float(number.group(1)) <= 1.0:
                values.append(float(number.group(1)))
    return values


def cv_metrics_item(stdout: str, test_auc: float) -> tuple[float, dict]:
    aucs, accuracies = printed_values(stdout, AUC_WORD), printed_values(stdout, ACCURACY_WORD)
    facts = {"printed_auc": aucs[-1] if aucs else None, "printed_accuracy": accuracies[-1] if accuracies else None,
             "cross_validation": len(aucs) >= 3 or bool(CV_WORD.search(stdout)), "honest": False}
    if not aucs or not accuracies:
        return 0.0, facts
    facts["honest"] = abs(aucs[-1] - test_auc) <= HONEST_AUC_GAP
    return (1 + facts["cross_validation"] + facts["honest"]) / 3, facts


def readme_snippet_item(readme: str | None, script: str) -> tuple[float, dict]:
    facts = {"command": None, "unknown_options": []}
    if not readme:
        return 0.0, facts
    match = COMMAND.search(readme)
    if not match:
        return 0.0, facts
    facts["command"] = match.group(0).strip()
    options = re.findall(r"(?<!\S)(--?[A-Za-z][\w-]*)", match.group(1))
    facts["unknown_options"] = [o for o in options if not re.search(rf"""["']{re.escape(o)}["']""", script)]
    return (0.5 if facts["unknown_options"] else 1.0), facts


# --- reading the submission ------------------------------------------------------------------------

def read_ingestion(result_dir: Path) -> dict:
    outcome = ingestion_outcome(result_dir)
    if outcome is None or outcome.get("status") != "ok":
        raise SubmissionError(f"this task takes code submissions: a zip with {ENTRY} at its root, which the "
                              f"ingestion program runs")
    return outcome


def read_predictions(result_dir: Path, ids: list[str]) -> np.ndarray:
    path = output_file(result_dir, PREDICTIONS, ENTRY)
    frame = read_csv_table(path, ["id", "target"], name=PREDICTIONS)
    order = check_ids(frame, "id", ids, name=PREDICTIONS)
    return parse_numbers(frame, "target", name=PREDICTIONS, low=0.0, high=1.0)[order]


def read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None


def find_readme(folder: Path) -> str | None:
    for path in sorted(folder.glob("*")):
        if path.is_file() and path.name.lower() in ("readme.md", "readme.txt", "readme"):
            return read_text(path)
    return None


# --- the score and its report ----------------------------------------------------------------------

def score(reference_dir: Path, result_dir: Path) -> Scored:
    answers = pd.read_csv(reference_dir / "test_labels.csv", dtype={"id": str})
    ingestion = read_ingestion(result_dir)
    probabilities = read_predictions(result_dir, answers["id"].tolist())
    labels = answers["target"].to_numpy(dtype=int)
    metrics = binary_metrics(labels, probabilities)
    stdout = read_text(result_dir / "logs" / "stdout.txt") or ""
    cv_points, cv_facts = cv_metrics_item(stdout, metrics["roc_auc"])
    script = read_text(result_dir / "submission" / ENTRY) or ""
    readme_points, readme_facts = readme_snippet_item(find_readme(result_dir / "submission"), script)
    items = {**metrics, "cv_metrics": cv_points, "readme_snippet": readme_points}
    scores = {**items, "score": overall(items, WEIGHTS), "duration": float(ingestion.get("duration") or 0.0)}
    return Scored(scores, build_report(scores, labels, probabilities, cv_facts, readme_facts, stdout))


def build_report(scores, labels, probabilities, cv_facts, readme_facts, stdout) -> Report:
    report = Report("Tabular baseline: detailed results")
    report.heading("Scores")
    report.table(["item", "value", "weight"], [[key, scores[key], WEIGHTS.get(key, "")] for key in
                                                ("roc_auc", "accuracy", "cv_metrics", "readme_snippet", "score")])
    report.paragraph(f"Run time of {ENTRY}: {scores['duration']:.1f} s")
    report.heading("Checks")
    printed = cv_facts["printed_auc"]
    report.table(["check", "result"], [
        ["ROC AUC printed (last value)", "none found" if printed is None else printed],
        ["accuracy printed (last value)", "none found" if cv_facts["printed_accuracy"] is None else cv_facts["printed_accuracy"]],
        ["cross-validation shown", "yes" if cv_facts["cross_validation"] else "no"],
        [f"printed AUC within {HONEST_AUC_GAP} of the test AUC", "yes" if cv_facts["honest"] else "no"],
        ["README command", readme_facts["command"] or "none found"],
        ["options baseline.py does not define", ", ".join(readme_facts["unknown_options"]) or "none"],
    ])
    report.heading("ROC curve on the hidden test set")
    figure, axes = new_figure()
    false_positive, true_positive, _ = roc_curve(labels, probabilities)
    axes.plot(false_positive, true_positive, label=f"your model (AUC {scores['roc_auc']:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.legend(loc="lower right")
    report.figure(figure, "ROC curve")
    report.heading(f"End of what {ENTRY} printed")
    report.pre("\n".join(stdout.splitlines()[-40:]) or "(nothing)")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
