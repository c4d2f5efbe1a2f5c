"""tabular-baseline built from real data (`--raw-data DIR`): the pages describe that data, the target is checked."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from bundlegen.build import build_bundle
from bundlegen.data import PrepareError
from bundlegen.definition import load_all
from bundlegen.worker import run_submission
from conftest import ROOT, quiet

SOLUTION = ROOT / "starting_kits" / "tabular-baseline" / "solution"


def write_raw(folder, labels, n=300, seed=1):
    """A small tumour table whose `target` is `labels[i]`, with columns unlike the synthetic churn table."""
    rng = np.random.default_rng(seed)
    radius = rng.normal(14, 3, n).round(2)
    texture = rng.normal(19, 4, n).round(2)
    shape = rng.choice(["round", "oval", "irregular"], n)
    score = (radius - 14) / 3 + 0.8 * (shape == "irregular") + rng.normal(0, 0.5, n)
    classes = np.digitize(score, np.quantile(score, np.linspace(0, 1, len(labels) + 1)[1:-1]))
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"mean_radius": radius, "mean_texture": texture, "cell_shape": shape,
                          "target": [labels[c] for c in classes]})
    frame.to_csv(folder / "train.csv", index=False)
    return frame


def build(raw, tmp_path):
    return build_bundle(load_all()["tabular-baseline"], tmp_path / "dist", scale_name="tiny", seed=3, raw_dir=raw,
                        cache_dir=tmp_path / "cache", log=quiet)


def test_string_target_builds_a_true_bundle_that_scores(tmp_path):
    write_raw(tmp_path / "raw", ["benign", "malignant"])
    bundle = build(tmp_path / "raw", tmp_path)
    with zipfile.ZipFile(bundle) as archive:
        data_page = archive.read("pages/data.md").decode()
        overview = archive.read("pages/overview.md").decode()
        info = json.loads(archive.read("bundle.json"))
    for column in ("mean_radius", "mean_texture", "cell_shape"):
        assert f"`{column}`" in data_page
    assert "`cell_shape` | categorical text" in data_page and "`mean_radius` | numeric" in data_page
    for synthetic in ("churn", "tenure_months", "annual_income", "400", "8000"):
        assert synthetic not in data_page
    assert "| `train.csv` | 200 |" in data_page and "| `test.csv` | 100 |" in data_page
    assert "`benign` → 0, `malignant` → 1" in data_page
    assert "(`malignant`; see the Data page)" in overview
    assert info["scale"] == "tiny" and info["seed"] == 3 and info["data"] == "raw"

    result = run_submission(bundle, SOLUTION, workdir=tmp_path / "run", log=quiet)
    assert result.ok, result.error
    assert 0.6 < result.scores["roc_auc"] <= 1.0


def test_synthetic_pages_still_describe_the_churn_table(tiny_bundle):
    with zipfile.ZipFile(tiny_bundle("tabular-baseline")) as archive:
        data_page = archive.read("pages/data.md").decode()
        info = json.loads(archive.read("bundle.json"))
    assert "churned" in data_page and "`tenure_months` | numeric" in data_page and "`plan` | categorical text" in data_page
    assert "| `train.csv` | 400 |" in data_page and "| `test.csv` | 200 |" in data_page
    assert info["scale"] == "tiny" and info["seed"] == 0 and info["data"] == "synthetic"


@pytest.mark.parametrize("labels,found", [
    (["a", "b", "c"], "found 3: 'a', 'b', 'c'"),
    (["benign"], "found 1: 'benign'"),
])
def test_target_without_exactly_two_labels_is_refused(tmp_path, labels, found):
    write_raw(tmp_path / "raw", labels)
    with pytest.raises(PrepareError) as error:
        build(tmp_path / "raw", tmp_path)
    message = str(error.value)
    assert str(tmp_path / "raw" / "train.csv") in message and "column 'target'" in message and found in message


def test_missing_target_names_the_line(tmp_path):
    frame = write_raw(tmp_path / "raw", ["no", "yes"])
    frame.loc[[4, 9], "target"] = np.nan
    frame.to_csv(tmp_path / "raw" / "train.csv", index=False)
    with pytest.raises(PrepareError, match=r"column 'target': 2 row\(s\) without a label \(line 6, 11;"):
        build(tmp_path / "raw", tmp_path)


def test_cli_refuses_three_classes_without_a_traceback_and_help_names_the_raw_folder(tmp_path):
    write_raw(tmp_path / "raw", ["x", "y", "z"])
    result = subprocess.run([sys.executable, "build_bundle.py", "build", "tabular-baseline", "--scale", "tiny",
                             "--raw-data", str(tmp_path / "raw"), "--out", str(tmp_path / "dist")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "exactly two distinct labels" in result.stderr and "'x', 'y', 'z'" in result.stderr
    assert not (tmp_path / "dist" / "tabular-baseline.zip").exists()

    help_text = subprocess.run([sys.executable, "build_bundle.py", "build", "--help"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    assert "What --raw-data DIR must hold, per task" in help_text
    assert "tabular-baseline" in help_text and "train.csv with a `target` column" in help_text
    assert "takes no raw data" in help_text


def test_every_definition_validates_with_its_raw_data_line():
    tasks = load_all()
    assert all(task.model.raw_data_help for task in tasks.values())
    assert "two distinct labels" in tasks["tabular-baseline"].model.raw_data_help
