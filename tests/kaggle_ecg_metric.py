"""Kaggle's modified-SNR metric for the ECG digitization competition, restated step by step from its published code
(kaggle.com/code/metric/physionet-ecg-signal-extraction-metric) as the reference the scorer is checked against.

Deliberately plain and slow: pandas merge on the id, the id split into record, row and lead, a sort, one record and
one lead at a time; scipy.signal.correlate over every lag; among the window's lags equal to the largest correlation
the smallest |lag|; the vertical offset by Brent's minimiser; non-finite aligned values as 0; powers summed per
record; the ratio capped at 384; 10·log10 of the mean ratio, floored at -384.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.optimize
import scipy.signal

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
CAP = 384.0


def align(label: np.ndarray, pred: np.ndarray, max_lag: int) -> np.ndarray:
    label_c = label - np.mean(label)
    pred_c = pred - np.mean(pred)
    xcorr = scipy.signal.correlate(label_c, pred_c, mode="full")
    lags = scipy.signal.correlation_lags(label.size, pred.size, mode="full")
    allowed = (lags >= -max_lag) & (lags <= max_lag)
    top = np.nanmax(xcorr[allowed])
    candidates = list(np.flatnonzero(xcorr == top))
    if not candidates:  # all NaN: Kaggle's min() over no candidate fails
        raise ValueError("no lag has a correlation")
    chosen = candidates[0]
    for index in candidates[1:]:  # the first of the smallest |lag|
        if abs(lags[index]) < abs(lags[chosen]):
            chosen = index
    lag = int(lags[chosen])
    before = np.full(max(lag, 0), np.nan)
    middle = pred[max(-lag, 0):min(label.size - lag, pred.size)]
    after = np.full(max(label.size - pred.size - lag, 0), np.nan)
    moved = np.concatenate([before, middle, after])
    if np.any(np.isfinite(moved)):
        shift = scipy.optimize.minimize_scalar(lambda v: np.nansum((label - (moved - v)) ** 2), method="Brent").x
        moved = moved - shift
    return moved


def record_ratio(group: pd.DataFrame) -> float:
    fs = int(group["fs"].iloc[0])
    signal = noise = 0.0
    for lead in LEADS:
        rows = group[group["lead"] == lead]
        label = rows["value_true"].to_numpy(dtype=np.float64)
        moved = align(label, rows["value_pred"].to_numpy(dtype=np.float64), int(fs * 0.2))
        moved[~np.isfinite(moved)] = 0
        signal += np.sum(label ** 2)
        noise += np.sum((label - moved) ** 2)
    if noise == 0:
        return CAP
    if signal == 0:
        return 0.0
    return min(signal / noise, CAP)


def kaggle_score(solution: pd.DataFrame, submission: pd.DataFrame) -> float:
    merged = solution[["id", "fs", "value"]].merge(submission[["id", "value"]], on="id", suffixes=("_true", "_pred"))
    parts = merged["id"].str.split("_")
    merged["record"], merged["row"], merged["lead"] = parts.str[0], parts.str[1].astype("int64"), parts.str[2]
    merged = merged.sort_values(["record", "row", "lead"])
    ratios = [record_ratio(group) for _, group in merged.groupby("record")]
    return max(float(10 * np.log10(np.mean(ratios))), -CAP)
