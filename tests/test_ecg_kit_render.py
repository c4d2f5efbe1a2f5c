"""The ECG generator's ECG-Image-Kit types (0101 clean, 0102 distorted): the page measured from the image itself."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from conftest import ROOT
from test_ecg import TASK, metric, task_module, true_calibration_ratio

MM = 200 / 25.4  # pixels per mm at 200 dpi


@pytest.fixture(scope="module")
def kit_page_200(tmp_path_factory):
    """A clean 0101 page of a 500-Hz record at 200 dpi, with its labels: (RGBA array, mask, calibration)."""
    prepare, signals = task_module("prepare"), task_module("signals")
    record = signals.simulate(500, np.random.default_rng(3))
    stem = tmp_path_factory.mktemp("kit") / "page-0101"
    prepare.render_image(record, 500, 200, "0101", [0, 1], stem, labels=True)
    image = Image.open(stem.with_suffix(".png"))
    assert image.mode == "RGBA" and image.size == (2200, 1700)
    mask = np.asarray(Image.open(stem.parent / "page-0101_mask.png"))
    return np.asarray(image), mask, json.loads(stem.with_suffix(".json").read_text())


def line_positions(profile: np.ndarray, colour) -> np.ndarray:
    return np.flatnonzero((profile == np.array(colour)).all(axis=1))


def test_grid_colours_and_periods_at_200_dpi(kit_page_200):
    image = kit_page_200[0][..., :3].astype(int)
    assert (kit_page_200[0][..., 3] == 255).all()
    row = image[int(20.5 * MM)]  # a pixel row between two horizontal lines, in the empty grid above row I
    majors, minors = line_positions(row, (255, 0, 0)), line_positions(row, (254, 223, 219))
    assert np.diff(majors).min() >= 39 and np.diff(majors).max() <= 40  # 5 mm, 1-px lines
    assert (majors[-1] - majors[0]) / (len(majors) - 1) == pytest.approx(5 * MM, abs=0.02)
    assert np.diff(minors).min() >= 7 and np.diff(minors).max() <= 16  # 1 mm, the majors in between
    assert (np.diff(np.sort(np.concatenate([majors, minors]))) <= 8).all()
    column = image[:int(80 * MM), int(2.5 * MM)]  # a pixel column between two vertical lines
    horizontal = line_positions(column, (255, 0, 0))
    from_bottom = (1700 - horizontal) % (5 * MM)
    assert (np.minimum(from_bottom, 5 * MM - from_bottom) <= 1).all()  # counted up from the page's bottom
    # the horizontal minors are drawn over the vertical majors
    assert tuple(image[line_positions(column, (254, 223, 219))[0], majors[0]]) == (254, 223, 219)


def test_page_frame_rows_pulse_and_trace_start(kit_page_200):
    image, mask, calibration = kit_page_200
    grey = image[..., :3].max(axis=2)
    assert (grey[[0, -1], :] == 0).all() and (grey[:, [0, -1]] == 0).all()  # the 1-px black frame
    dark_rows = np.flatnonzero(grey[5:-5, int(12.5 * MM)] < 80) + 5
    pulse_top = [int(run.min()) for run in np.split(dark_rows, np.flatnonzero(np.diff(dark_rows) > 5) + 1)]
    baselines_mm = (np.array(pulse_top) + 1) / MM + 10  # the pulse is 1 mV = 10 mm high
    assert baselines_mm == pytest.approx([90.0, 125.9, 161.9, 194.9], abs=0.3)
    for baseline_mm in (90.0, 125.9, 161.9, 194.9):
        base = int(round(baseline_mm * MM))
        assert (grey[base - 2:base + 3, int(5 * MM):int(9.5 * MM)] > 150).all()  # no flat lead-in
        falling = grey[int((baseline_mm - 9) * MM):base - 3, int(15 * MM) - 2:int(15 * MM) + 3].min(axis=1)
        assert (falling < 80).all()  # the falling edge at 15 mm
    for lead in calibration["leads"]:
        assert lead["x0"] == pytest.approx(15 * MM + lead["t_start"] * 25 * MM)
    first_column = np.flatnonzero((mask == 1).any(axis=0))[0]  # lead I's first drawn pixel: at the falling edge
    assert abs(first_column - 15 * MM) <= 2


def test_labels_footer_and_trace_ink(kit_page_200):
    image, mask, _ = kit_page_200
    grey = image[..., :3].max(axis=2)
    label = grey[int(93 * MM):int(98.5 * MM), int(15 * MM):int(17 * MM)] < 80  # "I", 4-8 mm below row I
    rows = np.flatnonzero(label.any(axis=1))
    assert len(rows) and rows.min() >= 0.5 * MM and rows.max() <= 5 * MM
    footer = grey[int(200 * MM):int(212 * MM), int(45 * MM):int(130 * MM)] < 80
    assert footer.any() and np.flatnonzero(footer.any(axis=1)).max() / MM + 200 == pytest.approx(210.9, abs=1.0)
    trace = image[..., :3][mask == 13].astype(int)
    assert np.median(trace.max(axis=1)) <= 120  # an anti-aliased grey (0-51) line of 0.75 pt


def redigitized_snr(records: list[tuple[int, int]], shift: float) -> float:
    """SNR (dB) of 0101 pages at 200 dpi of (seed, fs) records decoded at the true scales from 15 mm + shift px."""
    signals, kit_page = task_module("signals"), task_module("kit_page")
    ratios = []
    for seed, fs in records:
        record = signals.simulate(fs, np.random.default_rng(seed))
        printed = kit_page.print_kit(record, fs, 200, np.random.default_rng(seed))
        fall_end = 15 * MM + (1.5 * 25 / fs + 0.35) * MM  # the pulse falls 1.5 samples into the data
        ratios.append(true_calibration_ratio(record, fs, printed.image, printed.calibration, 15 * MM + shift,
                                             fall_end))
    return metric.snr_db(np.array(ratios))


def test_kit_page_redigitized_with_the_true_calibration_recovers_the_signal():
    """Traces drawn where the calibration says: decoded from the data's start (15 mm) at the true scales, the
    signal comes back (above 15 dB), and at 100 Hz better than from a start half a sample (1 px) early or late,
    which the metric's whole-sample lags cannot undo."""
    assert redigitized_snr([(0, 100), (1, 500), (2, 250)], 0.0) > 15.0
    at_100_hz = {shift: redigitized_snr([(0, 100), (1, 100)], shift) for shift in (0.0, -1.0, 1.0)}
    assert at_100_hz[0.0] > max(at_100_hz[-1.0], at_100_hz[1.0]) + 1.0, at_100_hz


