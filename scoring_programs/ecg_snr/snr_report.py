"""The detailed results page of the ECG scorer: SNR per image type and lead, fitted lags and offsets, worst records."""
from __future__ import annotations

import numpy as np
import pandas as pd

from modified_snr import LEADS, ratio, snr_db
from programlib.report import Report, new_figure

IMAGE_TYPES = ("0001", "0003", "0004", "0005", "0006", "0009", "0010", "0011", "0012", "0101", "0102")
WORST_SHOWN = 3


def build_report(result) -> Report:
    """`result`: scoring.Evaluation."""
    scores, fits, ratios, records = result.scores, result.fits, result.ratios, result.records
    report = Report("ECG image digitization: detailed results")
    report.paragraph(f"Modified SNR over {len(ratios)} test records: {scores['snr']:.3f} dB "
                     f"(a perfect submission scores {10 * np.log10(384):.4f} dB).")
    if result.ignored:
        report.paragraph(f"Ignored column(s) of submission.parquet: {', '.join(result.ignored)} (only id and value "
                         f"count).")
    report.heading("SNR per image type")
    types = records.loc[ratios.index, "image_type"].to_numpy()
    report.table(["image type", "records", "SNR (dB)"],
                 [[t, int((types == t).sum()), scores[f"snr_{t}"] if (types == t).any() else "-"] for t in IMAGE_TYPES])
    report.heading("SNR per lead")
    rows = []
    for lead in LEADS:
        chosen = fits[fits["lead"] == lead]
        rows.append([lead, snr_db(ratio(chosen["p_signal"].to_numpy(), chosen["p_noise"].to_numpy())),
                     float(np.median(np.abs(chosen["lag"]) / chosen["fs"] * 1000)), float(np.median(chosen["offset"]))])
    report.table(["lead", "SNR (dB)", "median |time lag| (ms)", "median vertical offset (mV)"], rows)
    lag_and_offset_figure(report, fits)
    worst_records(report, fits, ratios, records, result.label, result.pred)
    return report


def shown_range(values: np.ndarray) -> tuple[np.ndarray, str]:
    """The values a histogram can show: finite ones within ten interquartile ranges of the middle half (a stray 1e9
    must not squash every other value into one bin), and a note of how many are left out."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return finite, "no finite value"
    q1, q3 = np.percentile(finite, [25, 75])
    span = max(q3 - q1, 0.01)
    low, high = q1 - 10 * span, q3 + 10 * span
    inside = finite[(finite >= low) & (finite <= high)]
    beyond = len(values) - len(inside)
    return inside, (f"{beyond} value(s) beyond [{low:.3g}, {high:.3g}] not shown" if beyond else "")


def lag_and_offset_figure(report: Report, fits: pd.DataFrame) -> None:
    report.heading("Fitted time lags and vertical offsets")
    report.paragraph("Large lags mean a column's segment was placed at the wrong time; large offsets a wrong baseline. "
                     "Both are forgiven by the metric up to ±0.2 s, but they show calibration errors.")
    figure, _ = new_figure(9, 3.2)
    figure.clear()
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    left.hist(fits["lag"] / fits["fs"] * 1000, bins=41, color="#4c72b0")
    left.set_xlabel("time lag (ms)")
    left.set_ylabel("leads")
    offsets, note = shown_range(fits["offset"].to_numpy())
    right.hist(offsets, bins=41, color="#dd8452")
    right.set_xlabel("vertical offset (mV)")
    report.figure(figure, "Distribution over every (record, lead) of the test set" + (f" (offsets: {note})" if note
                                                                                         else ""))


def worst_records(report: Report, fits, ratios, records, label, pred) -> None:
    report.heading("The worst records")
    for record in ratios.sort_values().index[:WORST_SHOWN]:
        fit = fits[(fits["record"] == record) & (fits["lead"] == "II")].iloc[0]
        rows = slice(int(fit["start"]), int(fit["start"] + fit["length"]))
        figure, axes = new_figure(9, 2.4)
        fs = int(fit["fs"])
        t = np.arange(int(fit["length"])) / fs
        axes.plot(t, label[rows], color="black", linewidth=0.8, label="true")
        yours = pred[rows] - fit["offset"]
        axes.plot(t + fit["lag"] / fs, yours, color="#c44e52", linewidth=0.8, alpha=0.8, label="yours, aligned")
        low, high = float(label[rows].min()), float(label[rows].max())
        margin = max(high - low, 0.5)
        if np.abs(yours).max(initial=0) > 10 * (abs(low) + abs(high) + 1):  # far off: keep the true trace readable
            axes.set_ylim(low - margin, high + margin)
        axes.set_xlabel("seconds")
        axes.set_ylabel("lead II (mV)")
        axes.legend(loc="upper right", fontsize=8)
        snr = 10 * np.log10(max(ratios[record], 1e-38))
        report.figure(figure, f"record {record} ({records.loc[record, 'image_type']}): {snr:.2f} dB")
