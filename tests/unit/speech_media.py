"""Synthetic speech sounds for the speech tests: vowels with known formants."""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

RATE = 16000


def vowel(f1: float, f2: float, seconds: float, f0: float = 120.0, f3: float = 2600.0) -> np.ndarray:
    """A glottal pulse train through three formant resonators (a crude but real vowel)."""
    n = int(seconds * RATE)
    x = np.zeros(n)
    x[::int(RATE / f0)] = 1.0
    for f, bw in ((f1, 80.0), (f2, 100.0), (f3, 150.0)):
        r = np.exp(-np.pi * bw / RATE)
        x = lfilter([1.0 - r], [1.0, -2 * r * np.cos(2 * np.pi * f / RATE), r * r], x)
    return (0.3 * x / np.abs(x).max()).astype(np.float64)
