"""English phones of a sound read in pieces: the phone recogniser on overlapping chunks cut at pauses.

`streamed_phones` recognises about CHUNK_S of audio at a time, each chunk with MARGIN_S more on
either side so the recogniser hears what comes before and after, and keeps the phones whose
centre lies in the chunk's core. The cores tile the sound, so no phone is counted twice or lost;
each core ends at the quietest moment near its nominal end (a pause where there is one), so few
phones straddle a cut. Every chunk is level-normalised by the whole recording's peak and its
times are counted in the whole recording's 10 ms frames: audio up to one chunk gives exactly
`recognise_phones` on the whole signal. Beyond, the recogniser hears each chunk as one utterance
and subtracts that utterance's mean cepstrum (the English model's batch normalisation), where
the whole signal would subtract the recording's: a few borderline decisions anywhere in a chunk
can go the other way (see `streamed`). Memory: one chunk of samples and the phones (about 12 a
second of speech), never the whole signal.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .features import HOP_S
from .phones import PhoneSegment, recognise_phones
from .samples import SampleReader, SampleSource, SoundStats
from .spectrum_stream import HOP

CHUNK_S = 60.0  # audio recognised at a time (the core)
MARGIN_S = 5.0  # heard on either side of a core, not kept
QUIET_SEARCH_S = 5.0  # a core ends at the quietest moment this close to its nominal end
QUIET_SMOOTH_S = 0.15  # loudness averaged over this to find a pause rather than one quiet hop
ProgressFn = Callable[[float], None]


def chunk_cores(db: np.ndarray, chunk_hops: int, search_hops: int, smooth_hops: int = 1) -> list[tuple[int, int]]:
    """[start, stop) hops of each chunk's core: consecutive and covering every hop of `db` (speech-band
    dB per hop), each but the last ending at the quietest hop within search_hops of chunk_hops after its start."""
    hops, chunk_hops = len(db), max(1, chunk_hops)
    search_hops = min(max(0, search_hops), (chunk_hops - 1) // 2)
    cores, start = [], 0
    while hops - start > chunk_hops:
        lo, hi = start + chunk_hops - search_hops, min(start + chunk_hops + search_hops + 1, hops)
        cut = lo + int(np.argmin(_moving_mean(db, lo, hi, smooth_hops)))
        cores.append((start, cut))
        start = cut
    cores.append((start, hops))
    return cores


def _moving_mean(x: np.ndarray, lo: int, hi: int, width: int) -> np.ndarray:
    """For i in [lo, hi): the mean of x over the `width` values centred on i (fewer at x's ends)."""
    half = max(0, width // 2)
    a, b = max(0, lo - half), min(len(x), hi + half + 1)
    csum = np.concatenate([[0.0], np.cumsum(np.asarray(x[a:b], np.float64))])
    i = np.arange(lo, hi)
    first, last = np.maximum(i - half, a) - a, np.minimum(i + half + 1, b) - a
    return (csum[last] - csum[first]) / (last - first)


def streamed_phones(source: SampleSource, stats: SoundStats, db: np.ndarray, chunk_s: float = CHUNK_S,
                    margin_s: float = MARGIN_S, progress: ProgressFn | None = None) -> list[PhoneSegment]:
    """The recognised phones of a sound, in time order, from one pass over `source`.

    `stats` is the whole sound's (`samples.measured`, from an earlier pass), `db` its speech-band
    dB per hop (for the pauses); progress(fraction of the chunks done) is called after each chunk.
    """
    if stats.n == 0:
        return []
    peak = max(abs(stats.low), abs(stats.high))
    margin = int(round(margin_s / HOP_S)) * HOP  # whole frames, so chunk times fall on the recording's frames
    cores = chunk_cores(db, int(round(chunk_s / HOP_S)), int(round(QUIET_SEARCH_S / HOP_S)),
                        int(round(QUIET_SMOOTH_S / HOP_S)))
    reader, out = SampleReader(source), []
    try:
        for k, (h0, h1) in enumerate(cores):
            start, stop = max(0, h0 * HOP - margin), min(stats.n, h1 * HOP + margin)
            segments = recognise_phones(reader.read(start, stop), peak=peak, first_frame=start // HOP)
            lo = h0 * HOP_S if k > 0 else -np.inf
            hi = h1 * HOP_S if k < len(cores) - 1 else np.inf
            out += [s for s in segments if lo <= s.centre_s < hi]
            if k + 1 < len(cores):
                reader.release(max(0, cores[k + 1][0] * HOP - margin))
            if progress is not None:
                progress((k + 1) / len(cores))
    finally:
        reader.close()
    return out
