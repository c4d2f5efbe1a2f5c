"""Data for the ECG image digitization task, in the Kaggle layout.

public/ (what participants download; input_data/, what a code submission gets, holds only the test part:
test.csv, test/ and sample_submission.parquet, since a submission brings its own trained weights):
    train.csv (id, fs, sig_len); train/<id>/<id>.csv, the 12 leads in mV (the 2.5-s leads NaN outside their
    window, lead II the whole 10 s); train/<id>/<id>-<segment>.png, one image per image type; beside each image
    its training labels: <id>-<segment>_mask.png (trace mask, pixel = lead code 1-12, 13 the rhythm strip),
    <id>-<segment>.txt (YOLO: class 0 lead regions, 1-12 lead names) and <id>-<segment>.json (calibration and
    the homography from the clean page); test.csv (id, lead, fs, number_of_rows); test/<id>.png;
    sample_submission.parquet (id = {id}_{row}_{lead}, value).
private/: solution.parquet (id, fs, value, and the id's parts: record, lead, row) and records.csv (id, image_type),
for the scores per image type.

Synthetic by default: signals.py, layout.py, distortions.py; the image types 0101 and 0102 (in a scale's
`image_types`) are pages drawn like ECG-Image-Kit's: kit_page.py, kit_distortions.py. With --raw-data DIR (the
Kaggle download: train.csv, train/<id>/...) the records are split into train and test like MLE-bench:
train_test_split(random_state=0) by record; a scale with `sample_raw: true` (tiny, small) first takes a seeded sample
of n_train + n_test records, and tests on at most n_test of them (otherwise on 10%).
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from .distortions import IMAGE_TYPES, Sheet, distort
from .kit_distortions import KIT_TYPES, distort_kit
from .kit_page import print_kit
from .layout import ROWS, print_record, random_page
from .signals import LEADS, SAMPLING_RATES, simulate

COLUMN_OF = {lead: column for row in ROWS[:3] for column, lead in enumerate(row)}
PARALLEL_FROM = 24  # images


def lead_rows(lead: str, fs: int) -> tuple[int, int]:
    """The sample range [start, end) a lead shows: its 2.5-s column, or the whole 10 s for lead II."""
    if lead == "II":
        return 0, 10 * fs
    quarter = fs * 10 // 4
    return COLUMN_OF[lead] * quarter, (COLUMN_OF[lead] + 1) * quarter


def training_csv(record: dict[str, np.ndarray], fs: int) -> pd.DataFrame:
    frame = {}
    for lead in LEADS:
        values = np.full(10 * fs, np.nan)
        start, end = lead_rows(lead, fs)
        values[start:end] = record[lead][start:end]
        frame[lead] = values
    return pd.DataFrame(frame)


def yolo_lines(boxes, homography: np.ndarray, size: tuple[int, int]) -> list[str]:
    """Boxes of the clean page, moved by the homography, as YOLO lines (class cx cy w h, normalised)."""
    width, height = size
    lines = []
    for label, x0, y0, x1, y1 in boxes:
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], dtype=np.float64) @ homography.T
        corners = corners[:, :2] / corners[:, 2:]
        left, top = np.clip(corners.min(axis=0), 0, [width, height])
        right, bottom = np.clip(corners.max(axis=0), 0, [width, height])
        if right - left > 1 and bottom - top > 1:
            lines.append(f"{label} {(left + right) / 2 / width:.6f} {(top + bottom) / 2 / height:.6f} "
                         f"{(right - left) / width:.6f} {(bottom - top) / height:.6f}")
    return lines


def draw(record: dict[str, np.ndarray], fs: int, dpi: float, image_type: str, rng: np.random.Generator):
    """Print one record and distort it as `image_type`: (the clean page's Printed, the final Sheet)."""
    if image_type in KIT_TYPES:
        printed = print_kit(record, fs, dpi, rng)
        return printed, distort_kit(Sheet(printed.image.astype(np.float32), printed.mask, np.eye(3)), image_type, rng)
    printed = print_record(record, fs, random_page(dpi, rng), rng)
    return printed, distort(Sheet(printed.image.astype(np.float32), printed.mask, np.eye(3)), image_type, rng)


def render_image(record: dict[str, np.ndarray], fs: int, dpi: float, image_type: str, seed, path: Path,
                 labels: bool = False) -> None:
    """Draw `record` as `image_type` and write `path`.png (ECG-Image-Kit's types in RGBA, as that tool writes them);
    with `labels`, also its mask, YOLO boxes and calibration."""
    printed, sheet = draw(record, fs, dpi, image_type, np.random.default_rng(seed))
    stem = Path(path).with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.clip(sheet.image, 0, 255).astype(np.uint8))
    (image.convert("RGBA") if image_type in KIT_TYPES else image).save(stem.with_suffix(".png"), compress_level=6)
    if labels:
        Image.fromarray(sheet.mask).save(stem.parent / f"{stem.name}_mask.png", compress_level=9)
        stem.with_suffix(".txt").write_text("\n".join(yolo_lines(printed.boxes, sheet.homography, sheet.size)) + "\n")
        calibration = dict(printed.calibration, image_type=image_type, image_size=list(sheet.size),
                           homography=np.round(sheet.homography, 9).tolist())
        stem.with_suffix(".json").write_text(json.dumps(calibration, indent=1) + "\n")


