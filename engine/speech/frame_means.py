"""`at_frames` for a per-hop series that arrives in pieces: per-frame means without the whole series.

`FrameMeans` gives the same numbers as `features.at_frames` on the concatenated series (the same
running sums in the same order, the same frame spans, the same handling of frames at and past
the end), while holding only the running sums that frames still to come need.
"""
from __future__ import annotations

import numpy as np

from .features import HOP_S


class FrameMeans:
    """Feed hops in order with add(); finish() returns the (n_frames, ...) per-frame means."""

    def __init__(self, fps: float, n_frames: int) -> None:
        self.n_frames = n_frames
        # frame k spans hops [edges[k], edges[k + 1]) before clipping to the series (as at_frames)
        self._edges = np.round(np.arange(n_frames + 1) / fps / HOP_S).astype(int)
        lo = self._edges[:-1]
        self._hi = np.maximum(self._edges[1:], lo + 1)  # a frame's end while the series is longer
        self._out: np.ndarray | None = None
        self._total: np.ndarray | None = None  # running sum of all hops so far: csum[count]
        self._before_last: np.ndarray | None = None  # csum[count - 1]
        self._keys = np.zeros(0, np.int64)  # hop indices whose running sums are kept
        self._sums: np.ndarray | None = None
        self._count = 0
        self._next = 0  # first frame not yet computed

    @property
    def hops(self) -> int:
        """Hops added so far."""
        return self._count

    def add(self, rows: np.ndarray) -> None:
        """Append hops (m,) or (m, d) to the series."""
        rows = np.asarray(rows, np.float64)
        if self._total is None:
            self._total = np.zeros(rows.shape[1:])
            self._out = np.zeros((self.n_frames, *rows.shape[1:]))
            self._sums = np.zeros((0, *rows.shape[1:]))
        m = len(rows)
        if m == 0:
            return
        csum = np.cumsum(np.concatenate([self._total[None], rows]), axis=0)  # csum[i] = sums up to count + i
        start, stop = self._count, self._count + m
        wanted = self._wanted(start, stop)
        self._keys = np.concatenate([self._keys, wanted])
        self._sums = np.concatenate([self._sums, csum[wanted - start]])
        self._before_last, self._total = csum[-2], csum[-1]
        self._count = stop
        done = int(np.searchsorted(self._hi, self._count, side="right"))  # frames wholly inside the series
        if done > self._next:
            k = np.arange(self._next, done)
            self._emit(k, self._edges[k], self._hi[k])
            self._next = done
            keep = self._keys >= (self._edges[self._next] if self._next < self.n_frames else self._count + 1)
            self._keys, self._sums = self._keys[keep], self._sums[keep]

    def _wanted(self, start: int, stop: int) -> np.ndarray:
        """The hop indices in [start, stop] whose running sums frames not yet computed will use."""
        lo = self._edges[:-1]
        a, b = np.searchsorted(lo, start, side="left"), np.searchsorted(lo, stop, side="right")
        c, d = np.searchsorted(self._hi, start, side="left"), np.searchsorted(self._hi, stop, side="right")
        idx = np.unique(np.concatenate([lo[max(a, self._next):b], self._hi[max(c, self._next):d]]))
        return idx[~np.isin(idx, self._keys)]

    def _emit(self, k: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Frames k = means over hops [lo, hi), from the kept running sums (plus the last two)."""
        keys = np.concatenate([self._keys, [self._count - 1, self._count]])
        sums = np.concatenate([self._sums, self._before_last[None], self._total[None]])
        order = np.argsort(keys, kind="stable")
        keys, sums = keys[order], sums[order]
        at_hi = sums[np.searchsorted(keys, hi)]
        at_lo = sums[np.searchsorted(keys, lo)]
        count = (hi - lo).reshape(-1, *([1] * (sums.ndim - 1)))
        self._out[k] = (at_hi - at_lo) / count

    def finish(self) -> np.ndarray:
        """The per-frame means; frames at or past the end of the series are clipped as at_frames does."""
        if self._out is None or self._count == 0:
            shape = () if self._out is None else self._out.shape[1:]
            return np.zeros((self.n_frames, *shape))
        n = self._count
        if self._next < self.n_frames:
            k = np.arange(self._next, self.n_frames)
            edges = np.clip(self._edges, 0, n)
            lo, hi = edges[k], np.maximum(edges[k + 1], np.minimum(edges[k] + 1, n))
            lo = np.minimum(lo, hi - 1).clip(0)
            self._emit(k, lo, hi)
            self._next = self.n_frames
        return self._out
