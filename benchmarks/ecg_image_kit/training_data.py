"""The training set the ECG kit's committed network (weights/default.pt) was trained on: the task's synthetic
training pages with ECG-Image-Kit's own types (0101 clean, 0102 wrinkles + augmentation) among them, at 100 and
200 dpi, every sampling rate of the real data. Seed 7, so no record of the bundle's seed-0 test sets is in it.

    .venv/bin/python benchmarks/ecg_image_kit/training_data.py --out /tmp/ecg-kit-training
    cd starting_kits/physionet-ecg-image-digitization && python3 train.py --data-dir /tmp/ecg-kit-training

The pages come from the bundle's prepare() through the project's data cache (data/generated), one scale per dpi;
--out gets a train/ folder of links to their records (train.py reads train/<record>/<page>.png and its mask).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bundlegen.data import prepare_data  # noqa: E402
from bundlegen.definition import Scale, load_all  # noqa: E402

TASK = "physionet-ecg-image-digitization"
SEED = 7
TYPES = ["0001", "0003", "0004", "0005", "0006", "0009", "0010", "0011", "0012", "0101", "0102"]
RATES = [100, 250, 256, 500, 512, 1000, 1025]
RECORDS = {100: 60, 200: 30}  # training records per dpi; each drawn as 0001 and 3 other types


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for train/ (links to the cached pages)")
    out = parser.parse_args().out / "train"
    if out.exists():
        sys.exit(f"{out} exists: choose a new --out")
    out.mkdir(parents=True)
    task = load_all()[TASK]
    for dpi, count in RECORDS.items():
        params = {"n_train": count, "n_test": len(TYPES), "dpi": dpi, "train_image_types": 4, "sample_raw": True,
                  "image_types": TYPES, "sampling_rates": RATES}
        folder = prepare_data(task, Scale(f"kit-training-{dpi}dpi", params), SEED)
        records = sorted((folder / "public" / "train").iterdir())
        for record in records:
            (out / f"{dpi}dpi-{record.name}").symlink_to(record)
        print(f"{dpi} dpi: {len(records)} records from {folder}", flush=True)


if __name__ == "__main__":
    main()
