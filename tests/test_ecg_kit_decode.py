"""The ECG kit's decoding: steep strokes fitted to the ink, and the data's start from the ticks and the pulse."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from test_ecg import KIT, LEADS, metric, task_module


def kit_module(name: str):
    sys.path.insert(0, str(KIT))
    try:
        return __import__(f"ecg_kit.{name}", fromlist=[name])
    finally:
        sys.path.remove(str(KIT))


def r_peak_error(record: dict, decoded: dict, fs: int) -> float:
    """The median error (mV) of the decoded complexes' heights in lead II's rhythm strip."""
    label = record["II"]
    peaks = [i for i in range(1, len(label) - 1)
             if label[i] == label[max(0, i - fs // 10):i + fs // 10].max() and label[i] > label.mean() + 3 * label.std()]
    assert len(peaks) >= 5
    reach = fs // 50  # 20 ms: a lag of the decoding does not count against it
    return float(np.median([abs(decoded["II"][max(0, i - reach):i + reach].max() - label[i]) for i in peaks]))


@pytest.mark.parametrize("dpi", [100, 200])
def test_steep_strokes_fitted_to_the_ink_recover_the_complexes(dpi):
    """ECG-Image-Kit's thin strokes spread a QRS over two or three columns: their centroids halve its height. The
    fit by rendering brings back the complexes' heights and the SNR (same pages, same true geometry)."""
    signals, kit_page = task_module("signals"), task_module("kit_page")
    calibration_module, decode = kit_module("calibration"), kit_module("decode")
    px_per_mm = dpi / 25.4
    results = {}
    for refine in (False, True):
        ratios, peak_errors = [], []
        for seed, fs in enumerate((500, 1000)):
            record = signals.simulate(fs, np.random.default_rng(seed))
            printed = kit_page.print_kit(record, fs, dpi, np.random.default_rng(seed))
            geometry = calibration_module.PageGeometry(0.0, px_per_mm, [b * px_per_mm for b in kit_page.ROW_BASELINES_MM],
                                                       15 * px_per_mm, "true")
            decoded = decode.decode_page(calibration_module.ink(printed.image), geometry, fs, refine=refine)
            peak_errors.append(r_peak_error(record, decoded, fs))
            ratios.append(ratio_of(record, decoded, fs))
        results[refine] = (metric.snr_db(np.array(ratios)), float(np.mean(peak_errors)))
    (plain_snr, plain_peak), (fitted_snr, fitted_peak) = results[False], results[True]
    assert fitted_snr > plain_snr + 1.5, results
    assert fitted_peak < 0.6 * plain_peak, results


def ratio_of(record: dict, decoded: dict, fs: int) -> float:
    p_signal = p_noise = 0.0
    quarter = fs * 10 // 4
    for lead in LEADS:
        column = {"I": 0, "III": 0, "aVR": 1, "aVL": 1, "aVF": 1, "V1": 2, "V2": 2, "V3": 2}.get(lead, 3)
        label = record["II"] if lead == "II" else record[lead][column * quarter:(column + 1) * quarter]
        fit = metric.direct_fit(label, decoded[lead], metric.max_shift(fs))
        p_signal, p_noise = p_signal + fit.p_signal, p_noise + fit.p_noise
    return metric.ratio([p_signal], [p_noise])[0]


@pytest.mark.parametrize("dpi", [100, 200])
def test_data_start_from_the_falling_stroke_on_ecg_image_kit_pages(dpi):
    """ECG-Image-Kit's pulse falls 1-2 samples after the data's start (15 ms at 100 Hz); its ticks are snapped to
    whole pixels. At 100 Hz a third of a sample off costs several dB: the start is placed from the slanted falling
    stroke, to a small fraction of a sample."""
    signals, kit_page = task_module("signals"), task_module("kit_page")
    calibration_module, timebase = kit_module("calibration"), kit_module("timebase")
    fs = 100
    record = signals.simulate(fs, np.random.default_rng(11))
    printed = kit_page.print_kit(record, fs, dpi, np.random.default_rng(11))
    geometry = calibration_module.estimate_geometry(printed.image, 8.0)[2]
    px_per_mm = dpi / 25.4
    assert geometry.tick_half is not None and geometry.pulse_fall is not None
    assert abs(geometry.pulse_fall / px_per_mm - (15 + 1.5 * 25 / fs)) < 0.05  # the stroke's middle
    assert abs(timebase.data_start(geometry, fs) / px_per_mm - 15.0) < 0.05  # a fifth of a sample at 100 Hz


