"""The bundle format (bundlegen/bundle_format.py) as the builder writes it and the worker and server read it, and
programlib.transfer.replace_atomically, the one write-then-rename of the builder and the server."""
from __future__ import annotations

import os
import secrets
import stat
import zipfile
from pathlib import Path

import pytest

from bundlegen import bundle_format
from bundlegen.build import DatasetsWritten, build_with_data_keys
from bundlegen.bundle_format import (BUNDLE_INFO, COMPETITION, FILES, BundleInfo, NotInBundle, bundle_files,
                                     bundle_info_text, read_bundle_info, reference_solution, sample_submission)
from bundlegen.definition import load_all
from bundlegen.worker import Bundle
from programlib.transfer import replace_atomically

from conftest import quiet


# --- replace_atomically -----------------------------------------------------------------------------------

def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_replace_atomically_writes_a_new_ordinary_file_and_replaces_an_old_one(tmp_path, umask):
    target = tmp_path / "result.json"
    previous = os.umask(umask)
    try:
        replace_atomically(target, b"first")
        assert target.read_bytes() == b"first" and stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
        replace_atomically(target, lambda out: out.write(b"second"))  # or a function that writes to the file
    finally:
        os.umask(previous)
    assert target.read_bytes() == b"second" and leftovers(tmp_path) == []


def test_replace_atomically_is_whole_or_nothing(tmp_path, monkeypatch):
    target = tmp_path / "bundle.zip"
    target.write_bytes(b"old")

    def no_room(*_args):
        raise OSError(28, "No space left on device")

    def half_written(out):
        out.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        replace_atomically(target, half_written)
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == []
    monkeypatch.setattr(os, "replace", no_room)
    with pytest.raises(OSError, match="No space"):
        replace_atomically(target, b"new")
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_replace_atomically_follows_no_link_planted_at_the_partial_name(tmp_path, monkeypatch):
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"not yours")
    folder = tmp_path / "uploads"
    folder.mkdir()
    target = folder / "abc.zip"
    target.write_bytes(b"old")
    monkeypatch.setattr(secrets, "token_hex", lambda _n=None: "guessed")
    planted = folder / ".abc.zip.guessed.partial"
    planted.symlink_to(victim)
    with pytest.raises(FileExistsError):
        replace_atomically(target, b"new")
    assert victim.read_bytes() == b"not yours" and target.read_bytes() == b"old"
    assert planted.is_symlink()  # not ours: left where it is
    planted.unlink()
    planted.symlink_to(tmp_path / "elsewhere" / "absent.txt")  # a dangling link is not followed either
    with pytest.raises(FileExistsError):
        replace_atomically(target, b"new")
    assert not (tmp_path / "elsewhere" / "absent.txt").exists() and target.read_bytes() == b"old"


def test_two_writers_of_one_target_never_share_a_partial(tmp_path):
    target = tmp_path / "task.zip"

    def writer(out):
        replace_atomically(target, b"inner")  # another writer of the same target, meanwhile (O_EXCL: a new name)
        out.write(b"outer")

    replace_atomically(target, writer)
    assert target.read_bytes() == b"outer" and leftovers(tmp_path) == []


# --- the format ---------------------------------------------------------------------------------------------

def test_bundle_files_name_what_each_kind_of_bundle_holds():
    code = bundle_files(".PNG", code=True, starting_kit=True)
    assert code == dict(FILES, logo="logo.png")
    results = bundle_files(".png", code=False, starting_kit=False, dataset_keys={"public_data": "key"})
    assert results["ingestion_program"] is None and results["input_data"] is None
    assert results["starting_kit"] is None and results["public_data"] == "key"
    assert results["reference_data"] == FILES["reference_data"]


def test_bundle_info_is_written_and_read_back(tmp_path):
    info = BundleInfo(task="t", scale="tiny", seed=0, data="synthetic", submission_kind="code", primary="auc",
                      sorting="desc", thresholds_scale="small", public_reference=[], thresholds={"gold": 0.9},
                      datasets={})
    text = bundle_info_text(info)
    assert text == bundle_info_text(dict(reversed(list(info.items()))))  # same facts, same bytes
    ours, theirs = tmp_path / "ours.zip", tmp_path / "theirs.zip"
    with zipfile.ZipFile(ours, "w") as archive:
        archive.writestr(BUNDLE_INFO, text)
    with zipfile.ZipFile(theirs, "w") as archive:
        archive.writestr(COMPETITION, "version: 2\n")
    with zipfile.ZipFile(ours) as archive:
        assert read_bundle_info(archive) == info
    with zipfile.ZipFile(theirs) as archive:
        assert read_bundle_info(archive) == {}  # someone else's bundle: no facts of ours


