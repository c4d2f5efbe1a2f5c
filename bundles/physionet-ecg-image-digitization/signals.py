"""Synthetic 12-lead ECGs that behave like real ones, generated from a moving heart vector.

Each beat is a sum of Gaussian waves (P, Q, R, S, T), each with its own 3-D direction: a vectorcardiogram. The
limb leads are projections on the frontal plane; III, aVR, aVL and aVF are then derived from I and II exactly
(Einthoven, Goldberger), and the precordial leads are projections on the horizontal plane. Records vary in heart
rate, electrical axis, amplitudes (QRS 0.5–3 mV), intervals, baseline wander and noise; some have premature
ventricular beats or atrial fibrillation (irregular rhythm, no P wave, fibrillatory waves).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
SAMPLING_RATES = (250, 256, 500, 512, 1000, 1025)
DURATION = 10.0
QUANTUM = 0.002  # mV: I and II on this grid make every derived limb lead exact with 3 decimals
# Precordial electrodes: angles in the horizontal plane (degrees, 0 = patient's left) and an elevation factor.
PRECORDIAL = {"V1": (120, 0.15), "V2": (95, 0.1), "V3": (75, 0.0), "V4": (55, -0.1), "V5": (30, -0.1), "V6": (5, -0.1)}


@dataclass
class Rhythm:
    kind: str  # sinus | af | pvc
    heart_rate: float


def unit(azimuth_deg: float, elevation: float, frontal_deg: float) -> np.ndarray:
    """A 3-D direction (x: left, y: down, z: anterior) from a frontal angle and a horizontal azimuth."""
    frontal = np.deg2rad(frontal_deg)
    azimuth = np.deg2rad(azimuth_deg)
    vector = np.array([np.cos(frontal) * np.cos(azimuth), np.sin(frontal), np.cos(frontal) * np.sin(azimuth)])
    vector[1] += elevation
    return vector / np.linalg.norm(vector)


def beat_times(rng: np.random.Generator, rhythm: Rhythm) -> tuple[np.ndarray, np.ndarray]:
    """R-peak times over the 10 s (from a little before 0) and whether each beat is ventricular (a PVC)."""
    mean_rr = 60.0 / rhythm.heart_rate
    times, ectopic, t = [], [], -rng.uniform(0.1, mean_rr)
    while t < DURATION + 0.5:
        if rhythm.kind == "af":
            rr = mean_rr * rng.uniform(0.6, 1.45)
        else:
            rr = mean_rr * (1 + 0.04 * rng.standard_normal())
        is_pvc = rhythm.kind == "pvc" and rng.random() < 0.18 and (not ectopic or not ectopic[-1])
        if is_pvc:
            rr *= 0.62  # premature...
        t += rr
        times.append(t)
        ectopic.append(is_pvc)
        if is_pvc:
            t += mean_rr * 0.45  # ...with a compensatory pause
    return np.array(times), np.array(ectopic)


def heart_vector(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The 3-D heart vector (mV) at times t: (len(t), 3)."""
    kind = rng.choice(["sinus", "sinus", "sinus", "sinus", "af", "pvc"])
    rhythm = Rhythm(str(kind), float(rng.uniform(48, 115) if kind != "af" else rng.uniform(70, 130)))
    axis = rng.normal(50, 30)  # the frontal QRS axis, degrees
    azimuth = rng.normal(-35, 15)  # the main QRS force points left and back: tall R in V5-V6, deep S in V1
    qrs_size = rng.uniform(0.5, 3.0)
    septal_dir = unit(130, 0.0, 40)  # early septal force, right and forward: the small r of V1, q of V6
    r_dir = unit(azimuth, 0.0, axis)
    s_dir = unit(azimuth - 90, 0.0, axis - 110)  # the terminal force, back and up
    t_dir = unit(azimuth + rng.normal(15, 15), 0.0, axis + rng.normal(0, 20))
    p_dir = unit(rng.normal(20, 20), 0.0, rng.normal(55, 15))
    pr, qrs_width = rng.uniform(0.12, 0.20), rng.uniform(0.008, 0.013)
    t_size, p_size = qrs_size * rng.uniform(0.15, 0.35), rng.uniform(0.08, 0.25)
    pvc_dir = unit(azimuth + 150, 0.3, axis + rng.choice([-110, 110]))
    vector = np.zeros((len(t), 3))
    peaks, ectopic = beat_times(rng, rhythm)
    for peak, is_pvc in zip(peaks, ectopic):
        rr = 60.0 / rhythm.heart_rate
        qt = 0.4 * np.sqrt(rr)  # Bazett-like
        if is_pvc:  # wide, bizarre, discordant T, no P
            waves = [(pvc_dir, qrs_size * 1.4, 0.0, qrs_width * 3.2), (-pvc_dir, t_size * 1.6, qt * 0.95, 0.07)]
        else:
            waves = [(septal_dir, qrs_size * 0.15, -0.022, qrs_width * 0.9), (r_dir, qrs_size, 0.0, qrs_width),
                     (s_dir, qrs_size * 0.35, 0.028, qrs_width * 1.2), (t_dir, t_size, qt * 0.82, 0.05 + 0.03 * rr)]
            if rhythm.kind != "af":
                waves.append((p_dir, p_size, -pr, 0.022))
        for direction, size, offset, width in waves:
            near = np.abs(t - (peak + offset)) < 5 * width
            vector[near] += size * np.exp(-0.5 * ((t[near] - peak - offset) / width) ** 2)[:, None] * direction
    if rhythm.kind == "af":  # fibrillatory waves
        phase = rng.uniform(0, 2 * np.pi, 3)
        f = rng.uniform(5, 8)
        vector += 0.03 * np.sin(2 * np.pi * f * t[:, None] + phase) * rng.uniform(0.5, 1.2)
    return vector


def simulate(fs: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One 10-s record: lead name → values (mV), 10·fs samples; Einthoven and Goldberger hold exactly."""
    n = int(round(DURATION * fs))
    t = np.arange(n) / fs
    vector = heart_vector(t, rng)
    # Baseline wander (breathing, electrode drift) moves the whole vector slowly; plus electrode noise.
    for _ in range(2):
        vector += rng.uniform(0.01, 0.08) * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t[:, None]
                                                  + rng.uniform(0, 2 * np.pi, 3))
    frontal = vector[:, :2]
    lead_i = frontal @ np.array([1.0, 0.0])
    lead_ii = frontal @ np.array([0.5, np.sqrt(3) / 2])
    def noise() -> np.ndarray:  # electrode and muscle noise, band-limited like the recorder's 150 Hz filter
        white = rng.normal(0, rng.uniform(0.002, 0.008), n + 8)
        width = max(1, int(fs / 150))
        return np.convolve(white, np.ones(width) / np.sqrt(width), mode="same")[4:n + 4]
    lead_i = np.round((lead_i + noise()) / QUANTUM) * QUANTUM
    lead_ii = np.round((lead_ii + noise()) / QUANTUM) * QUANTUM
    leads = {"I": lead_i, "II": lead_ii, "III": lead_ii - lead_i, "aVR": -(lead_i + lead_ii) / 2,
             "aVL": lead_i - lead_ii / 2, "aVF": lead_ii - lead_i / 2}
    for name, (azimuth, elevation) in PRECORDIAL.items():
        gain = rng.uniform(1.1, 1.8)  # the chest electrodes sit close to the heart
        leads[name] = np.round((vector @ unit(azimuth, elevation, 0.0) * gain + noise()) * 1000) / 1000
    return {name: np.round(leads[name], 3) for name in LEADS}
