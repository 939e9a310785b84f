"""Mono 16 kHz speech read in pieces: re-startable sample sources and a bounded sliding reader.

A `SampleSource` is a function that starts a new pass over a sound and yields its samples in
blocks (a front end that needs several passes calls it once per pass). `SampleReader` serves
any span [start, stop) of a pass, in increasing order, holding only the blocks that span needs:
memory stays proportional to the span, not to the sound.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .features import ANALYSIS_RATE

SampleSource = Callable[[], Iterator[np.ndarray]]
ARRAY_BLOCK = 4096  # samples per block when a source is an array already in memory


def file_source(path: str | os.PathLike[str]) -> SampleSource:
    """The first audio track of a media file, decoded and resampled to mono ANALYSIS_RATE per pass."""
    from ..media.audio import iter_audio_frames

    def blocks() -> Iterator[np.ndarray]:
        for frame in iter_audio_frames(path, ANALYSIS_RATE, "mono", "fltp"):
            yield frame.to_ndarray()[0]

    return blocks


def array_source(samples: np.ndarray, block: int = ARRAY_BLOCK) -> SampleSource:
    """A sound already in memory, served in blocks of `block` samples (for tests and short clips)."""
    x = np.asarray(samples)

    def blocks() -> Iterator[np.ndarray]:
        for start in range(0, len(x), block):
            yield x[start:start + block]

    return blocks


@dataclass
class SoundStats:
    """Length, sum and extremes of a sound, gathered block by block (see `measured`)."""

    n: int = 0
    total: float = 0.0
    low: float = 0.0
    high: float = 0.0

    def update(self, block: np.ndarray) -> None:
        """Count one block of samples."""
        if len(block):
            b = np.asarray(block, np.float64)
            self.low, self.high = (min(self.low, float(b.min())), max(self.high, float(b.max()))) if self.n else \
                (float(b.min()), float(b.max()))
            self.total += float(b.sum())
            self.n += len(b)

    @property
    def silent(self) -> bool:
        """Whether every sample is zero (or there are none)."""
        return self.low == 0.0 and self.high == 0.0

    def peak(self) -> float:
        """The largest distance of a sample from the mean (what Praat's pitch silence threshold is relative to)."""
        mean = self.total / self.n if self.n else 0.0
        return max(self.high - mean, mean - self.low)


def measured(source: SampleSource, stats: SoundStats) -> SampleSource:
    """The same source, counting every block into `stats` as a pass reads it."""

    def blocks() -> Iterator[np.ndarray]:
        for block in source():
            stats.update(block)
            yield block

    return blocks


class SampleReader:
    """One pass over a source, read as spans of float64 samples, zero outside the sound.

    Spans must not start before an earlier span's `start` (released blocks are gone); `peak`
    is the most samples held at once, for tests and logs.
    """

    def __init__(self, source: SampleSource) -> None:
        self._blocks = iter(source())
        self._held: deque[tuple[int, np.ndarray]] = deque()  # (first sample index, samples)
        self._end = 0  # samples read so far
        self._released = 0
        self.ended = False
        self.peak = 0

    @property
    def total(self) -> int:
        """Samples read so far; the sound's length once `ended`."""
        return self._end

    def ensure(self, stop: int) -> bool:
        """Read until `stop` samples are in (True) or the sound ends first (False)."""
        while self._end < stop and not self.ended:
            block = next(self._blocks, None)
            if block is None:
                self.ended = True
                break
            block = np.asarray(block).reshape(-1)
            if len(block):
                self._held.append((self._end, block))
                self._end += len(block)
                self.peak = max(self.peak, self._end - self._held[0][0])
        return self._end >= stop

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) as float64, zeros where that is before 0 or after the sound's end."""
        if max(start, 0) < self._released:
            raise ValueError(f"samples before {self._released} were released; asked from {start}")
        self.ensure(stop)
        out = np.zeros(max(0, stop - start), np.float64)
        for first, block in self._held:
            lo, hi = max(start, first), min(stop, first + len(block))
            if lo < hi:
                out[lo - start:hi - start] = block[lo - first:hi - first]
        return out

    def release(self, before: int) -> None:
        """Forget the samples before `before` (later spans start there or after)."""
        self._released = max(self._released, before)
        while self._held and self._held[0][0] + len(self._held[0][1]) <= self._released:
            self._held.popleft()

    def close(self) -> None:
        """Stop the pass (closes the source's decoder) and drop what is held."""
        close = getattr(self._blocks, "close", None)
        if close is not None:
            close()
        self._held.clear()
        self.ended = True

    def drain(self) -> int:
        """Read to the end of the sound without keeping anything; its length in samples."""
        self.release(self._end)
        while not self.ended:
            self.ensure(self._end + ARRAY_BLOCK * 64)
            self.release(self._end)
        return self._end