def test_data_start_from_the_ticks_on_our_own_pages():
    """The project's own pages end the pulse with a flat lead-out: the ticks between the columns give the start."""
    signals, layout = task_module("signals"), task_module("layout")
    calibration_module, timebase = kit_module("calibration"), kit_module("timebase")
    rng = np.random.default_rng(5)
    record = signals.simulate(500, rng)
    page = layout.random_page(100, rng)
    geometry = calibration_module.estimate_geometry(layout.print_record(record, 500, page, rng).image, 8.0)[2]
    assert geometry.tick_half is not None
    assert abs(timebase.data_start(geometry, 500) - page.trace_start_mm * page.px_per_mm) < 0.75


def test_grey_grid_lines_are_not_trace():
    """A grey grid's lines are as dark as the trace in the ink: a column (row) inked over most of its length is a
    grid line and is emptied; the trace, a tall complex included, stays."""
    calibration_module = kit_module("calibration")
    weights = np.zeros((200, 300), dtype=np.float32)
    weights[:, 40] = weights[:, 140] = 1.0  # vertical grid lines
    weights[100, :] = 0.9  # a horizontal one
    weights[60, 15:255] = 1.0  # a flat trace on one pixel row over 80 % of the width
    weights[20:180, 200] = 1.0  # a QRS stroke 160 px tall
    cleaned = calibration_module.without_grid_lines(weights)
    assert not cleaned[:, [40, 140]].any() and not cleaned[100].any()
    stroke = np.r_[20:100, 101:180]  # where the horizontal line crosses it, the stroke is bridged
    assert cleaned[stroke, 200].all() and cleaned[60, 15:40].all() and cleaned[60, 150:255].all()


def test_a_speck_of_noise_beside_a_faint_stretch_is_not_followed():
    """Where the trace fades for a few columns, skipping them is dearer than taking up an isolated speck of noise
    and skipping on from it: a speck that touches nothing in the columns beside it is dropped, a steep stroke's run
    (joined to its neighbours) is kept."""
    decode_module = kit_module("decode")
    weights = np.zeros((120, 40), dtype=np.float32)
    weights[60, :] = 1.0  # a flat trace ...
    weights[:, 15:19] = 0.0  # ... faded over four columns
    weights[95, 16] = 1.0  # a speck of noise 35 px below it
    weights[:, 25:28] = 0.0  # a spike: up in one column, its tip in the next, down again
    weights[30:60, 25] = weights[30, 26] = weights[30:60, 27] = 1.0
    xs, ys = decode_module.track(weights, 0, 40, baseline=60.0, half_band=55.0, gap_cost=6.0)
    assert np.all(np.abs(ys - 60) < 31) and not np.any(np.abs(ys - 95) < 5)
    assert set(np.floor(xs[np.abs(ys - 60) > 10]).astype(int)) >= {26}  # the spike's tip is followed
    assert not set(np.floor(xs).astype(int)) & {15, 16, 17, 18}  # the faded columns are bridged, not read


def test_a_thin_lines_faint_pixels_join_its_runs_and_noise_does_not():
    """At 100 dpi ECG-Image-Kit's line is one pixel wide: a steep stroke between two columns leaves each a pixel
    below the runs' threshold. Faint pixels joined to the line are raised to it; a faint pixel of noise on its own
    is not, and at 200 dpi (a 2-px line) the map is left as it is."""
    decode_module = kit_module("decode")
    weights = np.zeros((80, 30), dtype=np.float32)
    weights[60, :10] = weights[20, 12:] = 0.9  # a step from y 60 up to y 20 ...
    weights[21:60, 10] = weights[21:60, 11] = 0.3  # ... whose stroke is split over two columns, each too faint
    weights[24:60:6, 10] = 0.5  # but for a pixel here and there where the line crosses a pixel's centre
    weights[70, 25] = 0.3  # a faint speck of noise
    raised = decode_module.with_faint_line(weights, px_per_mm=100 / 25.4)
    rows = np.arange(80, dtype=np.float64)
    assert len(decode_module.column_runs(weights[:, 10], rows)) == 6
    assert decode_module.column_runs(weights[:, 11], rows) == []
    assert [run[1:] for run in decode_module.column_runs(raised[:, 10], rows)] == [(21.0, 59.0)]
    assert [run[1:] for run in decode_module.column_runs(raised[:, 11], rows)] == [(21.0, 59.0)]
    assert raised[70, 25] == weights[70, 25]
    assert np.array_equal(decode_module.with_faint_line(weights, px_per_mm=200 / 25.4), weights)


