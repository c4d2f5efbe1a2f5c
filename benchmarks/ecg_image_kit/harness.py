"""Score the ECG starting kit on ECG-Image-Kit renders of real records (and on this project's own renders of them).

    .venv/bin/python benchmarks/ecg_image_kit/harness.py [--render] [--configs default classical] [--groups ...]
                                                       [--synthetic TYPE ...] [--synthetic-records N]
                                                       [--kit-dir DIR]

--render first runs benchmarks/ecg_image_kit/render.py in /tmp/ecgkit-venv (ECG-Image-Kit, NumPy 1.x, imgaug) into
/tmp/ecgkit-renders: 4 real 10-s records (PTB-XL 00001_lr at 100 Hz; PTB s0010_re windows at 1000/500/250 Hz),
each drawn clean and with wrinkles + augmentation (rotation <= 5 deg, noise, crop, colour temperature), at 100 and
200 dpi. --synthetic TYPE also draws the same records with this project's generator (bundle image type TYPE, at
100 and 200 dpi) as groups syn_<TYPE>_<dpi>. Each group becomes a test set in the Kaggle layout (test.csv, test/,
private solution.parquet), the kit's run.py digitizes it, and scoring_programs/ecg_snr scores it: one SNR (dB)
per group and config.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
RENDERS = Path("/tmp/ecgkit-renders")
WORK = Path("/tmp/ecgkit-harness")
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
COLUMN = {"I": 0, "II": 0, "III": 0, "aVR": 1, "aVL": 1, "aVF": 1, "V1": 2, "V2": 2, "V3": 2, "V4": 3, "V5": 3, "V6": 3}
sys.path[:0] = [str(REPO), str(REPO / "scoring_programs" / "ecg_snr")]


def truth() -> dict[str, tuple[int, dict]]:
    records = {}
    for path in sorted((RENDERS / "truth").glob("*.csv")):
        frame = pd.read_csv(path)
        fs = len(frame) // 10
        records[path.stem] = (fs, {lead: frame[lead].to_numpy(np.float64) for lead in LEADS})
    return records


def lead_range(lead: str, fs: int) -> tuple[int, int]:
    if lead == "II":
        return 0, 10 * fs
    quarter = fs * 10 // 4
    return COLUMN[lead] * quarter, (COLUMN[lead] + 1) * quarter


def test_set(folder: Path, images: dict[str, Path], records: dict) -> None:
    """folder/input_data (test.csv, test/<id>.png) and folder/ref (solution.parquet, records.csv)."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "input_data" / "test").mkdir(parents=True)
    (folder / "ref").mkdir(parents=True)
    rows, ids, values, fss = [], [], [], []
    for record_id, image in images.items():
        fs, signal = records[record_id]
        shutil.copyfile(image, folder / "input_data" / "test" / f"{record_id}.png")
        for lead in LEADS:
            start, end = lead_range(lead, fs)
            rows.append({"id": int(record_id), "lead": lead, "fs": fs, "number_of_rows": end - start})
            ids += [f"{record_id}_{row}_{lead}" for row in range(end - start)]
            values.append(signal[lead][start:end])
            fss += [fs] * (end - start)
    pd.DataFrame(rows).to_csv(folder / "input_data" / "test.csv", index=False)
    pd.DataFrame({"id": ids, "value": 0.0}).to_parquet(folder / "input_data" / "sample_submission.parquet")
    pd.DataFrame({"id": ids, "fs": fss, "value": np.concatenate(values),
                  "record": np.array([int(i.split("_")[0]) for i in ids], dtype=np.int64),
                  "lead": pd.Categorical([i.rsplit("_", 1)[1] for i in ids], categories=LEADS),
                  "row": np.array([int(i.split("_")[1]) for i in ids], dtype=np.int64)}).to_parquet(
        folder / "ref" / "solution.parquet", index=False)
    pd.DataFrame({"id": list(images), "image_type": "0001"}).to_csv(folder / "ref" / "records.csv", index=False)


def score(folder: Path, config: str, kit: Path) -> float:
    import scoring
    out = folder / f"out_{config}"
    shutil.rmtree(out, ignore_errors=True)
    result = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "run.py", "--data-dir", str(folder / "input_data"),
                             "--output-dir", str(out), "--config", f"configs/{config}.yaml"],
                            cwd=kit, capture_output=True, text=True)
    if result.returncode:
        print(result.stdout[-2000:], result.stderr[-3000:])
        return float("nan")
    (folder / f"res_{config}").mkdir(exist_ok=True)
    shutil.copyfile(out / "submission.parquet", folder / f"res_{config}" / "submission.parquet")
    return scoring.evaluate(folder / "ref", folder / f"res_{config}").scores["snr"]


