"""The modified SNR of the PhysioNet ECG image digitization competition, with the numbers Kaggle's metric computes.

Per record and lead: centre label and prediction by their means; cross-correlate; take the lag in ±int(0.2·fs)
with the largest correlation (exact ties: the smallest |lag|, the negative one first); shift the prediction by it;
remove the vertical offset (the v minimising Σ(label − (aligned − v))² where both exist); missing or non-finite
aligned values count as 0. Powers are summed over the 12 leads of a record; ratio = min(P_signal / P_noise, 384)
(384 when P_noise = 0, 0 when P_signal = 0); the score is max(10·log10(mean ratio over records), −384) dB.

Two ways to fit a lead, with the same numbers:
- `direct_fit`, Kaggle's arithmetic one lead at a time: scipy.signal.correlate (its own method and rounding), exact
  equality for ties, Brent's minimiser for the offset. When the best lag is a matter of rounding (a flat lead, whose
  centred values are rounding residue; a tie) only this reproduces Kaggle's choice.
- `segment_powers`, many leads of one length at once: one FFT per batch over the window's lags only, the offset in
  closed form. It keeps a lead only when its best lag wins by far more than any rounding of either computation
  (then both pick it); every other lead, and any lead with values beyond ±1e6 mV, goes to `direct_fit`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
MAX_SHIFT_SECONDS = 0.2
RATIO_CAP = 384.0
FLOOR_DB = -384.0
# A best lag whose correlation beats every other in the window by more than this share of the Cauchy-Schwarz bound
# |label_c|·|pred_c| is the one any correct computation picks: FFT rounding is about 1e-15 of that bound.
WIN_MARGIN = 1e-10
# Beyond this, rounding in the offset's cancellation could differ between the closed form and Brent's search.
MODERATE_MV = 1e6


class MetricOverflow(ValueError):
    """The values are so large that the metric's own arithmetic gives no number (Kaggle's code stops there too).
    `segment`: the row of segment_powers' input it happened in."""
    segment = -1


def max_shift(fs: int) -> int:
    return int(fs * MAX_SHIFT_SECONDS)


@dataclass
class LeadFit:
    p_signal: float
    p_noise: float
    lag: int
    offset: float


def kaggle_lag(label: np.ndarray, pred: np.ndarray, shift: int) -> int:
    """The lag as Kaggle's code picks it, rounding included: centred by np.mean, scipy.signal.correlate over every
    lag, the largest value in the window, and among the lags equal to it the smallest |lag| (the negative first)."""
    import scipy.signal  # here: a second to import, and most scorings never need it

    correlation = scipy.signal.correlate(label - np.mean(label), pred - np.mean(pred), mode="full")
    lags = scipy.signal.correlation_lags(len(label), len(pred), mode="full")
    in_window = correlation[np.abs(lags) <= shift]
    if np.isnan(in_window).all():
        raise MetricOverflow("the cross-correlation overflows")
    best = np.nanmax(in_window)
    tied = np.flatnonzero(correlation == best)
    return int(lags[min(tied, key=lambda index: abs(lags[index]))])


def shifted(pred: np.ndarray, lag: int, n: int) -> np.ndarray:
    """pred moved `lag` samples later onto n positions; NaN where nothing lands."""
    aligned = np.full(n, np.nan)
    source = np.arange(n) - lag
    valid = (source >= 0) & (source < len(pred))
    aligned[valid] = pred[source[valid]]
    return aligned


def direct_fit(label: np.ndarray, pred: np.ndarray, shift: int) -> LeadFit:
    """One lead, with Kaggle's arithmetic throughout (overflow included: values of 1e200 mV are scored as it does)."""
    import scipy.optimize

    label, pred = np.asarray(label, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        lag = kaggle_lag(label, pred, shift)
        aligned = shifted(pred, lag, len(label))
        offset = 0.0
        if np.isfinite(aligned).any():
            offset = float(scipy.optimize.minimize_scalar(
                lambda v: np.nansum((label - (aligned - v)) ** 2), method="Brent").x)
            aligned = aligned - offset
        aligned[~np.isfinite(aligned)] = 0.0
        return LeadFit(float(np.sum(label ** 2)), float(np.sum((label - aligned) ** 2)), lag, offset)


def window_correlations(label_c: np.ndarray, pred_c: np.ndarray, lag_values: np.ndarray) -> np.ndarray:
    """Σ_i label_c[i]·pred_c[i − lag] for each lag, per row: a circular correlation long enough (n + max |lag|)
    that no lag of the window wraps around."""
    n = label_c.shape[1]
    size = fft.next_fast_len(n + int(np.abs(lag_values).max()), real=True)
    spectrum = fft.rfft(label_c, size, axis=1) * np.conj(fft.rfft(pred_c, size, axis=1))
    return fft.irfft(spectrum, size, axis=1)[:, lag_values % size]


def segment_powers(labels: np.ndarray, preds: np.ndarray, shift: int, batch: int = 512):
    """Fit many segments of the same length: (m, n) arrays → p_signal, p_noise, lag, offset (each (m,))."""
    m, n = labels.shape
    lag_values = np.arange(-shift, shift + 1)
    order = np.argsort(np.abs(lag_values) * 2 + (lag_values > 0), kind="stable")  # 0, −1, +1, −2, +2, ...
    lag_values = lag_values[order]
    out = np.empty((4, m))
    for start in range(0, m, batch):
        rows = slice(start, min(m, start + batch))
        label, pred = labels[rows], preds[rows]
        # np.mean of a row has the same bits as Kaggle's np.mean of the lead: the centred values are identical
        with np.errstate(over="ignore", invalid="ignore"):  # huge values go to direct_fit below
            label_c = label - label.mean(axis=1, keepdims=True)
            pred_c = pred - pred.mean(axis=1, keepdims=True)
            correlation = window_correlations(label_c, pred_c, lag_values)
            scale = np.linalg.norm(label_c, axis=1) * np.linalg.norm(pred_c, axis=1)
        best = np.argmax(correlation, axis=1)  # the first in tie order
        top = correlation[np.arange(len(best)), best]
        near = (correlation >= (top - WIN_MARGIN * scale)[:, None]).sum(axis=1)
        # a centred signal that is exactly zero correlates to exactly 0 at every lag, in any computation: lag 0
        clear = (near == 1) | (scale == 0)
        clear &= np.isfinite(correlation).all(axis=1) & (np.abs(pred).max(axis=1) <= MODERATE_MV)
        lag = np.where(scale == 0, 0, lag_values[best])
        with np.errstate(over="ignore", invalid="ignore"):
            out[:, rows] = closed_form_powers(label, pred, lag)
        for row in np.flatnonzero(~clear):
            try:
                fit = direct_fit(label[row], pred[row], shift)
            except MetricOverflow as error:
                error.segment = start + row
                raise
            out[:, start + row] = fit.p_signal, fit.p_noise, fit.lag, fit.offset
    return out


def closed_form_powers(label: np.ndarray, pred: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """Shift each row by its lag, remove the mean difference where both exist (the least-squares offset), powers."""
    n = label.shape[1]
    source = np.arange(n)[None, :] - lag[:, None]
    valid = (source >= 0) & (source < n)
    aligned = np.take_along_axis(pred, np.clip(source, 0, n - 1), axis=1)
    offset = np.sum(np.where(valid, aligned - label, 0.0), axis=1) / valid.sum(axis=1)
    aligned = np.where(valid, aligned - offset[:, None], 0.0)
    return np.stack([np.sum(label ** 2, axis=1), np.sum((label - aligned) ** 2, axis=1), lag, offset])


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
