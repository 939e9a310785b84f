"""Loudness at frame times and silence detection on synthetic signals."""
from __future__ import annotations

import numpy as np

from measure.evaluate.loudness import band_energy_db, frame_loudness, silent_frames
from measure.evaluate.metrics import best_shift_corr

RATE, FPS = 16000, 25.0


def tone(seconds: float, hz: float = 300.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_band_energy_ignores_energy_outside_100_to_4000_hz() -> None:
    inside, low, high = (band_energy_db(tone(0.5, hz), RATE, np.array([0.25]))[0] for hz in (1000, 40, 6000))
    assert inside - low > 20 and inside - high > 20


def test_silence_needs_200_ms_below_minus_35_db() -> None:
    gap_long = np.zeros(int(0.5 * RATE), np.float32)  # 500 ms silence
    gap_short = np.zeros(int(0.12 * RATE), np.float32)  # 120 ms: a pause between words, not silence
    quiet = tone(0.5, amp=0.3 * 10 ** (-20 / 20))  # only 20 dB down: still speech
    x = np.concatenate([tone(1.0), gap_long, tone(1.0), gap_short, tone(1.0), quiet, tone(0.5)])
    n = int(len(x) / RATE * FPS)
    silent = silent_frames(x, RATE, FPS, n)
    t = np.arange(n) / FPS
    assert silent[(t > 1.1) & (t < 1.4)].all()  # inside the long gap
    assert not silent[t < 0.95].any()
    assert not silent[(t > 2.55) & (t < 2.58)].any()  # the short gap
    assert not silent[(t > 3.65) & (t < 4.1)].any()  # the quiet stretch
    assert silent.sum() <= int(0.5 * FPS) + 2


def test_loudness_follows_an_envelope_at_lag_zero() -> None:
    n = 150
    env = np.abs(np.sin(np.arange(n) / FPS * 2 * np.pi * 1.3)) + 0.05
    amp = np.interp(np.arange(int(n / FPS * RATE)) / RATE, np.arange(n) / FPS, env)
    x = (amp * np.sin(2 * np.pi * 200 * np.arange(len(amp)) / RATE)).astype(np.float32)
    loud = frame_loudness(x, RATE, FPS, n)
    assert loud.shape == (n,)
    res = best_shift_corr(env, loud)
    assert res.lag == 0 and res.r > 0.9


def test_loudness_is_floored_60_db_under_its_peak() -> None:
    x = np.concatenate([tone(0.5), np.zeros(RATE // 2, np.float32)])
    loud = frame_loudness(x, RATE, FPS, 25)
    assert loud.max() - loud.min() <= 60.0 + 1e-9