def make_image(job: dict) -> None:
    """Print one record, distort it as `image_type`, write the image (and for training images its labels)."""
    record = simulate(job["fs"], np.random.default_rng(job["record_seed"]))
    render_image(record, job["fs"], job["dpi"], job["image_type"], job["seed"], Path(job["path"]), job["labels"])


def run_jobs(jobs: list[dict]) -> None:
    progress = dict(total=len(jobs), desc="printing ECG images", unit="img", mininterval=1.0)
    if len(jobs) >= PARALLEL_FROM:
        with Pool(os.cpu_count()) as pool:
            for _ in tqdm(pool.imap_unordered(make_image, jobs, chunksize=1), **progress):
                pass
    else:
        for job in tqdm(jobs, disable=len(jobs) < 8, **progress):
            make_image(job)


def image_types(params: Mapping[str, Any]) -> list[str]:
    """The scale's image types (`image_types`; by default the Kaggle set's nine), "0001" first."""
    types = [str(t) for t in params.get("image_types", IMAGE_TYPES)]
    unknown = [t for t in types if t not in IMAGE_TYPES and t not in KIT_TYPES]
    if unknown or types[:1] != ["0001"]:
        raise ValueError(f"image_types: unknown {unknown} or not starting with 0001: {types}")
    return types


def synthetic(out_dir: Path, params: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_train, n_test = int(params["n_train"]), int(params["n_test"])
    rates = [int(fs) for fs in params.get("sampling_rates", SAMPLING_RATES)]
    types = image_types(params)
    train_types = int(params["train_image_types"])
    ids = rng.choice(np.arange(10_000, 100_000_000), size=n_train + n_test, replace=False)
    records = [{"id": int(record_id), "fs": int(rng.choice(rates)), "record_seed": [seed, int(record_id)]}
               for record_id in ids]
    public = out_dir / "public"
    jobs = []
    for index, record in enumerate(records[:n_train]):
        record_types = types if train_types >= len(types) else ["0001"] + sorted(
            rng.choice(types[1:], size=train_types - 1, replace=False).tolist())
        for image_type in record_types:
            jobs.append({"fs": record["fs"], "record_seed": record["record_seed"], "dpi": params["dpi"],
                         "image_type": image_type, "labels": True, "seed": [seed, record["id"], int(image_type)],
                         "path": str(public / "train" / str(record["id"]) / f"{record['id']}-{image_type}")})
    # Test image types go round-robin (in a shuffled order), so every type is scored when n_test >= 9.
    shuffled = rng.permutation(types)
    test_types = {}
    for position, record in enumerate(records[n_train:]):
        test_types[record["id"]] = str(shuffled[position % len(types)])
        jobs.append({"fs": record["fs"], "record_seed": record["record_seed"], "dpi": params["dpi"],
                     "image_type": test_types[record["id"]], "labels": False,
                     "seed": [seed, record["id"], int(test_types[record["id"]])],
                     "path": str(public / "test" / str(record["id"]))})
    run_jobs(jobs)
    train_rows = []
    for record in records[:n_train]:
        signal = simulate(record["fs"], np.random.default_rng(record["record_seed"]))
        training_csv(signal, record["fs"]).to_csv(public / "train" / str(record["id"]) / f"{record['id']}.csv",
                                                  index=False, float_format="%.3f")
        train_rows.append({"id": record["id"], "fs": record["fs"], "sig_len": 10 * record["fs"]})
    tests = [(r["id"], r["fs"], simulate(r["fs"], np.random.default_rng(r["record_seed"])), test_types[r["id"]])
             for r in records[n_train:]]
    write_tables(out_dir, pd.DataFrame(train_rows), tests)


def write_tables(out_dir: Path, train: pd.DataFrame, tests: list) -> None:
    public, private = out_dir / "public", out_dir / "private"
    private.mkdir(parents=True, exist_ok=True)
    train.to_csv(public / "train.csv", index=False)
    test_rows, answer_ids, answer_fs, answer_values, record_rows = [], [], [], [], []
    for record_id, fs, signal, image_type in tests:
        for lead in LEADS:
            start, end = lead_rows(lead, fs)
            test_rows.append({"id": record_id, "lead": lead, "fs": fs, "number_of_rows": end - start})
            answer_ids += [f"{record_id}_{row}_{lead}" for row in range(end - start)]
            answer_fs += [fs] * (end - start)
            answer_values.append(np.asarray(signal[lead][start:end], dtype=np.float64))
        record_rows.append({"id": record_id, "image_type": image_type})
    pd.DataFrame(test_rows).to_csv(public / "test.csv", index=False)
    pd.DataFrame({"id": answer_ids, "value": 0.0}).to_parquet(public / "sample_submission.parquet", index=False)
    # Beside Kaggle's id, fs and value: the id's parts, so the scorer need not split millions of strings.
    record_of = [int(i.split("_", 1)[0]) for i in answer_ids]
    pd.DataFrame({"id": answer_ids, "fs": answer_fs, "value": np.concatenate(answer_values),
                  "record": np.array(record_of, dtype=np.int64),
                  "lead": pd.Categorical([i.rsplit("_", 1)[1] for i in answer_ids], categories=list(LEADS)),
                  "row": np.array([int(i.split("_")[1]) for i in answer_ids], dtype=np.int64)}).to_parquet(
        private / "solution.parquet", index=False)
    pd.DataFrame(record_rows).to_csv(private / "records.csv", index=False)
    input_data = out_dir / "input_data"
    input_data.mkdir(parents=True, exist_ok=True)
    for name in ("test.csv", "sample_submission.parquet"):
        link_or_copy(str(public / name), str(input_data / name))
    shutil.copytree(public / "test", input_data / "test", copy_function=link_or_copy)


def link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)  # the same files: one copy on disk
    except OSError:
        shutil.copyfile(source, target)