def task_prepare():
    """The bundle's prepare module (imported as the bundle builder imports it)."""
    from bundlegen.data import load_prepare
    from bundlegen.definition import load_all
    load_prepare(load_all()["physionet-ecg-image-digitization"])
    package = next(m for m in sys.modules if m.startswith("bundle_physionet_ecg_image_digitization_") and "." not in m)
    return sys.modules[f"{package}.prepare"]


def synthetic_group(image_type: str, dpi: int, records: dict) -> dict[str, Path]:
    """The same real records drawn by this project's generator as `image_type` (at `dpi`)."""
    render = task_prepare().render_image
    folder = WORK / "synthetic" / f"{image_type}_{dpi}"
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for index, (record_id, (fs, signal)) in enumerate(records.items()):
        images[record_id] = folder / f"{record_id}.png"
        render(signal, fs, dpi, image_type, [7, index], images[record_id])
    return images


def synthetic_records(count: int, configs: list[str], kit: Path) -> None:
    """`count` synthetic records per dpi (100, 200) drawn round-robin as 0001, 0101, 0102: SNR per type."""
    import scoring
    prepare = task_prepare()
    for dpi in (100, 200):
        folder = WORK / f"synthetic_records_{dpi}"
        shutil.rmtree(folder, ignore_errors=True)
        prepare.synthetic(folder, {"n_train": 0, "n_test": count, "dpi": dpi, "train_image_types": 1,
                                   "image_types": ["0001", "0101", "0102"]}, seed=0)
        shutil.copytree(folder / "private", folder / "ref")
        for config in configs:
            out = folder / f"out_{config}"
            subprocess.run([str(REPO / ".venv" / "bin" / "python"), "run.py", "--data-dir", str(folder / "input_data"),
                            "--output-dir", str(out), "--config", f"configs/{config}.yaml"], cwd=kit, check=True,
                           capture_output=True)
            (folder / f"res_{config}").mkdir(exist_ok=True)
            shutil.copyfile(out / "submission.parquet", folder / f"res_{config}" / "submission.parquet")
            scores = scoring.evaluate(folder / "ref", folder / f"res_{config}").scores
            print(f"synthetic signals, {dpi} dpi, {config}: " + ", ".join(
                f"{t} {scores[f'snr_{t}']:.2f}" for t in ("0001", "0101", "0102")), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--render", action="store_true")
    parser.add_argument("--configs", nargs="+", default=["default", "classical"])
    parser.add_argument("--groups", nargs="*", default=["clean_100", "clean_200", "distorted_100", "distorted_200"])
    parser.add_argument("--synthetic", nargs="*", default=[])
    parser.add_argument("--synthetic-records", type=int, default=0,
                        help="also score N synthetic records per dpi, drawn as 0001 / 0101 / 0102 in turn")
    parser.add_argument("--kit-dir", type=Path, default=REPO / "starting_kits" / "physionet-ecg-image-digitization")
    args = parser.parse_args()
    if args.render:
        subprocess.run(["/tmp/ecgkit-venv/bin/python", str(Path(__file__).with_name("render.py")), str(RENDERS)],
                       check=True)
    records = truth()
    groups = {group: {p.name.split("-")[0]: p for p in sorted((RENDERS / group).glob("*-0.png"))}
              for group in args.groups}
    for image_type in args.synthetic:
        for dpi in (100, 200):
            groups[f"syn_{image_type}_{dpi}"] = synthetic_group(image_type, dpi, records)
    print(f"{'group':<18}" + "".join(f"{config:>12}" for config in args.configs) + "   (SNR dB, 4 real records)")
    for group, images in groups.items():
        started = time.time()
        test_set(WORK / group, images, records)
        scores = [score(WORK / group, config, args.kit_dir) for config in args.configs]
        print(f"{group:<18}" + "".join(f"{s:12.2f}" for s in scores) + f"   ({time.time() - started:.0f} s)", flush=True)
    if args.synthetic_records:
        synthetic_records(args.synthetic_records, args.configs, args.kit_dir)


if __name__ == "__main__":
    main()
