"""The iMet kit's shipped weights: used (inference only) when they fit the data, training otherwise; the committed
weights/default.safetensors is what its JSON says."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, load_module

TASK = "imet-2020-fgvc7"
KIT = ROOT / "starting_kits" / TASK
WEIGHTS = KIT / "weights" / "default.safetensors"

scoring = load_module("imet_scoring_w", ROOT / "scoring_programs" / "imet_micro_f1" / "scoring.py")


def kit_modules():
    sys.path.insert(0, str(KIT))
    try:
        from imet_kit import weights
        from imet_kit.config import load_config
        from imet_kit.data import KaggleData
    finally:
        sys.path.remove(str(KIT))
    return weights, load_config, KaggleData


def run_kit(kit: Path, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "run.py", "--data-dir", str(data), "--output-dir", str(out), *extra],
                            cwd=kit, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def score(tiny: Path, out: Path) -> float:
    return scoring.score(tiny / "ref", out).scores["micro_f1"]


@pytest.fixture(scope="module")
def tiny(tiny_bundle, tmp_path_factory) -> Path:
    """The tiny scale's public data (data/) and answers (ref/)."""
    folder = tmp_path_factory.mktemp("imet-tiny")
    with zipfile.ZipFile(tiny_bundle(TASK)) as bundle:
        zipfile.ZipFile(io.BytesIO(bundle.read("public_data.zip"))).extractall(folder / "data")
        zipfile.ZipFile(io.BytesIO(bundle.read("reference_data.zip"))).extractall(folder / "ref")
    return folder