@pytest.mark.parametrize("degrees", [-12, 12])
def test_a_page_turned_beyond_8_degrees_within_its_frame(degrees):
    """ECG-Image-Kit turns the page within the image (its corners cut off, black wedges in the image's corners).
    Beyond 8 degrees the rotation is still found to a hundredth of a degree, and the page is not taken for a photo
    whose corners show: the frame's cut points are no page corners to warp to."""
    from PIL import Image

    signals, kit_page = task_module("signals"), task_module("kit_page")
    rectify, classical = kit_module("rectify"), kit_module("classical")
    fs, dpi = 500, 100
    record = signals.simulate(fs, np.random.default_rng(3))
    printed = kit_page.print_kit(record, fs, dpi, np.random.default_rng(3))
    turned = np.asarray(Image.fromarray(printed.image).rotate(degrees, resample=Image.Resampling.BILINEAR,
                                                             fillcolor=(0, 0, 0)))
    assert rectify.page_corners(turned) is None
    assert rectify.grid_homography(turned) is None  # a rotation alone: left to the calibration
    decoded, geometry = classical.digitize_classical(turned, fs)
    assert abs(geometry.angle + degrees) < 0.05  # the turn that undoes it
    assert abs(geometry.px_per_mm / (dpi / 25.4) - 1) < 0.005
    quarter = fs * 10 // 4
    for lead in ("V1", "V2", "V3", "V4", "V5", "V6"):  # columns the frame did not cut
        column = 2 if lead in ("V1", "V2", "V3") else 3
        label = record[lead][column * quarter:(column + 1) * quarter]
        fit = metric.direct_fit(label, decoded[lead], metric.max_shift(fs))
        assert fit.p_signal > 10 * fit.p_noise, lead  # above 10 dB


def test_a_page_seen_in_perspective_from_inside_is_straightened_by_its_grid(monkeypatch):
    """A photo taken inside the page (no edge of it shows, so no corners to warp to) keeps its perspective: the
    grid's homography straightens it, so that the page's right angles come back, and the leads are read."""
    from PIL import Image

    signals, kit_page = task_module("signals"), task_module("kit_page")
    rectify, classical = kit_module("rectify"), kit_module("classical")
    fs, dpi = 500, 100
    record = signals.simulate(fs, np.random.default_rng(4))
    printed = kit_page.print_kit(record, fs, dpi, np.random.default_rng(4))
    height, width = printed.image.shape[:2]
    seen = rectify.about_centre([0.02, 0.0, 0.08, 0.05], width, height)  # the page's pixels → the photo's
    inverse = np.linalg.inv(seen)
    photo = np.asarray(Image.fromarray(printed.image[..., :3]).transform(
        (width, height), Image.Transform.PERSPECTIVE, tuple((inverse / inverse[2, 2]).flatten()[:8]),
        resample=Image.Resampling.BILINEAR, fillcolor=(255, 255, 255)))
    assert rectify.page_corners(photo) is None
    straightened = rectify.grid_homography(photo)
    assert straightened is not None
    corners = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], dtype=float).T
    mapped = straightened @ seen @ corners
    mapped = (mapped[:2] / mapped[2]).T
    sides = [mapped[(i + 1) % 4] - mapped[i] for i in range(4)]
    for first, second in zip(sides, sides[1:] + sides[:1]):
        cosine = abs(np.dot(first, second)) / (np.linalg.norm(first) * np.linalg.norm(second))
        assert cosine < np.sin(np.radians(0.5))  # right angles again, within half a degree

    def v_leads_db() -> float:
        decoded, _ = classical.digitize_classical(photo, fs)
        quarter = fs * 10 // 4
        fits = [metric.direct_fit(record[lead][column * quarter:(column + 1) * quarter], decoded[lead],
                                  metric.max_shift(fs))
                for column, leads in ((2, ("V1", "V2", "V3")), (3, ("V4", "V5", "V6"))) for lead in leads]
        return 10 * np.log10(sum(fit.p_signal for fit in fits) / sum(fit.p_noise for fit in fits))
    assert v_leads_db() > 10
    monkeypatch.setattr(rectify, "grid_homography", lambda image: None)
    assert v_leads_db() < 5