@pytest.mark.parametrize("image_type, dpi, size", [("0101", 100, (1100, 850)), ("0102", 100, (1100, 850))])
def test_kit_types_are_deterministic_rgba_pages(tmp_path, image_type, dpi, size):
    prepare, signals = task_module("prepare"), task_module("signals")
    record = signals.simulate(100, np.random.default_rng(1))
    paths = [tmp_path / name / "x" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ([5, 1], [5, 1], [6, 1])):
        prepare.render_image(record, 100, dpi, image_type, seed, path)
    first = paths[0].with_suffix(".png").read_bytes()
    assert first == paths[1].with_suffix(".png").read_bytes()
    assert first != paths[2].with_suffix(".png").read_bytes()  # another ink grey, other distortions
    image = Image.open(paths[0].with_suffix(".png"))
    assert image.mode == "RGBA" and image.size == size


def test_distorted_kit_page_rotates_with_black_wedges():
    prepare, signals = task_module("prepare"), task_module("signals")
    record = signals.simulate(250, np.random.default_rng(2))
    for seed in range(6):
        printed, sheet = prepare.draw(record, 250, 50, "0102", np.random.default_rng(seed))
        angle = np.degrees(np.arctan2(sheet.homography[1, 0], sheet.homography[0, 0]))
        assert abs(angle) <= 5.01 and abs(angle - round(angle)) < 0.01  # whole degrees, as imgaug's Affine
        if abs(angle) >= 2:
            corners = sheet.image[[1, 1, -2, -2], [1, -2, 1, -2]]
            assert (corners.max(axis=1) < 5).sum() >= 2  # black, the colour cast multiplies black
            return
    pytest.fail("no rotation of 2 degrees or more in 6 seeds")


def test_scales_scorer_and_leaderboard_know_the_kit_types(tmp_path):
    definition = yaml.safe_load((ROOT / "bundles" / TASK / "bundle.yaml").read_text())
    full = definition["scales"]["full"]
    assert {"0101", "0102"} <= set(full["image_types"]) and {100, 1000} <= set(full["sampling_rates"])
    assert "image_types" not in definition["scales"]["small"]  # the small scale's data stays as it was
    columns = {column["key"] for column in definition["leaderboard"]["columns"]}
    report = (ROOT / "scoring_programs" / "ecg_snr" / "snr_report.py").read_text()
    for image_type in full["image_types"]:
        assert f"snr_{image_type}" in columns and f'"{image_type}"' in report
    prepare = task_module("prepare")
    params = {"n_train": 1, "n_test": 2, "dpi": 30, "train_image_types": 3, "sampling_rates": [100],
              "image_types": ["0001", "0101", "0102"]}
    prepare.synthetic(tmp_path, params, seed=1)
    assert {p.name.split("-")[-1] for p in (tmp_path / "public" / "train").glob("*/*-????.png")} == {
        "0001.png", "0101.png", "0102.png"}
    tests = pd.read_csv(tmp_path / "public" / "test.csv")
    assert set(tests["fs"]) == {100} and set(tests["number_of_rows"]) == {250, 1000}
    with pytest.raises(ValueError, match="unknown"):
        prepare.image_types({"image_types": ["0001", "0002"]})
