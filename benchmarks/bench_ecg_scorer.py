"""The ECG modified-SNR scorer at test scale, against a straightforward implementation of the same definition.

Baseline, in the same run: Kaggle's way, one record and one lead at a time (pandas groupby, scipy.signal.correlate
over all lags, the lag window, the shift, the offset, the powers). Scores must agree to 1e-9.
Scale: 504 test records (the bundle's full scale; Kaggle does not publish its hidden test's size), the sampling
rates drawn uniformly from the six of the competition.
"""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.signal
from run import Measure

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "scoring_programs" / "ecg_snr"
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
COLUMN = {"I": 0, "III": 0, "aVR": 1, "aVL": 1, "aVF": 1, "V1": 2, "V2": 2, "V3": 2, "V4": 3, "V5": 3, "V6": 3}
N_RECORDS = 504


def load(name: str, path: Path):
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def straightforward(solution: pd.DataFrame, submission: pd.DataFrame) -> float:
    merged = solution[["id", "fs", "value"]].merge(submission, on="id", suffixes=("_true", "_pred"))
    parts = merged["id"].str.split("_")
    merged["record"], merged["row"], merged["lead"] = parts.str[0], parts.str[1].astype(int), parts.str[2]
    merged = merged.sort_values(["record", "lead", "row"])
    ratios = []
    for _, group in merged.groupby("record"):
        fs = int(group["fs"].iloc[0])
        shift = int(fs * 0.2)
        p_signal = p_noise = 0.0
        for lead in LEADS:
            sub = group[group["lead"] == lead]
            label, pred = sub["value_true"].to_numpy(), sub["value_pred"].to_numpy()
            label_c = label - label.mean() if np.ptp(label) else np.zeros_like(label)
            pred_c = pred - pred.mean() if np.ptp(pred) else np.zeros_like(pred)
            correlation = scipy.signal.correlate(label_c, pred_c, mode="full")
            lags = scipy.signal.correlation_lags(len(label), len(pred), mode="full")
            window = np.abs(lags) <= shift
            best = correlation[window].max()
            margin = max(1e-12 * abs(best), 1e-11 * np.linalg.norm(label_c) * np.linalg.norm(pred_c))
            lag = min(lags[window][correlation[window] >= best - margin], key=lambda v: (abs(v), v))
            aligned = np.full(len(label), np.nan)
            source = np.arange(len(label)) - lag
            valid = (source >= 0) & (source < len(pred))
            aligned[valid] = pred[source[valid]]
            aligned -= np.nanmean(aligned - label)
            aligned[~np.isfinite(aligned)] = 0.0
            p_signal += np.sum(label ** 2)
            p_noise += np.sum((label - aligned) ** 2)
        ratios.append(384.0 if p_noise == 0 else (0.0 if p_signal == 0 else min(p_signal / p_noise, 384.0)))
    return max(10 * np.log10(np.mean(ratios)), -384.0) if np.mean(ratios) > 0 else -384.0


def bench(workdir: Path) -> list[Measure]:
    scoring = load("ecg_scoring", PROGRAM / "scoring.py")
    rng = np.random.default_rng(0)
    ids, fs_column, truth, predicted, records = [], [], [], [], []
    for record in range(N_RECORDS):
        fs = int(rng.choice([250, 256, 500, 512, 1000, 1025]))
        t = np.arange(10 * fs) / fs
        signal = np.sin(2 * np.pi * 1.2 * t) * 0.3 + np.exp(-(((t * 1.2) % 1) - 0.5) ** 2 / 0.0004)
        for lead in LEADS:
            quarter = fs * 10 // 4
            segment = signal if lead == "II" else signal[COLUMN[lead] * quarter:(COLUMN[lead] + 1) * quarter]
            segment = segment * rng.uniform(0.3, 2) + rng.normal(0, 0.02, len(segment))
            ids += [f"{record}_{row}_{lead}" for row in range(len(segment))]
            fs_column += [fs] * len(segment)
            truth.append(segment)
            predicted.append(np.roll(segment, int(rng.integers(-30, 30))) + rng.normal(0, 0.1, len(segment)) + 0.2)
        records.append({"id": record, "image_type": "0005"})
    solution = pd.DataFrame({"id": ids, "fs": fs_column, "value": np.concatenate(truth)})
    parts = solution["id"].str.split("_", expand=True)  # the columns the builder writes beside the ids
    solution = solution.assign(record=parts[0].astype(np.int64), lead=pd.Categorical(parts[2], categories=LEADS),
                               row=parts[1].astype(np.int64))
    submission = pd.DataFrame({"id": ids, "value": np.concatenate(predicted)})
    ref, res = workdir / "ref", workdir / "res"
    ref.mkdir()
    res.mkdir()
    solution.to_parquet(ref / "solution.parquet")
    solution = pd.read_parquet(ref / "solution.parquet")  # as the scorer reads it
    pd.DataFrame(records).to_csv(ref / "records.csv", index=False)
    submission.to_parquet(res / "submission.parquet")

    started = time.perf_counter()
    fits = scoring.fit_all(solution, submission["value"].to_numpy())
    ours = scoring.snr_db(scoring.per_record(fits).to_numpy())
    fast = time.perf_counter() - started
    started = time.perf_counter()
    whole = scoring.score(ref, res).scores["snr"]
    whole_time = time.perf_counter() - started
    started = time.perf_counter()
    theirs = straightforward(solution, submission)
    slow = time.perf_counter() - started
    print(f"   {len(solution)} rows; SNR ours {ours:.12f} / whole {whole:.12f} / straightforward {theirs:.12f}")
    same = abs(ours - theirs) <= 1e-9 and abs(whole - theirs) <= 1e-9
    return [
        Measure("ecg: SNR of 504 records (fit_all)", fast, "s", "per record/lead, scipy", slow,
                ">= 10x faster, |diff| <= 1e-9", same and slow / fast >= 10),
        Measure("ecg: whole score() incl. reading and report", whole_time, "s", "per record/lead, scipy", slow,
                "faster than the straightforward one", whole_time < slow),
    ]
