"""Loudness of the target audio: speech-band energy at frame times, and where it is silent.

Loudness is the energy in 100-4000 Hz of a 40 ms Hann window centred on each frame's time
k / fps, in dB, floored at 60 dB under the loudest window (so digital silence does not dominate
a correlation). Silence: the same band energy on a 10 ms hop; a stretch is silent when it stays
more than 35 dB under the loudest window for at least 200 ms, and a frame is silent when its time
falls inside such a stretch.
"""
from __future__ import annotations

import numpy as np

BAND_HZ = (100.0, 4000.0)
WINDOW_S = 0.040
FLOOR_DB = 60.0
SILENCE_DB = 35.0
MIN_SILENCE_S = 0.200
SILENCE_HOP_S = 0.010
ANALYSIS_RATE = 16000


def band_energy_db(samples: np.ndarray, rate: int, centres_s: np.ndarray) -> np.ndarray:
    """Band energy (dB, unfloored) of 40 ms Hann windows centred at the given times; zero-padded at the ends."""
    x = np.asarray(samples, np.float64)
    n = max(8, int(round(WINDOW_S * rate)))
    window = np.hanning(n)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    starts = np.round(np.asarray(centres_s, np.float64) * rate).astype(np.int64) - n // 2
    padded = np.concatenate([np.zeros(n), x, np.zeros(n)])
    idx = starts[:, None] + n + np.arange(n)[None, :]
    idx = np.clip(idx, 0, len(padded) - 1)
    spectra = np.fft.rfft(padded[idx] * window, axis=1)
    energy = (np.abs(spectra[:, band]) ** 2).sum(axis=1) / n
    return 10.0 * np.log10(energy + 1e-20)


def frame_loudness(samples: np.ndarray, rate: int, fps: float, n_frames: int) -> np.ndarray:
    """Loudness (dB, floored at 60 dB under the peak) at each frame time k / fps, k < n_frames."""
    db = band_energy_db(samples, rate, np.arange(n_frames) / float(fps))
    if not db.size:
        return db
    return np.maximum(db, db.max() - FLOOR_DB)


def silent_frames(samples: np.ndarray, rate: int, fps: float, n_frames: int) -> np.ndarray:
    """Per frame: True where the audio is silent (>= 200 ms more than 35 dB under its peak)."""
    duration = len(samples) / float(rate)
    hops = np.arange(0.0, max(duration, SILENCE_HOP_S), SILENCE_HOP_S)
    db = band_energy_db(samples, rate, hops)
    quiet = db < db.max() - SILENCE_DB
    keep = np.zeros_like(quiet)
    need = int(round(MIN_SILENCE_S / SILENCE_HOP_S))
    start = None
    for k, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = k
        elif not q and start is not None:
            if k - start >= need:
                keep[start:k] = True
            start = None
    frame_hop = np.clip(np.round(np.arange(n_frames) / float(fps) / SILENCE_HOP_S).astype(int), 0, len(keep) - 1)
    return keep[frame_hop]
