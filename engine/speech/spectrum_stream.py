"""The short-time power spectrum of a sound read in pieces: the rows `features.power_spectrum` gives
for the whole signal (the same windows and padding, so the same numbers), block by block."""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from .features import ANALYSIS_RATE, CHUNK_HOPS, HOP_S, WINDOW_S, frame_power
from .samples import SampleReader

HOP = int(round(HOP_S * ANALYSIS_RATE))
WINDOW = int(round(WINDOW_S * ANALYSIS_RATE))


def hop_count(n_samples: int) -> int:
    """Hops of a sound of n_samples (as power_spectrum counts them: at least one)."""
    return max(1, math.ceil(n_samples / HOP))


def spectrum_blocks(reader: SampleReader, block_hops: int = CHUNK_HOPS) -> Iterator[tuple[int, np.ndarray]]:
    """(first hop, power per hop and FFT bin) for consecutive blocks of hops, to the sound's end.

    Hop k's window is centred on sample k * HOP, zero-padded before the start and after the end,
    exactly as power_spectrum pads the whole signal.
    """
    half = WINDOW // 2
    h0, hops = 0, None
    while hops is None or h0 < hops:
        h1 = h0 + block_hops
        if not reader.ensure((h1 - 1) * HOP + WINDOW - half):
            hops = hop_count(reader.total)
            h1 = min(h1, hops)
            if h0 >= h1:
                return
        yield h0, frame_power(reader.read(h0 * HOP - half, (h1 - 1) * HOP + WINDOW - half), WINDOW, HOP)
        reader.release(max(0, h1 * HOP - half))
        h0 = h1