def test_a_built_bundle_holds_what_the_format_names(tiny_bundle, tmp_path):
    path = tiny_bundle("tabular-baseline")
    bundle = Bundle(path)
    names = set(bundle.archive.namelist())
    assert {COMPETITION, BUNDLE_INFO} | {name for name in FILES.values() if name} <= names
    assert set(bundle.info) == set(BundleInfo.__annotations__)
    assert bundle.info["task"] == "tabular-baseline" and bundle.info["scale"] == "tiny"
    solution = reference_solution(bundle, tmp_path / "solution")
    assert solution == tmp_path / "solution" and any(solution.iterdir())
    sample = sample_submission(bundle, tmp_path / "sample", ["predictions.csv"])
    assert sample == tmp_path / "kit" / bundle_format.SAMPLE_FOLDER and any(sample.iterdir())


class FakeBundle:
    """A bundle reader whose datasets are folders of files given up front."""

    def __init__(self, phase: dict, datasets: dict[str, dict[str, str]], solutions: list | None = None):
        self.phase, self.datasets = phase, datasets
        self.competition = {"solutions": solutions or []}

    def phase_and_task(self, phase_index: int) -> tuple[dict, dict]:
        assert phase_index == 0
        return self.phase, {}

    def extract_dataset(self, reference: str, target: Path) -> None:
        for name, text in self.datasets[reference].items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_text(text)


def test_the_sample_submission_falls_back_to_the_public_samples(tmp_path):
    bundle = FakeBundle({"starting_kit": "kit.zip", "public_data": "public.zip"},
                        {"kit.zip": {"README.md": "no sample here"},
                         "public.zip": {"train.csv": "x", "sample_submission.csv": "id,y\n"}})
    sample = sample_submission(bundle, tmp_path / "sample", ["submission.csv"])
    assert sample == tmp_path / "sample" and (sample / "submission.csv").read_text() == "id,y\n"
    with pytest.raises(NotInBundle, match="no sample submission"):
        sample_submission(bundle, tmp_path / "other" / "sample", ["answers.csv"])
    with pytest.raises(NotInBundle, match="no sample submission"):  # a results file list is needed to look
        sample_submission(bundle, tmp_path / "third" / "sample", [])
    with pytest.raises(NotInBundle, match="no reference solution"):
        reference_solution(bundle, tmp_path / "solution")


# --- the --data-keys build ---------------------------------------------------------------------------------

def test_a_data_keys_build_says_what_it_wrote(tmp_path, cache_dir):
    task = load_all()["tabular-baseline"]
    keys = tmp_path / "keys.yaml"
    first = build_with_data_keys(task, tmp_path / "dist", keys, scale_name="tiny", cache_dir=cache_dir, log=quiet)
    assert first == DatasetsWritten(tmp_path / "dist" / "tabular-baseline-datasets", keys)
    assert keys.is_file() and not (tmp_path / "dist" / "tabular-baseline.zip").exists()
    keys.write_text("reference_data: 11111111-1111-4111-8111-111111111111\n"
                    "input_data: 22222222-2222-4222-8222-222222222222\n"
                    "public_data: 33333333-3333-4333-8333-333333333333\n"
                    "reference_data_1: 44444444-4444-4444-8444-444444444444\n"  # the final phase's hidden draw
                    "input_data_1: 55555555-5555-4555-8555-555555555555\n")
    second = build_with_data_keys(task, tmp_path / "dist", keys, scale_name="tiny", cache_dir=cache_dir, log=quiet)
    assert second == tmp_path / "dist" / "tabular-baseline.zip"
    with zipfile.ZipFile(second) as archive:
        assert read_bundle_info(archive)["datasets"]["public_data"] == "33333333-3333-4333-8333-333333333333"