@pytest.mark.parametrize("dpi", [100, 200])
def test_a_stroke_beside_a_separator_tick_is_read(dpi):
    """ECG-Image-Kit draws a thick tick where one lead's window ends and the next begins. A complex there, rising
    past the tick or falling under it, is read where it shows: the tick's own pixels are hidden, not the columns
    around it (which held the window's last value over its last 30-60 ms)."""
    signals, kit_page = task_module("signals"), task_module("kit_page")
    calibration_module, decode = kit_module("calibration"), kit_module("decode")
    fs = 500
    record = signals.simulate(fs, np.random.default_rng(3))
    end = np.arange(int(7.44 * fs), int(7.5 * fs))
    rise = np.linspace(0.0, 1.2, len(end))
    record["V1"][end] += rise  # rising out of the tick, above it
    record["V2"][end] -= rise  # falling out of it, below
    printed = kit_page.print_kit(record, fs, dpi, np.random.default_rng(3))
    image, weights, geometry = calibration_module.estimate_geometry(printed.image, 8.0)
    assert geometry.tick_spans is not None
    decoded = decode.decode_page(calibration_module.ink(image), geometry, fs)
    quarter = fs * 10 // 4
    for lead in ("V1", "V2"):
        label = record[lead][2 * quarter:3 * quarter]
        fit = metric.direct_fit(label, decoded[lead], metric.max_shift(fs))
        aligned = metric.shifted(decoded[lead], fit.lag, len(label)) - fit.offset
        last = slice(len(label) - int(0.04 * fs), len(label) - 2)
        assert np.nanmax(np.abs(aligned[last] - label[last])) < 0.15, (lead, aligned[last], label[last])


def test_tick_spans_are_measured_on_ecg_image_kit_pages():
    """The ticks of rows I-III stand on their baselines, ±1.75 mm at 100 dpi and ±3.5 mm at 200 dpi."""
    signals, kit_page = task_module("signals"), task_module("kit_page")
    calibration_module = kit_module("calibration")
    for dpi in (100, 200):
        record = signals.simulate(250, np.random.default_rng(dpi))
        geometry = calibration_module.estimate_geometry(kit_page.print_kit(record, 250, dpi,
                                                                           np.random.default_rng(dpi)).image, 8.0)[2]
        px_per_mm = dpi / 25.4
        half = kit_page.TICK_HALF_MM * dpi / 100 * px_per_mm
        assert geometry.tick_spans is not None and len(geometry.tick_spans) == 3
        for (top, bottom), baseline_mm in zip(geometry.tick_spans, kit_page.ROW_BASELINES_MM):
            assert abs((top + bottom) / 2 - baseline_mm * px_per_mm) < 1.5
            assert abs((bottom - top) / 2 - half) < 1.5


def test_a_run_split_by_one_paler_pixel_is_one_run():
    """An anti-aliased steep stroke pales in a pixel here and there: the two pieces are one run (else the tracking
    may take the smaller piece, nearer the baseline, and cut a notch into the complex); two strokes a few pixels
    apart are two."""
    decode_module = kit_module("decode")
    column = np.zeros(60, dtype=np.float32)
    column[10:25] = column[26:30] = 0.9
    column[25] = 0.2
    column[40:44] = column[47:50] = 0.9
    runs = decode_module.column_runs(column, np.arange(60, dtype=np.float64))
    assert [run[1:] for run in runs] == [(10.0, 29.0), (40.0, 43.0), (47.0, 49.0)]


