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
import pyarrow as pa
import pyarrow.compute as pc

from modified_snr import max_shift, ratio, segment_powers, snr_db
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
MAX_ABS_MV = 1e6  # no ECG comes near a kilovolt; squared sums of larger values overflow to inf and NaN


def arrow_strings(values) -> pa.Array:
    array = pa.array(values) if not isinstance(values, (pa.Array, pa.ChunkedArray)) else values
    if isinstance(array, pa.ChunkedArray):  # pandas' arrow-backed strings come chunked
        array = array.combine_chunks()
    return array.cast(pa.string())


def read_submission(path: Path, expected_ids: pd.Series) -> np.ndarray:
    """The submitted values in the order of `expected_ids`; every problem is the participant's, with its row.

    Ids are matched with pyarrow's hash lookup: millions of rows take a second, not minutes."""
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises many kinds for a file that is not parquet
        raise SubmissionError(f"{SUBMISSION}: not a readable parquet file ({type(error).__name__}: {error})") from None
    if list(frame.columns) != ["id", "value"]:
        missing = [c for c in ("id", "value") if c not in frame.columns]
        extra = [c for c in frame.columns if c not in ("id", "value")]
        raise SubmissionError(f"{SUBMISSION}: the columns must be id, value (missing: {missing or 'none'}; "
                              f"unexpected: {extra or 'none'})")
    ids = arrow_strings(frame["id"].astype(str))
    expected = arrow_strings(expected_ids.astype(str))
    position = pc.index_in(ids, value_set=expected)
    unknown = position.is_null().to_numpy(zero_copy_only=False)
    if unknown.any():
        rows = np.flatnonzero(unknown)
        raise SubmissionError(f"{SUBMISSION}, row {rows[0] + 1}, column 'id': unknown id {ids[int(rows[0])].as_py()!r} "
                              f"({len(rows)} id(s) not in the test set)")
    position = position.to_numpy()
    _, first = np.unique(position, return_index=True)
    if len(first) != len(position):
        repeated = np.setdiff1d(np.arange(len(position)), first)[0]
        raise SubmissionError(f"{SUBMISSION}, row {repeated + 1}, column 'id': id {ids[int(repeated)].as_py()!r} "
                              f"appears again")
    if len(position) != len(expected):
        absent = np.setdiff1d(np.arange(len(expected)), position)
        shown = ", ".join(repr(expected[int(i)].as_py()) for i in absent[:MAX_EXAMPLES])
        raise SubmissionError(f"{SUBMISSION}: {len(absent)} test id(s) have no row, e.g. {shown} (every lead needs "
                              f"exactly the number_of_rows of test.csv)")
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raw = frame["value"].iloc[row]
        shown = repr(raw) if isinstance(raw, str) else str(raw)
        raise SubmissionError(f"{SUBMISSION}, row {row + 1}, column 'value': {shown} is not a finite number "
                              f"({int(bad.sum())} such value(s); NaN and infinity are not allowed)")
    huge = np.abs(values) > MAX_ABS_MV
    if huge.any():
        row = int(np.flatnonzero(huge)[0])
        raise SubmissionError(f"{SUBMISSION}, row {row + 1}, column 'value': {values[row]!r} mV is beyond "
                              f"±{MAX_ABS_MV:g} mV ({int(huge.sum())} such value(s)); values are in millivolts")
    aligned = np.empty(len(expected))
    aligned[position] = values
    return aligned


def solution_keys(solution: pd.DataFrame) -> pd.DataFrame:
    """record, row, lead of every reference row: from the columns the builder stores, else parsed from the ids."""
    if {"record", "lead", "row"} <= set(solution.columns):
        record = pd.Categorical(solution["record"].to_numpy())  # factorising integers, then naming a few codes
        record = record.rename_categories([str(c) for c in record.categories])
        lead = solution["lead"]
        lead = lead.array if isinstance(lead.dtype, pd.CategoricalDtype) else pd.Categorical(lead.astype(str))
        return pd.DataFrame({"record": record, "row": solution["row"].to_numpy(dtype=np.int64), "lead": lead})
    return parse_ids(solution["id"])


