"""The modified SNR of the PhysioNet ECG image digitization competition.

Per record and lead: centre label and prediction; pick the lag in ±int(0.2·fs) with the largest cross-correlation
(ties: the smallest |lag|, the negative one first); shift the prediction by it; remove the vertical offset (the
mean difference where both exist); missing positions count as 0. Powers are summed over the 12 leads of a record;
ratio = min(P_signal / P_noise, 384) (384 when P_noise = 0, 0 when P_signal = 0); the score is
max(10·log10(mean ratio over records), −384) dB.

`segment_powers` computes every lead at once: segments of the same length are stacked and cross-correlated with
one FFT per batch. `direct_powers` is the definition written plainly, one lead at a time, for checking.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft

MAX_SHIFT_SECONDS = 0.2
RATIO_CAP = 384.0
FLOOR_DB = -384.0
# Correlations this close to the best are ties, so FFT rounding cannot break a tie the definition has:
# relative to the best value, or to the Cauchy-Schwarz bound |label_c|·|pred_c| of every correlation.
TIE_TOLERANCE, SCALE_TOLERANCE = 1e-12, 1e-11


def tie_margin(best, scale):
    return np.maximum(TIE_TOLERANCE * np.abs(best), SCALE_TOLERANCE * scale)


def max_shift(fs: int) -> int:
    return int(fs * MAX_SHIFT_SECONDS)


def centred(values: np.ndarray) -> np.ndarray:
    """values − mean; a constant signal is exactly zero (so every lag ties, and lag 0 wins)."""
    return np.zeros_like(values) if np.ptp(values) == 0 else values - values.mean()


@dataclass
class LeadFit:
    p_signal: float
    p_noise: float
    lag: int
    offset: float


def direct_fit(label: np.ndarray, pred: np.ndarray, shift: int) -> LeadFit:
    """The definition, one lead at a time, with a direct (exact-summation) cross-correlation."""
    n = len(label)
    label_c, pred_c = centred(label), centred(pred)
    correlation = np.correlate(label_c, pred_c, mode="full")  # index i ↔ lag i − (n − 1)
    lags = np.arange(-(n - 1), n)
    window = np.abs(lags) <= shift
    best = correlation[window].max()
    margin = tie_margin(best, np.linalg.norm(label_c) * np.linalg.norm(pred_c))
    candidates = lags[window][correlation[window] >= best - margin]
    lag = int(min(candidates, key=lambda value: (abs(value), value)))
    aligned = np.full(n, np.nan)
    source = np.arange(n) - lag
    valid = (source >= 0) & (source < n)
    aligned[valid] = pred[source[valid]]
    offset = float(np.mean(aligned[valid] - label[valid]))
    aligned = np.where(valid, aligned - offset, 0.0)
    return LeadFit(float(np.sum(label ** 2)), float(np.sum((label - aligned) ** 2)), lag, offset)


def segment_powers(labels: np.ndarray, preds: np.ndarray, shift: int, batch: int = 512):
    """Fit many segments of the same length at once: (m, n) arrays → p_signal, p_noise, lag, offset (each (m,))."""
    m, n = labels.shape
    size = fft.next_fast_len(2 * n - 1, real=True)
    lag_values = np.arange(-shift, shift + 1)
    order = np.argsort(np.abs(lag_values) * 2 + (lag_values > 0), kind="stable")  # 0, −1, +1, −2, +2, ...
    out = [np.empty(m) for _ in range(4)]
    for start in range(0, m, batch):
        rows = slice(start, min(m, start + batch))
        label, pred = labels[rows], preds[rows]
        label_c = label - label.mean(axis=1, keepdims=True)
        pred_c = pred - pred.mean(axis=1, keepdims=True)
        label_c[np.ptp(label, axis=1) == 0] = 0.0
        pred_c[np.ptp(pred, axis=1) == 0] = 0.0
        spectrum = fft.rfft(label_c, size, axis=1) * np.conj(fft.rfft(pred_c, size, axis=1))
        correlation = fft.irfft(spectrum, size, axis=1)[:, lag_values % size][:, order]
        best = correlation.max(axis=1, keepdims=True)
        scale = np.linalg.norm(label_c, axis=1, keepdims=True) * np.linalg.norm(pred_c, axis=1, keepdims=True)
        # The first lag (in tie order) within rounding of the maximum; all lags tie when a signal is constant.
        ties = correlation >= best - tie_margin(best, scale)
        lag = lag_values[order][np.argmax(ties, axis=1)]
        source = np.arange(n)[None, :] - lag[:, None]
        valid = (source >= 0) & (source < n)
        aligned = np.take_along_axis(pred, np.clip(source, 0, n - 1), axis=1)
        offset = np.sum(np.where(valid, aligned - label, 0.0), axis=1) / valid.sum(axis=1)
        aligned = np.where(valid, aligned - offset[:, None], 0.0)
        out[0][rows] = np.sum(label ** 2, axis=1)
        out[1][rows] = np.sum((label - aligned) ** 2, axis=1)
        out[2][rows] = lag
        out[3][rows] = offset
    return out


def ratio(p_signal: np.ndarray, p_noise: np.ndarray) -> np.ndarray:
    """Per record: min(P_signal / P_noise, 384); 384 when there is no noise, 0 when there is no signal."""
    p_signal, p_noise = np.asarray(p_signal, dtype=float), np.asarray(p_noise, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.minimum(p_signal / p_noise, RATIO_CAP)
    value = np.where(p_noise == 0, RATIO_CAP, value)
    return np.where((p_signal == 0) & (p_noise != 0), 0.0, value)


def snr_db(ratios: np.ndarray) -> float:
    mean = float(np.mean(ratios))
    return FLOOR_DB if mean <= 0 else max(10 * np.log10(mean), FLOOR_DB)