def test_a_deep_s_wave_broken_by_pale_pixels_is_followed():
    """A thin steep stroke under noise breaks where a grid line or a shadow pales a few pixels (ECG-Image-Kit's
    distorted 100-dpi pages). Between two pieces of a steep stroke a break costs a fifth of its height, so the S
    wave's trough is followed; else skipping a column and going on along the baseline was cheaper."""
    decode_module = kit_module("decode")
    weights = np.zeros((120, 40), dtype=np.float32)
    weights[60, :21] = weights[60, 25:] = 0.9  # the baseline around a QRS
    weights[45:60, 20] = weights[45:59, 21] = 0.9  # the R wave up and down, to just above the baseline
    weights[58, 22] = 0.9  # a pixel of the downstroke; the stroke goes on below after a break of 7 px
    weights[66:101, 22] = weights[75:101, 23] = weights[66:96, 24] = 0.9  # the S wave down to y 100 and up ...
    weights[58:62, 24] = weights[59:62, 25] = 0.9  # ... broken again before it rejoins the baseline
    xs, ys = decode_module.track(weights, 0, 40, baseline=60.0, half_band=55.0, gap_cost=6.0, steep_px=4.0)
    assert 23 in set(np.floor(xs).astype(int)) and ys.max() > 85  # the trough is read
    xs, ys = decode_module.track(weights, 0, 40, baseline=60.0, half_band=55.0, gap_cost=6.0)  # no steep pieces
    assert ys.max() < 70


def test_a_steep_stroke_goes_on_from_its_far_end_not_from_a_speck_beside_its_middle(monkeypatch):
    """A lead's label lies where an S wave goes down (our pages: the label under the baseline, after the tick). In
    the column after the downstroke, a speck of the label beside the stroke's middle overlaps it as much as the
    stroke's own trough does, and lies nearer the baseline: the trace, entered at the stroke's top, must turn back
    halfway to leave for the speck, and that costs; without the cost the speck is read and the trough is lost."""
    decode_module = kit_module("decode")
    weights = np.zeros((120, 30), dtype=np.float32)
    weights[20, :10] = weights[20, 15:] = 0.9  # the baseline around the complex
    weights[15:46, 10] = 0.9  # down from the baseline (after a small R wave) ...
    weights[46:84, 11] = 0.9  # ... steeply to the trough
    weights[48, 12] = 0.9  # a speck of the label beside the downstroke's middle
    weights[58:85, 12] = 0.9  # the trough
    weights[21:58, 13] = weights[20:22, 14] = 0.9  # back up to the baseline
    def trough_read() -> float:
        xs, ys = decode_module.track(weights, 0, 30, baseline=20.0, half_band=90.0, gap_cost=6.0)
        return float(ys[np.flatnonzero(np.floor(xs) == 12)[0]])
    assert trough_read() > 70
    monkeypatch.setattr(kit_module("path"), "TURN_COST", 0.0)
    assert trough_read() < 50


def aliased_qrs(x: np.ndarray) -> np.ndarray:
    """A tall narrow R wave, an S wave and a T wave, in pixels (y grows down) about a baseline at 100."""
    return (100 - 60 * np.exp(-((x - 40) / 2.2) ** 2) + 18 * np.exp(-((x - 44.5) / 2.0) ** 2)
            - 6 * np.exp(-((x - 70) / 8) ** 2))


def test_an_aliased_line_is_read_from_its_columns_ranges():
    """Our own clean pages draw the trace aliased (PIL, 1 px, five samples a column). A column's run is then the
    range the trace covers across it: read as crossings at the column boundaries and extremes inside, the R wave's
    tip comes out within half a pixel, where column centroids cut it by 5 px, and the whole curve is closer."""
    from PIL import Image, ImageDraw
    decode = kit_module("decode")
    xs = np.arange(0, 100, 0.2)
    image = Image.new("L", (100, 200), 0)
    ImageDraw.Draw(image).line(list(zip(xs.tolist(), aliased_qrs(xs).tolist())), fill=255, width=1)
    weights = np.asarray(image, dtype=np.float32) / 255
    assert decode.partial_ink(weights, None) < decode.ALIASED_PARTIAL
    inner = xs[(xs > 2) & (xs < 97)]
    truth = aliased_qrs(inner) - 0.5  # PIL puts a point in the pixel it falls in: row r holds heights r..r+1
    read = {}
    for aliased in (False, True):
        px, py = decode.track(weights, 0, 100, baseline=100.0, half_band=90.0, gap_cost=6.0, aliased=aliased)
        read[aliased] = decode.resample(px, py, inner, smooth=False)
    assert abs(read[True].min() - truth.min()) < 0.5 and read[False].min() - truth.min() > 3
    assert np.sqrt(np.mean((read[True] - truth) ** 2)) < 0.85 * np.sqrt(np.mean((read[False] - truth) ** 2))


