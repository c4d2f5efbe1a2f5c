"""Scoring program of the ECG image digitization task: the modified SNR, with breakdowns.

    python3 scoring.py [INPUT_DIR] [OUTPUT_DIR]     (defaults: /app/input and /app/output)

ref/ holds solution.parquet (id, fs, value) and records.csv (id, image_type); res/ holds submission.parquet
(id = {record}_{row}_{lead}, value in mV), at its root or in predictions/ (a code submission's output).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from metric import max_shift, ratio, segment_powers, snr_db
from programlib import SubmissionError
from programlib.report import Report, new_figure
from programlib.results import ingestion_outcome, output_file
from programlib.scoring import Scored, run_scoring

SUBMISSION = "submission.parquet"
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
LEAD_GROUPS = {"limb": ("I", "II", "III"), "augmented": ("aVR", "aVL", "aVF"), "v1_v3": ("V1", "V2", "V3"),
               "v4_v6": ("V4", "V5", "V6")}
IMAGE_TYPES = ("0001", "0003", "0004", "0005", "0006", "0009", "0010", "0011", "0012")
MAX_EXAMPLES = 5


def read_submission(path: Path, expected_ids: pd.Index) -> np.ndarray:
    """The submitted values in the order of `expected_ids`; every problem is the participant's, with its row."""
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises many kinds for a file that is not parquet
        raise SubmissionError(f"{SUBMISSION}: not a readable parquet file ({type(error).__name__}: {error})") from None
    if list(frame.columns) != ["id", "value"]:
        missing = [c for c in ("id", "value") if c not in frame.columns]
        extra = [c for c in frame.columns if c not in ("id", "value")]
        raise SubmissionError(f"{SUBMISSION}: the columns must be id, value (missing: {missing or 'none'}; "
                              f"unexpected: {extra or 'none'})")
    ids = frame["id"].astype(str)
    repeated = ids.duplicated()
    if repeated.any():
        row = int(np.flatnonzero(repeated.to_numpy())[0])
        raise SubmissionError(f"{SUBMISSION}, row {row + 1}, column 'id': id {ids.iloc[row]!r} appears again")
    unknown = ~ids.isin(expected_ids)
    if unknown.any():
        rows = np.flatnonzero(unknown.to_numpy())
        raise SubmissionError(f"{SUBMISSION}, row {rows[0] + 1}, column 'id': unknown id {ids.iloc[rows[0]]!r} "
                              f"({len(rows)} id(s) not in the test set)")
    if len(ids) != len(expected_ids):
        missing = expected_ids[~expected_ids.isin(ids)]
        shown = ", ".join(repr(i) for i in missing[:MAX_EXAMPLES])
        raise SubmissionError(f"{SUBMISSION}: {len(missing)} test id(s) have no row, e.g. {shown} (every lead needs "
                              f"exactly the number_of_rows of test.csv)")
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raw = frame["value"].iloc[row]
        shown = repr(raw) if isinstance(raw, str) else str(raw)
        raise SubmissionError(f"{SUBMISSION}, row {row + 1}, column 'value': {shown} is not a finite number "
                              f"({int(bad.sum())} such value(s); NaN and infinity are not allowed)")
    return pd.Series(values, index=ids.to_numpy()).reindex(expected_ids).to_numpy()


def fit_all(solution: pd.DataFrame, predicted: np.ndarray) -> pd.DataFrame:
    """One row per (record, lead): powers, lag and offset, from segment_powers grouped by length and fs."""
    parts = solution["id"].str.split("_", expand=True)
    keyed = pd.DataFrame({"record": parts[0], "row": parts[1].astype(np.int64), "lead": parts[2],
                          "fs": solution["fs"].to_numpy(), "label": solution["value"].to_numpy(dtype=np.float64),
                          "pred": predicted}).sort_values(["record", "lead", "row"], kind="stable")
    segments = keyed.groupby(["record", "lead"], sort=False)
    info = segments.agg(fs=("fs", "first"), length=("row", "size"), start=("row", "min"), end=("row", "max"))
    assert ((info["end"] - info["start"] + 1) == info["length"]).all(), "rows of a lead must be contiguous"
    offsets = np.concatenate([[0], np.cumsum(info["length"].to_numpy())])
    label, pred = keyed["label"].to_numpy(), keyed["pred"].to_numpy()
    fits = pd.DataFrame(index=info.index, columns=["p_signal", "p_noise", "lag", "offset"], dtype=float)
    positions = np.arange(len(info))
    for (length, fs), members in info.assign(position=positions).groupby(["length", "fs"]):
        starts = offsets[members["position"].to_numpy()]
        index = starts[:, None] + np.arange(length)[None, :]
        results = segment_powers(label[index], pred[index], max_shift(int(fs)))
        fits.iloc[members["position"].to_numpy()] = np.column_stack(results)
    return fits.reset_index().assign(fs=info["fs"].to_numpy())