def copy_kit(target: Path) -> Path:
    shutil.copytree(KIT, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture(scope="module")
def smoke_kit(tiny, tmp_path_factory):
    """A copy of the kit with weights/smoke.safetensors trained on the tiny data by the documented command."""
    kit = copy_kit(tmp_path_factory.mktemp("kit") / "kit")
    saved = run_kit(kit, tiny / "data", tiny / "saved", "--config", "configs/smoke.yaml",
                    "--save-weights", "weights/smoke.safetensors")
    return kit, saved


def test_saving_trains_and_writes_weights_with_their_json(smoke_kit):
    kit, saved = smoke_kit
    assert "training: --train" in saved.stdout and "resnet10t epoch 1/1" in saved.stdout
    meta = json.loads((kit / "weights" / "smoke.json").read_text())
    assert meta["weights_sha256"] == hashlib.sha256((kit / "weights" / "smoke.safetensors").read_bytes()).hexdigest()
    assert meta["image_size"] == 48 and meta["n_classes"] == 35 and meta["config_file"] == "configs/smoke.yaml"
    assert 0.0 < meta["threshold"] < 1.0 and meta["dtype"].startswith("int8 kernels")


def test_matching_weights_run_inference_only_and_score(smoke_kit, tiny, tmp_path):
    kit, _ = smoke_kit
    result = run_kit(kit, tiny / "data", tmp_path / "out", "--config", "configs/smoke.yaml")
    assert "inference only: loaded the shipped weights smoke.safetensors" in result.stdout
    assert "training:" not in result.stdout and "epoch" not in result.stdout + result.stderr
    assert json.loads((tmp_path / "out" / "run_summary.json").read_text())["mode"] == "inference-only"
    # the same predictions as the run that saved them (which predicted with the weights as saved)
    assert (tmp_path / "out" / "submission.csv").read_bytes() == (tiny / "saved" / "submission.csv").read_bytes()
    assert score(tiny, tmp_path / "out") > 0.2


def test_weights_for_another_label_set_fall_back_to_training(smoke_kit, tiny, tmp_path):
    kit = copy_kit(tmp_path / "kit")
    (kit / "weights").mkdir(exist_ok=True)
    shutil.copy2(smoke_kit[0] / "weights" / "smoke.safetensors", kit / "weights")
    meta = json.loads((smoke_kit[0] / "weights" / "smoke.json").read_text())
    meta.update(n_classes=34, label_set_sha256="0" * 64)
    (kit / "weights" / "smoke.json").write_text(json.dumps(meta))
    result = run_kit(kit, tiny / "data", tmp_path / "out", "--config", "configs/smoke.yaml")
    assert "training: the weights are for another label set (34 attributes) than labels.csv (35 attributes)" \
        in result.stdout
    assert "resnet10t epoch 1/1" in result.stdout and "inference only" not in result.stdout
    assert json.loads((tmp_path / "out" / "run_summary.json").read_text())["mode"] == "trained"
    assert score(tiny, tmp_path / "out") > 0.0


def test_what_makes_weights_not_fit(smoke_kit, tiny, tmp_path):
    weights, load_config, KaggleData = kit_modules()
    kit, _ = smoke_kit
    path = kit / "weights" / "smoke.safetensors"
    config = load_config(kit / "configs" / "smoke.yaml")
    data = KaggleData(tiny / "data", config.val_fraction, config.seed, config.max_train_images)
    assert weights.mismatch(path, config, data) is None
    config.num_workers, config.device = 4, "cpu"  # how it runs, not what it learns
    assert weights.mismatch(path, config, data) is None
    config.image_size = 64
    assert "the weights are for 48 px images, the config asks for 64 px" in weights.mismatch(path, config, data)
    config.image_size, config.epochs = 48, 2
    assert "differs from the one the weights were trained with in: epochs" in weights.mismatch(path, config, data)
    config.epochs = 1
    other = tmp_path / "data"
    shutil.copytree(tiny / "data", other)
    train = (other / "train.csv").read_text().splitlines()
    (other / "train.csv").write_text("\n".join(train[:-1]) + "\n")
    fewer = KaggleData(other, config.val_fraction, config.seed, config.max_train_images)
    assert weights.mismatch(path, config, fewer) == "the weights were trained on another train.csv"
    assert "no shipped weights for config 'smoke'" in weights.mismatch(tmp_path / "smoke.safetensors", config, data)
    damaged = tmp_path / "w"
    shutil.copytree(kit / "weights", damaged)
    (damaged / "smoke.safetensors").write_bytes((damaged / "smoke.safetensors").read_bytes()[:-1] + b"\0")
    assert "does not match the sha256" in weights.mismatch(damaged / "smoke.safetensors", config, data)


def test_committed_default_weights_match_their_json_and_the_default_config(tiny, tmp_path):
    weights, load_config, KaggleData = kit_modules()
    meta = json.loads(WEIGHTS.with_suffix(".json").read_text())
    assert meta["weights_sha256"] == hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    assert WEIGHTS.stat().st_size < 12e6
    config = load_config(KIT / "configs" / "default.yaml")
    assert meta["config"] == weights.trained_settings(config) and meta["image_size"] == config.image_size
    small = yaml.safe_load((ROOT / "bundles" / TASK / "bundle.yaml").read_text())["scales"]["small"]
    assert meta["n_classes"] == sum(small["attributes"].values()) and meta["n_train_images"] == small["n_train"]
    assert 0.0 < meta["threshold"] < 1.0
    checkpoints, _ = weights.load_weights(WEIGHTS, tmp_path)  # every tensor, every shape
    assert [c.name for c in checkpoints] == ["resnet10t_shipped_0.pth"]
    # the tiny scale is another label set: the bundle's tiny solution trains
    data = KaggleData(tiny / "data", config.val_fraction, config.seed, config.max_train_images)
    assert "another label set (139 attributes) than labels.csv (35 attributes)" in weights.mismatch(WEIGHTS, config, data)


def test_bundle_ships_the_weights_in_its_solution_and_starting_kit(tiny_bundle):
    with zipfile.ZipFile(tiny_bundle(TASK)) as bundle:
        for member in ("solution.zip", "starting_kit.zip"):
            names = zipfile.ZipFile(io.BytesIO(bundle.read(member))).namelist()
            assert {"weights/default.safetensors", "weights/default.json", "run.py"} <= set(names), member