def test_a_peak_spread_over_two_columns_is_read_at_their_boundary():
    """Two overlapping ranges: the crossing that makes the trace vary least is the shared tip (their overlap's top
    end), not the overlap's middle, which would read the peak as two with a notch between."""
    aliased = kit_module("aliased")
    low = np.array([573.0, 559.0, 560.0, 583.0])  # up a stroke, the tip over columns 1-2, down the next
    high = np.array([594.0, 572.0, 582.0, 612.0])
    assert list(aliased.crossings(low, high)) == [572.5, 560.0, 582.5]


def test_the_share_of_partial_ink_tells_aliased_sharp_and_blurred_lines_apart():
    """Aliased (our clean pages): no partial ink beside the trace; anti-aliased (ECG-Image-Kit's clean pages): some,
    read with a smooth curve; blurred or noisy (scans, photos, distorted pages): most, read with straight lines."""
    from PIL import Image, ImageDraw, ImageFilter
    decode, kit_page = kit_module("decode"), task_module("kit_page")
    xs = np.arange(0, 100, 0.2)
    points = list(zip(xs.tolist(), aliased_qrs(xs).tolist()))
    image = Image.new("L", (100, 200), 0)
    ImageDraw.Draw(image).line(points, fill=255, width=1)
    coverage = kit_page.ink_coverage((100, 200), [(points, 2.0)])
    blurred = Image.fromarray((coverage * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.0))
    shares = [decode.partial_ink(np.asarray(picture, dtype=np.float32) / scale, None)
              for picture, scale in ((image, 255), (coverage, 1), (blurred, 255))]
    assert shares[0] < decode.ALIASED_PARTIAL < shares[1] < decode.SHARP_PARTIAL < shares[2], shares


def test_a_sharp_lines_points_are_joined_by_a_smooth_curve():
    """Through a sharp line's points a QRS is curved between columns: PCHIP is closer to it than straight lines,
    and never overshoots the points (no ringing past a peak)."""
    decode = kit_module("decode")
    columns = np.arange(0.5, 100, 1.0)
    at = np.arange(1, 99, 0.2)
    smooth = decode.resample(columns, aliased_qrs(columns), at, smooth=True)
    straight = decode.resample(columns, aliased_qrs(columns), at, smooth=False)
    assert np.abs(smooth - aliased_qrs(at)).mean() < 0.7 * np.abs(straight - aliased_qrs(at)).mean()
    assert smooth.min() >= aliased_qrs(columns).min() and smooth.max() <= aliased_qrs(columns).max()


def test_the_page_of_a_photo_is_found_inside_a_lighter_rim():
    """A phone photo: the page on a dark table, and beyond the table, at the photo's edge, something lighter again.
    The page is the bright region around the centre, not everything bright: its corners are found, not the photo's."""
    from PIL import Image, ImageDraw

    signals, kit_page = task_module("signals"), task_module("kit_page")
    rectify = kit_module("rectify")
    page = kit_page.print_kit(signals.simulate(250, np.random.default_rng(4)), 250, 50, np.random.default_rng(4)).image
    canvas = Image.new("RGB", (700, 560), (225, 225, 215))  # the light rim
    canvas.paste((30, 90, 40), (25, 25, 675, 535))  # the dark table
    corners = np.array([[70.0, 60.0], [640.0, 45.0], [625.0, 500.0], [80.0, 485.0]])  # a little perspective
    height, width = page.shape[:2]
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    inverse = rectify.homography(corners, source)  # canvas pixel -> page pixel, as PIL asks
    warped = Image.fromarray(page).transform(canvas.size, Image.Transform.PERSPECTIVE, tuple(inverse.flatten()[:8]),
                                             resample=Image.Resampling.BILINEAR)
    inside = Image.new("L", canvas.size, 0)
    ImageDraw.Draw(inside).polygon([tuple(point) for point in corners], fill=255)
    canvas.paste(warped, (0, 0), inside)
    found = rectify.page_corners(np.asarray(canvas))
    assert found is not None
    assert np.abs(found - corners).max() < 6, found