def parse_ids(ids: pd.Series) -> pd.DataFrame:
    """'{record}_{row}_{lead}' → record, row, lead columns (pyarrow's vectorised split: millions of ids in a second)."""
    parts = pc.split_pattern(arrow_strings(ids.astype(str)), "_")

    def categories(index: int) -> pd.Categorical:  # few distinct records and leads: codes, not millions of strings
        encoded = pc.list_element(parts, index).dictionary_encode()
        return pd.Categorical.from_codes(encoded.indices.to_numpy(), encoded.dictionary.to_pylist())

    return pd.DataFrame({"record": categories(0), "row": pc.list_element(parts, 1).cast(pa.int64()).to_numpy(),
                         "lead": categories(2)})


def fit_all(solution: pd.DataFrame, predicted: np.ndarray, keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (record, lead): powers, lag and offset, from segment_powers grouped by length and fs.

    Segments are runs of the same (record, lead) in row order; the reference is written that way, so sorting is
    needed (and done) only when it is not."""
    keys = solution_keys(solution) if keys is None else keys
    record_codes = keys["record"].cat.codes.to_numpy().astype(np.int64)
    lead_codes = keys["lead"].cat.codes.to_numpy().astype(np.int64)
    group = record_codes * (len(keys["lead"].cat.categories) + 1) + lead_codes
    rows = keys["row"].to_numpy()
    n = len(group)
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    lengths = np.diff(np.append(starts, n))
    expected_rows = np.arange(n) - np.repeat(starts, lengths)
    if len(np.unique(group[starts])) == len(starts) and np.array_equal(rows, expected_rows):
        order = np.arange(n)
    else:  # not in (record, lead, row) order: sort once
        order = np.lexsort((rows, group))
        group, rows = group[order], rows[order]
        starts = np.flatnonzero(np.diff(group, prepend=-1))
        lengths = np.diff(np.append(starts, n))
        assert np.array_equal(rows, np.arange(n) - np.repeat(starts, lengths)), "rows of a lead must be 0..n-1"
    label = solution["value"].to_numpy(dtype=np.float64)[order]
    pred = np.asarray(predicted, dtype=np.float64)[order]
    fs = solution["fs"].to_numpy()[order][starts]
    fits = np.empty((len(starts), 4))
    combos = np.stack([lengths, fs], axis=1)
    for length, rate in np.unique(combos, axis=0):
        members = np.flatnonzero((lengths == length) & (fs == rate))
        index = starts[members][:, None] + np.arange(length)[None, :]
        fits[members] = np.column_stack(segment_powers(label[index], pred[index], max_shift(int(rate))))
    first = order[starts]
    return pd.DataFrame({"record": keys["record"].to_numpy()[first], "lead": keys["lead"].to_numpy()[first],
                         "p_signal": fits[:, 0], "p_noise": fits[:, 1], "lag": fits[:, 2], "offset": fits[:, 3],
                         "fs": fs})


def per_record(fits: pd.DataFrame, leads=LEADS) -> pd.Series:
    chosen = fits[fits["lead"].isin(leads)].groupby("record", sort=False)[["p_signal", "p_noise"]].sum()
    return pd.Series(ratio(chosen["p_signal"].to_numpy(), chosen["p_noise"].to_numpy()), index=chosen.index)


def score(reference_dir: Path, result_dir: Path) -> Scored:
    solution = pd.read_parquet(reference_dir / "solution.parquet")
    records = pd.read_csv(reference_dir / "records.csv", dtype={"id": str, "image_type": str}).set_index("id")
    outcome = ingestion_outcome(result_dir)
    predicted = read_submission(output_file(result_dir, SUBMISSION, "your program"), solution["id"])
    keys = solution_keys(solution)
    fits = fit_all(solution, predicted, keys)
    ratios = per_record(fits)
    scores = {"snr": snr_db(ratios.to_numpy())}
    for image_type in IMAGE_TYPES:
        members = ratios[records.loc[ratios.index, "image_type"].to_numpy() == image_type]
        scores[f"snr_{image_type}"] = snr_db(members.to_numpy()) if len(members) else 0.0
    for group, leads in LEAD_GROUPS.items():
        scores[f"snr_{group}"] = snr_db(per_record(fits, leads).to_numpy())
    scores["duration"] = float((outcome or {}).get("duration") or 0.0)
    return Scored(scores, build_report(scores, fits, ratios, records, solution.assign(pred=predicted, **keys)))


def build_report(scores, fits, ratios, records, keyed: pd.DataFrame) -> Report:
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
    lead_two = keyed[keyed["lead"] == "II"]
    for record in worst:
        rows = lead_two[lead_two["record"] == record].sort_values("row")
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
