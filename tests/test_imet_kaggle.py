"""The iMet scorer against a direct micro-F1 on hundreds of random submissions Kaggle's metric accepts.

The reference reads labels as Kaggle's metric does (space-separated tokens compared as text) and counts TP, FP and
FN over all (image, label) pairs with scikit-learn's sparse MultiLabelBinarizer: an id outside 0..N-1, '007' or
'nan' is a label no image has, so a false positive.
"""
from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score
from sklearn.preprocessing import MultiLabelBinarizer

from conftest import ROOT, load_module
from programlib import SubmissionError

PROGRAM = ROOT / "scoring_programs" / "imet_micro_f1"
load_module("micro_f1", PROGRAM / "micro_f1.py")
load_module("submission_table", PROGRAM / "submission_table.py")
scoring = load_module("imet_scoring_kaggle", PROGRAM / "scoring.py")
GROUPS = ["country", "culture", "dimension", "medium", "tags"]


def reference_f1(truth: list[str], predicted: list[str]) -> float:
    true_sets, predicted_sets = [set(t.split()) for t in truth], [set(p.split()) for p in predicted]
    classes = sorted(set().union(*true_sets, *predicted_sets))
    binarizer = MultiLabelBinarizer(classes=classes, sparse_output=True)
    return float(f1_score(binarizer.fit_transform(true_sets), binarizer.transform(predicted_sets), average="micro",
                          zero_division=0.0))


def write_reference(ref, rng, n_images: int, n_attributes: int) -> list[str]:
    ref.mkdir()
    names = [f"{GROUPS[i % 5]}::a{i}" for i in range(n_attributes)]
    pd.DataFrame({"attribute_id": range(n_attributes), "attribute_name": names}).to_csv(ref / "labels.csv", index=False)
    ids = [rng.bytes(4).hex() for _ in range(n_images)]
    truth = [" ".join(map(str, rng.choice(n_attributes, size=rng.integers(1, 5), replace=False))) for _ in ids]
    pd.DataFrame({"id": ids, "attribute_ids": truth}).to_csv(ref / "test_labels.csv", index=False)
    return ids, truth


def random_cell(rng, n_attributes: int, true_cell: str) -> str:
    """Plain ids (some true), repeats, ids outside 0..N-1, non-plain numbers, NA text, or nothing."""
    kind = rng.random()
    if kind < 0.1:
        return ""
    if kind < 0.15:
        return str(rng.choice(["NA", "nan", "NaN", "null", "N/A", "None"]))
    pool = [str(rng.integers(0, n_attributes)) for _ in range(rng.integers(1, 6))]
    pool += [t for t in true_cell.split() if rng.random() < 0.6]
    if rng.random() < 0.3:
        pool += [str(rng.choice([n_attributes, n_attributes + 7, -1, 10**12])), "0" + str(rng.integers(0, n_attributes))]
    if rng.random() < 0.3:
        pool += pool[:2]  # repeated within the cell
    rng.shuffle(pool)
    return (" " if rng.random() < 0.2 else "") + " ".join(pool)


def submission_text(rng, ids: list[str], cells: list[str]) -> str:
    order = rng.permutation(len(ids))
    extra = rng.random() < 0.5  # a column Kaggle ignores, at a random place
    header, at = ["id", "attribute_ids"], int(rng.integers(0, 3))
    if extra:
        header.insert(at, "confidence")
    lines = [",".join(header)]
    for i in order:
        row = [ids[i], cells[i]]
        if extra:
            row.insert(at, f"{rng.random():.3f}")
        lines.append(",".join(row))
        if rng.random() < 0.05:
            lines.append("")  # a blank line inside: pandas skips it
    return "\n".join(lines) + "\n" + "\n" * int(rng.integers(0, 3))  # and blank lines at the end


@pytest.mark.parametrize("seed", range(300))
def test_score_equals_a_direct_micro_f1(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n_attributes, n_images = int(rng.integers(5, 40)), int(rng.integers(1, 30))
    ids, truth = write_reference(tmp_path / "ref", rng, n_images, n_attributes)
    cells = [random_cell(rng, n_attributes, t) for t in truth]
    (tmp_path / "res").mkdir()
    text = submission_text(rng, ids, cells)
    (tmp_path / "res" / "submission.csv").write_text(text)
    kaggle = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)  # Kaggle's reader accepts it
    assert sorted(kaggle["id"]) == sorted(ids)
    scored = scoring.score(tmp_path / "ref", tmp_path / "res")
    assert abs(scored.scores["micro_f1"] - reference_f1(truth, cells)) <= 1e-12


def test_na_text_is_a_false_positive_not_an_empty_prediction(tmp_path):
    rng = np.random.default_rng(0)
    ids, truth = write_reference(tmp_path / "ref", rng, 2, 6)
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "submission.csv").write_text(f"id,attribute_ids\n{ids[0]},NA\n{ids[1]},nan {truth[1]}\n")
    scored = scoring.score(tmp_path / "ref", tmp_path / "res")
    tp = len(truth[1].split())
    fn = len(truth[0].split())
    assert scored.scores["micro_f1"] == pytest.approx(2 * tp / (2 * tp + 2 + fn), abs=1e-12)
    assert "2 predicted label(s) name no attribute" in scored.report.render()


@pytest.mark.parametrize("seed", range(40))
def test_a_token_that_is_no_whole_number_is_a_false_positive_as_on_kaggle(tmp_path, seed):
    """Kaggle's metric compares tokens as text: '4.0', '+2' or 'abc' is a label no image has, not an error."""
    rng = np.random.default_rng(1000 + seed)
    ids, truth = write_reference(tmp_path / "ref", rng, int(rng.integers(2, 20)), 10)
    cells = list(truth)
    bad = int(rng.integers(0, len(ids)))
    cells[bad] = f"{cells[bad]} {rng.choice(['4.0', '1e3', '0;1', '+2', 'abc', '٣'])}"
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "submission.csv").write_text(submission_text(rng, ids, cells))
    scored = scoring.score(tmp_path / "ref", tmp_path / "res")
    assert abs(scored.scores["micro_f1"] - reference_f1(truth, cells)) <= 1e-12 and scored.scores["micro_f1"] < 1.0
    assert "1 predicted label(s) name no attribute" in scored.report.render()


@pytest.mark.parametrize("edit,message", [
    (lambda rows: rows[:-1], r"^submission\.csv: 1 test id\(s\) have no row"),
    (lambda rows: rows + [rows[1]], r"^submission\.csv, line \d+, column 'id': id '\w+' appears again \(first on line 2\)"),
    (lambda rows: rows + ["feed,1"], r"^submission\.csv, line \d+, column 'id': unknown id 'feed'"),
    (lambda rows: ["image,attribute_ids"] + rows[1:], r"^submission\.csv, line 1: missing column\(s\) 'id'"),
])
def test_what_kaggle_refuses_is_refused_with_the_file_line_and_field(tmp_path, edit, message):
    ids, truth = write_reference(tmp_path / "ref", np.random.default_rng(5), 4, 8)
    rows = ["id,attribute_ids"] + [f"{i},{t}" for i, t in zip(ids, truth)]
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "submission.csv").write_text("\n".join(edit(rows)) + "\n")
    with pytest.raises(SubmissionError, match=message):
        scoring.score(tmp_path / "ref", tmp_path / "res")