def test_a_faint_trace_the_network_sees_is_kept_in_the_trace_map():
    """A photo of a monitor draws the trace in a pale grey: little ink where the committed network sees the trace
    clearly. The ink is scaled to the network's trace pixels, so their geometric mean still passes the runs'
    threshold along most of the trace (a quarter of its pixels did unscaled)."""
    import torch

    signals, kit_page = task_module("signals"), task_module("kit_page")
    network, pipeline, decode = kit_module("network"), kit_module("pipeline"), kit_module("decode")
    printed = kit_page.print_kit(signals.simulate(250, np.random.default_rng(6)), 250, 100, np.random.default_rng(6))
    faint = (255 - (255 - printed.image.astype(np.float32)) * 0.2).astype(np.uint8)  # everything 80 % paler
    model = network.load(KIT / "weights" / "default.pt", torch.device("cpu"))
    maps = pipeline.trace_maps(faint, model, torch.device("cpu"))
    trace = printed.mask > 0
    assert (maps.max(axis=0)[trace] > decode.RUN_THRESHOLD).mean() > 0.5


def test_an_aliased_lines_full_ink_joins_its_runs_and_a_grid_lines_faint_pixels_do_not():
    """On an aliased line (our own clean pages) the network's map pales where the line crosses a grid line, and a
    grid line's faint pixels touch the line. Given where the ink is full, the pale stretch of the line is raised
    and the grid line's pixel beside it is not (raised, it became a run the path took)."""
    decode_module = kit_module("decode")
    weights = np.zeros((60, 20), dtype=np.float32)
    weights[10:40, 5] = 0.9  # a steep stroke ...
    weights[24:27, 5] = 0.2  # ... paled where it crosses a grid line (rows 24-26)
    weights[25, :5] = weights[25, 6:] = 0.25  # the grid line itself, faint, touching the stroke
    full_ink = np.zeros_like(weights, dtype=bool)
    full_ink[10:40, 5] = True  # the line's own pixels are fully inked, the grid line's are not
    rows = np.arange(60, dtype=np.float64)
    raised = decode_module.with_faint_line(weights, 100 / 25.4, full_ink)
    assert [run[1:] for run in decode_module.column_runs(raised[:, 5], rows)] == [(10.0, 39.0)]
    assert decode_module.column_runs(raised[:, 6], rows) == []
    assert decode_module.column_runs(decode_module.with_faint_line(weights, 100 / 25.4)[:, 6], rows) != []


def test_a_run_reaching_the_bands_edge_goes_on_where_its_row_owns_the_ink():
    """A V lead's deep S wave reaches the next row's baseline: its run is followed past the band's edge where this
    row's map is the highest, and stops where another row's map is higher."""
    decode_module = kit_module("decode")
    weights = np.zeros((120, 30), dtype=np.float32)
    weights[40, :] = 0.9  # the baseline
    weights[40:95, 12] = 0.9  # a stroke down to y 94, 54 px below the baseline
    owned = np.ones_like(weights, dtype=bool)
    def deepest(owned) -> float:
        xs, ys = decode_module.track(weights, 0, 30, baseline=40.0, half_band=30.0, gap_cost=6.0, owned=owned)
        return float(ys.max())
    assert deepest(None) < 71  # the band ends at y 70
    assert deepest(owned) > 90
    owned[80:, 12] = False  # another row's map is higher from y 80 on
    assert 75 < deepest(owned) < 81


def test_after_a_gap_the_trace_is_taken_up_near_the_baseline_not_in_text_far_below(monkeypatch):
    """Where the trace is missing for a column (a crease, noise), skipping costs as much as the text of a footer far
    below the baseline costs to follow for a few columns: taking a run up again far from the baseline costs, so the
    trace is resumed where it is; without that cost the footer is read."""
    decode_module = kit_module("decode")
    weights = np.zeros((120, 40), dtype=np.float32)
    weights[40, :] = 0.9  # the trace on its baseline ...
    weights[40, 10] = weights[40, 20] = weights[40, 21] = 0.0  # ... missing in three columns
    weights[96:100, 11:21] = 0.9  # a footer's text 56 px below, where the trace is missing at the end too
    def lowest() -> float:
        xs, ys = decode_module.track(weights, 0, 40, baseline=40.0, half_band=80.0, gap_cost=6.0)
        return float(ys.max())
    assert lowest() < 45
    monkeypatch.setattr(kit_module("path"), "RESUME_COST", 0.0)
    assert lowest() > 90