def per_record(fits: pd.DataFrame, leads=LEADS) -> pd.Series:
    chosen = fits[fits["lead"].isin(leads)].groupby("record")[["p_signal", "p_noise"]].sum()
    return pd.Series(ratio(chosen["p_signal"].to_numpy(), chosen["p_noise"].to_numpy()), index=chosen.index)


def score(reference_dir: Path, result_dir: Path) -> Scored:
    solution = pd.read_parquet(reference_dir / "solution.parquet")
    records = pd.read_csv(reference_dir / "records.csv", dtype={"id": str, "image_type": str}).set_index("id")
    outcome = ingestion_outcome(result_dir)
    predicted = read_submission(output_file(result_dir, SUBMISSION, "your program"), pd.Index(solution["id"]))
    fits = fit_all(solution, predicted)
    ratios = per_record(fits)
    scores = {"snr": snr_db(ratios.to_numpy())}
    for image_type in IMAGE_TYPES:
        members = ratios[records.loc[ratios.index, "image_type"].to_numpy() == image_type]
        scores[f"snr_{image_type}"] = snr_db(members.to_numpy()) if len(members) else 0.0
    for group, leads in LEAD_GROUPS.items():
        scores[f"snr_{group}"] = snr_db(per_record(fits, leads).to_numpy())
    scores["duration"] = float((outcome or {}).get("duration") or 0.0)
    return Scored(scores, build_report(scores, fits, ratios, records, solution, predicted))


def build_report(scores, fits, ratios, records, solution, predicted) -> Report:
    report = Report("ECG image digitization: detailed results")
    report.paragraph(f"Modified SNR over {len(ratios)} test records: {scores['snr']:.3f} dB "
                     f"(a perfect submission scores {10 * np.log10(384):.4f} dB).")
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
    report.heading("Fitted time lags and vertical offsets")
    report.paragraph("Large lags mean a column's segment was placed at the wrong time; large offsets a wrong baseline. "
                     "Both are forgiven by the metric up to ±0.2 s, but they show calibration errors.")
    figure, axes = new_figure(9, 3.2)
    figure.clear()
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    left.hist(fits["lag"] / fits["fs"] * 1000, bins=41, color="#4c72b0")
    left.set_xlabel("time lag (ms)")
    left.set_ylabel("leads")
    right.hist(fits["offset"], bins=41, color="#dd8452")
    right.set_xlabel("vertical offset (mV)")
    report.figure(figure, "Distribution over every (record, lead) of the test set")
    report.heading("The worst records")
    worst = ratios.sort_values().index[:3]
    keyed = solution.assign(pred=predicted, record=solution["id"].str.split("_").str[0],
                            lead=solution["id"].str.split("_").str[2])
    for record in worst:
        rows = keyed[(keyed["record"] == record) & (keyed["lead"] == "II")]
        fit = fits[(fits["record"] == record) & (fits["lead"] == "II")].iloc[0]
        figure, axes = new_figure(9, 2.4)
        fs = int(fit["fs"])
        t = np.arange(len(rows)) / fs
        axes.plot(t, rows["value"].to_numpy(), color="black", linewidth=0.8, label="true")
        axes.plot(t + fit["lag"] / fs, rows["pred"].to_numpy() - fit["offset"], color="#c44e52", linewidth=0.8,
                  alpha=0.8, label="yours, aligned")
        axes.set_xlabel("seconds")
        axes.set_ylabel("lead II (mV)")
        axes.legend(loc="upper right", fontsize=8)
        snr = 10 * np.log10(max(ratios[record], 1e-38))
        report.figure(figure, f"record {record} ({records.loc[record, 'image_type']}): {snr:.2f} dB")
    return report


if __name__ == "__main__":
    sys.exit(run_scoring(score))
