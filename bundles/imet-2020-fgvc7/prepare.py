"""Data for the iMet 2020 (FGVC7) task, in the Kaggle layout.

public/ (and input_data/, what a code submission gets):
    train.csv (id, attribute_ids), labels.csv (attribute_id, attribute_name), sample_submission.csv
    (every row "0 1 2", as MLE-bench writes it), train/<id>.png, test/<id>.png
private/: test_labels.csv (id, attribute_ids), and labels.csv, which the scorer needs for the groups.

Synthetic by default (artworks.py: attributes drawn so a CNN can learn them). With --raw-data DIR (the
Kaggle download: train.csv, labels.csv, train/<id>.png) the raw train set is split as MLE-bench does:
train_test_split(test_size=0.15, random_state=0); a scale with `sample_raw: true` (tiny, small) first takes a
seeded sample of n_train + n_test rows.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from .artworks import GROUPS, LabelSpace, Sampler, png_bytes

TEST_FRACTION = 0.15
PARALLEL_FROM = 2000  # images; below this, starting worker processes costs more than it saves

_worker: dict = {}


def _init_worker(sampler: Sampler, seed: int, size: int, folders: list[Path]) -> None:
    _worker.update(sampler=sampler, seed=seed, size=size, folders=folders)


def _draw_one(job: tuple[int, str, int]) -> list[int]:
    """Draw artwork `index` into its folder; return its (noisy) label ids. Deterministic per index."""
    index, image_id, folder = job
    rng = np.random.default_rng([_worker["seed"], index])
    sampler: Sampler = _worker["sampler"]
    attributes = sampler.attributes(rng)
    image = sampler.draw(attributes, _worker["size"], rng)
    first, *copies = [target / f"{image_id}.png" for target in _worker["folders"][folder]]
    first.write_bytes(png_bytes(image))
    for copy in copies:  # public/ and input_data/ hold the same images: one file on disk
        link_or_copy(first, copy)
    return sampler.label_ids(attributes, rng)


def link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def synthetic(out_dir: Path, params: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    space = LabelSpace({group: int(params["attributes"][group]) for group in GROUPS})
    sampler = Sampler.create(space, rng)
    n_train, n_test = int(params["n_train"]), int(params["n_test"])
    ids = [rng.bytes(16).hex() for _ in range(n_train + n_test)]  # 32 hex digits, like the real ids
    assert len(set(ids)) == len(ids)
    folders = {0: [out_dir / "public" / "train", out_dir / "input_data" / "train"],
               1: [out_dir / "public" / "test", out_dir / "input_data" / "test"]}
    for targets in folders.values():
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
    jobs = [(i, image_id, 0 if i < n_train else 1) for i, image_id in enumerate(ids)]
    arguments = (sampler, seed, int(params["image_size"]), folders)
    progress = dict(total=len(jobs), desc="drawing artworks", unit="img", mininterval=1.0, disable=len(jobs) < 500)
    if len(jobs) >= PARALLEL_FROM:
        with Pool(os.cpu_count(), initializer=_init_worker, initargs=arguments) as pool:
            labels = list(tqdm(pool.imap(_draw_one, jobs, chunksize=64), **progress))
    else:
        _init_worker(*arguments)
        labels = [_draw_one(job) for job in tqdm(jobs, **progress)]
    names = space.names(rng)
    frame = pd.DataFrame({"id": ids, "attribute_ids": [" ".join(map(str, ids_)) for ids_ in labels]})
    write_tables(out_dir, frame.iloc[:n_train], frame.iloc[n_train:],
                 pd.DataFrame({"attribute_id": range(space.size), "attribute_name": names}))


def from_raw(raw_dir: Path, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    for name in ("train.csv", "labels.csv"):
        if not (raw_dir / name).is_file():
            raise FileNotFoundError(f"{raw_dir / name}: not found (expected the Kaggle download of imet-2020-fgvc7)")
    frame = pd.read_csv(raw_dir / "train.csv", dtype=str, keep_default_na=False)
    labels = pd.read_csv(raw_dir / "labels.csv")
    if list(frame.columns) != ["id", "attribute_ids"]:
        raise ValueError(f"{raw_dir / 'train.csv'}: columns must be id,attribute_ids, not {','.join(frame.columns)}")
    if params["sample_raw"]:
        frame = frame.sample(n=min(len(frame), int(params["n_train"]) + int(params["n_test"])), random_state=seed)
    train, test = train_test_split(frame, test_size=TEST_FRACTION, random_state=0)
    for split, rows in (("train", train), ("test", test)):
        for target in (out_dir / "public" / split, out_dir / "input_data" / split):
            target.mkdir(parents=True, exist_ok=True)
            for image_id in tqdm(rows["id"], desc=f"copying {split} images", unit="img", mininterval=1.0):
                source = raw_dir / "train" / f"{image_id}.png"
                if not source.is_file():
                    raise FileNotFoundError(f"{source}: image of train.csv row {image_id} not found")
                link_or_copy(source, target / source.name)
    write_tables(out_dir, train, test, labels)


def write_tables(out_dir: Path, train: pd.DataFrame, test: pd.DataFrame, labels: pd.DataFrame) -> None:
    sample = pd.DataFrame({"id": test["id"].to_numpy(), "attribute_ids": "0 1 2"})
    for folder in (out_dir / "public", out_dir / "input_data"):
        folder.mkdir(parents=True, exist_ok=True)
        train.to_csv(folder / "train.csv", index=False)
        labels.to_csv(folder / "labels.csv", index=False)
        sample.to_csv(folder / "sample_submission.csv", index=False)
    private = out_dir / "private"
    private.mkdir(parents=True, exist_ok=True)
    test[["id", "attribute_ids"]].to_csv(private / "test_labels.csv", index=False)
    labels.to_csv(private / "labels.csv", index=False)


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    if raw_dir is None:
        synthetic(out_dir, params, seed)
    else:
        from_raw(raw_dir, out_dir, params, seed)