def test_a_trough_wholly_past_the_bands_edge_is_followed(monkeypatch):
    """A deep S wave's trough may lie a column beyond the band's edge, where no run of the band starts: the run
    there that touches the stroke gone past the edge is followed, not cut off flat at the edge, where the row owns
    it (its map nearly as high as the next row's), and not where the next row's map is clearly higher."""
    decode_module = kit_module("decode")
    weights = np.zeros((120, 30), dtype=np.float32)
    weights[40, :] = 0.8  # the baseline
    weights[40:76, 12] = 0.8  # down past the band's edge (y 70) to y 75 ...
    weights[76:95, 13] = 0.8  # ... the trough wholly past it, down to y 94 ...
    weights[40:76, 14] = 0.8  # ... and back up
    weights[40, 12:15] = 0.0
    neighbour = np.where(weights > 0, 0.85, 0.0).astype(np.float32)  # the next row's map: a little higher
    owned = decode_module.row_owns(np.stack([weights, neighbour]), 0)  # nearly as high: the row's own
    def deepest() -> float:
        xs, ys = decode_module.track(weights, 0, 30, baseline=40.0, half_band=30.0, gap_cost=6.0, owned=owned)
        return float(ys.max())
    assert deepest() > 90
    monkeypatch.setattr(decode_module, "past_band", lambda candidates, *args, **kwargs: candidates)
    assert deepest() < 77
    monkeypatch.undo()
    owned = decode_module.row_owns(np.stack([weights, np.where(weights > 0, 1.0, 0.0)]), 0)  # clearly higher
    assert deepest() < 71


def test_the_limb_leads_and_the_rhythm_strip_are_fitted_together():
    """Each limb lead is a combination of I and II, and the rhythm strip shows II under the first two columns too:
    the readings of a column (I, the short II, III and the strip; aVR, aVL, aVF and the strip) are fitted together,
    which cuts independent reading noise by a fifth to a third (the strip's the most). A row's baseline a pixel off (a constant in I and III) must not put a
    step into the rhythm strip, whose whole 10 s the metric aligns with one offset."""
    decode_module = kit_module("decode")
    rng = np.random.default_rng(5)
    quarter, n = 250, 1000
    t = np.arange(n) / 100
    true_i, true_ii = np.sin(2 * np.pi * 1.1 * t), 0.8 * np.cos(2 * np.pi * 0.7 * t) + 0.3 * np.sin(2 * np.pi * 3 * t)
    first, second = slice(0, quarter), slice(quarter, 2 * quarter)
    truth = {"I": true_i[first], "III": (true_ii - true_i)[first], "aVR": -(true_i + true_ii)[second] / 2,
             "aVL": (true_i - true_ii / 2)[second], "aVF": (true_ii - true_i / 2)[second], "II": true_ii}
    noisy = {lead: values + rng.normal(0, 0.05, len(values)) for lead, values in truth.items()}
    noisy["I"] = noisy["I"] + 0.1  # row I's baseline a pixel or two off
    noisy["III"] = noisy["III"] + 0.05
    short_ii = true_ii[first] + rng.normal(0, 0.05, quarter)
    fitted = decode_module.limb_consistent({lead: values.copy() for lead, values in noisy.items()}, short_ii, quarter)

    def error(lead: str, values: np.ndarray, window=slice(None)) -> float:  # after the metric's own offset
        difference = values[window] - truth[lead][window]
        return float(np.sqrt(np.mean((difference - difference.mean()) ** 2)))
    for lead in ("I", "III", "aVR", "aVL", "aVF"):
        assert error(lead, fitted[lead]) < 0.9 * error(lead, noisy[lead])
    for window in (first, second):
        assert error("II", fitted["II"], window) < 0.8 * error("II", noisy["II"], window)
    assert np.array_equal(fitted["II"][2 * quarter:], noisy["II"][2 * quarter:])  # no limb lead shown there
    steps = [fitted["II"][window].mean() - noisy["II"][window].mean() for window in (first, second)]
    assert np.allclose(steps, 0)  # the strip keeps its level: I and III's offsets do not reach it
    assert error("II", fitted["II"]) < error("II", noisy["II"])