def from_raw(raw_dir: Path, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    """The Kaggle download: train.csv and train/<id>/ (<id>.csv and <id>-<segment>.png). Records are split."""
    if not (raw_dir / "train.csv").is_file():
        raise FileNotFoundError(f"{raw_dir / 'train.csv'}: not found (expected the Kaggle download)")
    records = pd.read_csv(raw_dir / "train.csv")
    if params["sample_raw"]:
        records = records.sample(n=min(len(records), int(params["n_train"]) + int(params["n_test"])), random_state=seed)
    n_test = min(int(params["n_test"]), max(1, len(records) // 3)) if params["sample_raw"] else 0.1
    train, test = train_test_split(records, test_size=n_test, random_state=0)
    public = out_dir / "public"
    for record_id in tqdm(train["id"], desc="copying training records", unit="record"):
        shutil.copytree(raw_dir / "train" / str(record_id), public / "train" / str(record_id), copy_function=link_or_copy)
    tests = []
    rng = np.random.default_rng(seed)
    for record_id, fs in zip(test["id"], test["fs"]):
        folder = raw_dir / "train" / str(record_id)
        images = sorted(folder.glob(f"{record_id}-*.png"))
        if not images:
            raise ValueError(f"{folder}: no image of record {record_id}")
        image = images[int(rng.integers(len(images)))]
        (public / "test").mkdir(parents=True, exist_ok=True)
        link_or_copy(str(image), str(public / "test" / f"{record_id}.png"))
        signal = pd.read_csv(folder / f"{record_id}.csv")
        missing = [lead for lead in LEADS if lead not in signal.columns]
        if missing or len(signal) != 10 * int(fs):
            raise ValueError(f"{folder / f'{record_id}.csv'}: expected the 12 leads over {10 * int(fs)} rows "
                             f"(missing: {missing or 'none'}; {len(signal)} rows)")
        full = {lead: signal[lead].to_numpy(dtype=np.float64) for lead in LEADS}
        tests.append((int(record_id), int(fs), full, image.stem.split("-")[-1]))
    write_tables(out_dir, train[["id", "fs", "sig_len"]], tests)


def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None:
    if raw_dir is None:
        synthetic(out_dir, params, seed)
    else:
        from_raw(raw_dir, out_dir, params, seed)
