"""QUALITY.md's "another voice": the same speech resynthesised in a voice of the other sex.

WORLD vocoder (PyPI `pyworld`): harvest (F0), cheaptrick (spectral envelope), d4c (aperiodicity);
F0 moved 8 semitones and the envelope 2 semitones, up when the speaker's median F0 is under
165 Hz and down otherwise; then synthesised. Timing and words stay exactly as they were.
"""
from __future__ import annotations

import numpy as np

from .errors import EvaluationError

F0_SHIFT_ST = 8.0
ENVELOPE_SHIFT_ST = 2.0
MALE_BELOW_HZ = 165.0
FRAME_MS = 5.0


def _warp_envelope(envelope: np.ndarray, factor: float) -> np.ndarray:
    """Move every spectral-envelope feature `factor` times higher in frequency (factor < 1: lower)."""
    bins = envelope.shape[1]
    src = np.arange(bins) / factor  # the output bin k takes the input at k / factor
    out = np.empty_like(envelope)
    for i, row in enumerate(envelope):
        out[i] = np.interp(src, np.arange(bins), row, right=row[-1])
    return out


def other_voice(samples: np.ndarray, rate: int) -> np.ndarray:
    """The same speech in a voice of the other sex (mono float64 in, the same length out)."""
    try:
        import pyworld
    except ImportError as exc:
        raise EvaluationError("the 'another voice' test needs the 'pyworld' package "
                              "(it is in requirements-dev.txt)") from exc
    x = np.ascontiguousarray(samples, np.float64)
    if not x.size:
        return x.copy()
    f0, t = pyworld.harvest(x, rate, frame_period=FRAME_MS)
    envelope = pyworld.cheaptrick(x, f0, t, rate)
    aperiodicity = pyworld.d4c(x, f0, t, rate)
    voiced = f0[f0 > 0]
    up = (float(np.median(voiced)) if voiced.size else 0.0) < MALE_BELOW_HZ
    sign = 1.0 if up else -1.0
    f0_new = f0 * 2.0 ** (sign * F0_SHIFT_ST / 12.0)
    env_new = _warp_envelope(envelope, 2.0 ** (sign * ENVELOPE_SHIFT_ST / 12.0))
    y = pyworld.synthesize(f0_new, env_new, aperiodicity, rate, frame_period=FRAME_MS)
    y = y[: len(x)] if len(y) >= len(x) else np.concatenate([y, np.zeros(len(x) - len(y))])
    peak_in, peak_out = np.max(np.abs(x)), np.max(np.abs(y))
    return y * (peak_in / peak_out) if peak_out > 0 else y
