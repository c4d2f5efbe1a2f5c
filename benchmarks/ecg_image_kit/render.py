"""Render real 12-lead records with ECG-Image-Kit (runs in /tmp/ecgkit-venv: NumPy 1.x, imgaug, wfdb).

    /tmp/ecgkit-venv/bin/python benchmarks/ecg_image_kit/render.py OUT_DIR [SEED ...]

Writes OUT_DIR/records/<id>.hea/.dat (10-s real records, standard lead names), OUT_DIR/truth/<id>.csv (the 12 leads
in mV, 10*fs rows) and OUT_DIR/<group>/<id>-0.png for the groups clean_100, clean_200, distorted_100, distorted_200.
Records: PTB-XL 00001_lr (100 Hz, from ECG-Image-Kit's SampleData) and three 10-s windows of PTB s0010_re
(1000 Hz, from wfdb-python's sample-data; two resampled to 500 and 250 Hz, the Kaggle set's usual rates).
With SEEDs, it draws held-out pages instead: the same records, distorted at 100 dpi with ECG-Image-Kit's seed SEED,
as OUT_DIR/distorted_100_s<SEED> (score them with harness.py --groups distorted_100_s11 ...).
Handwriting (TensorFlow, spaCy) is stubbed out; nothing else of the generator is changed.

Setup (once): `git archive` of the mirror fails on a few absent blobs, so the files are copied one by one:
    R=/work/.mirror/alphanumericslab+ecg-image-kit/repo; cd /tmp/ecg-image-kit
    git -C $R ls-tree -r HEAD codes/ecg-image-generator | while read m t o p; do mkdir -p "$(dirname "$p")";
        git -C $R cat-file blob $o > "$p" 2>/dev/null || rm -f "$p"; done
    python3 -m venv /tmp/ecgkit-venv && /tmp/ecgkit-venv/bin/pip install "numpy<2" imgaug wfdb matplotlib \
        opencv-python-headless scikit-image scipy pandas pyyaml pillow qrcode imutils
    /tmp/ecgkit-records: 00001_lr.hea/.dat (the kit's SampleData/PTB_XL_data) and s0010_re.hea/.dat
        (git -C /work/.mirror/MIT-LCP+wfdb-python/repo show HEAD:sample-data/s0010_re.dat > ...)
"""
import os
import runpy
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb
from scipy.signal import resample_poly

KIT = Path("/tmp/ecg-image-kit/codes/ecg-image-generator")
SOURCES = Path("/tmp/ecgkit-records")
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
GROUPS = {"clean_100": ["-r", "100"], "clean_200": ["-r", "200"],
          "distorted_100": ["-r", "100", "--wrinkles", "--augment", "-rot", "5", "-noise", "40", "-c", "0.01", "--store_config", "1"],
          "distorted_200": ["-r", "200", "--wrinkles", "--augment", "-rot", "5", "-noise", "40", "-c", "0.01", "--store_config", "1"]}


def real_records():
    """(id, fs, signal n x 12 in mV) for each 10-s record."""
    signal, fields = wfdb.rdsamp(str(SOURCES / "00001_lr"))
    yield "10001", 100, signal[:1000, :12]
    ptb, fields = wfdb.rdsamp(str(SOURCES / "s0010_re"), channels=list(range(12)))
    for index, (start, fs) in enumerate([(0, 1000), (10000, 500), (20000, 250)]):
        window = ptb[start:start + 10000]
        if fs != 1000:
            window = resample_poly(window, fs, 1000, axis=0)
        yield str(10002 + index), fs, window


def write_records(out: Path) -> None:
    (out / "records").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    for record_id, fs, signal in real_records():
        signal = np.round(signal, 3)
        wfdb.wrsamp(record_id, fs=fs, units=["mV"] * 12, sig_name=LEADS, p_signal=signal, fmt=["16"] * 12,
                    adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(out / "records"))
        back, _ = wfdb.rdsamp(str(out / "records" / record_id))
        pd.DataFrame(back, columns=LEADS).to_csv(out / "truth" / f"{record_id}.csv", index=False, float_format="%.4f")


def render(out: Path, groups: dict[str, tuple[int, list[str]]]) -> None:
    sys.path.insert(0, str(KIT))
    os.chdir(KIT)
    stub = types.ModuleType("HandwrittenText.generate")  # handwriting needs TensorFlow and spaCy: not used here
    stub.get_handwritten = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("handwriting not available"))
    sys.modules["HandwrittenText.generate"] = stub
    for group, (seed, flags) in groups.items():
        sys.argv = ["gen_ecg_images_from_data_batch.py", "-i", str(out / "records"), "-o", str(out / group),
                    "-se", str(seed), *flags]
        runpy.run_path(str(KIT / "gen_ecg_images_from_data_batch.py"), run_name="__main__")
        print(group, sorted(p.name for p in (out / group).glob("*.png")), flush=True)


if __name__ == "__main__":
    target, seeds = Path(sys.argv[1]).resolve(), [int(seed) for seed in sys.argv[2:]]
    if seeds:
        render(target, {f"distorted_100_s{seed}": (seed, GROUPS["distorted_100"]) for seed in seeds})
    else:
        write_records(target)
        render(target, {group: (seed + 1, flags) for seed, (group, flags) in enumerate(GROUPS.items())})
