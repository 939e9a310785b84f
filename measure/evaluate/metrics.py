"""Figures from landmark series: mouth distance, mouth opening, correlation with a frame shift.

All series are per frame and use NaN where a frame has no face (or no measurement); every
figure is taken over the frames where all its inputs are finite, and is NaN when too few are.

Shift convention (`best_shift_corr(follower, leader)`): r(s) = Pearson(follower[t + s], leader[t]),
so a positive lag means the follower moves `lag` frames AFTER the leader. For aperture_r the
follower is the output's opening and the leader the true opening (lag > 0: the output's mouth is
late); for loudness_r the follower is the true opening and the leader the loudness (lag > 0: the
mouth moves after the sound).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.faces.canonical import MOUTH_POINTS, inner_lip_gap

MAX_SHIFT = 5
MIN_PAIRS = 8  # fewer valid frame pairs than this gives NaN rather than a meaningless r


@dataclass(frozen=True)
class ShiftCorr:
    """The best correlation over shifts, the shift where it peaks, and the correlation at shift 0."""

    r: float
    lag: int | None
    r0: float


def mouth_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per frame: mean distance between the 20 mouth points of two (n, 68, 2) canonical series."""
    return point_distance(np.asarray(a)[:, MOUTH_POINTS], np.asarray(b)[:, MOUTH_POINTS])


def point_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per frame: mean distance between corresponding points of two (n, points, 2) series."""
    return np.linalg.norm(np.asarray(a) - np.asarray(b), axis=-1).mean(axis=1)


def mouth_lmd(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames (where both have a face) of the per-frame mouth distance; NaN if none."""
    return finite_mean(mouth_distance(a, b))


def finite_mean(values: np.ndarray) -> float:
    """Mean of the finite values (NaN when there are none)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def opening(canonical: np.ndarray) -> np.ndarray:
    """Per frame: mean inner-lip gap over the pairs (61,67), (62,66), (63,65), canonical units."""
    return inner_lip_gap(canonical)


def finite_median(values) -> float:  # noqa: ANN001 - any iterable of numbers
    """Median of the finite values (NaN when there are none)."""
    finite = [float(v) for v in values if np.isfinite(v)]
    return float(np.median(finite)) if finite else float("nan")


def median3(x: np.ndarray) -> np.ndarray:
    """3-frame median filter; NaN frames stay NaN, and a window's NaN neighbours are left out."""
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return x.copy()
    padded = np.concatenate([[np.nan], x, [np.nan]])
    windows = np.stack([padded[:-2], padded[1:-1], padded[2:]])
    out = np.full_like(x, np.nan)
    ok = np.isfinite(x)
    out[ok] = np.nanmedian(windows[:, ok], axis=0)
    return out


def smoothed_opening(canonical: np.ndarray) -> np.ndarray:
    """The opening signal every correlation and ratio uses: `opening` after `median3`."""
    return median3(opening(canonical))


def pearson(x: np.ndarray, y: np.ndarray, min_pairs: int = MIN_PAIRS) -> float:
    """Pearson r over the pairs where both are finite; NaN if too few pairs or either is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < min_pairs:
        return float("nan")
    xa, ya = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = float(np.sqrt((xa ** 2).sum() * (ya ** 2).sum()))
    return float((xa * ya).sum() / den) if den > 1e-12 else float("nan")


def shifted_corr(follower: np.ndarray, leader: np.ndarray, shift: int, min_pairs: int = MIN_PAIRS) -> float:
    """Pearson(follower[t + shift], leader[t]) over the overlapping frames."""
    f, g = np.asarray(follower, np.float64), np.asarray(leader, np.float64)
    n = min(len(f), len(g))
    f, g = f[:n], g[:n]
    if shift >= 0:
        return pearson(f[shift:], g[:n - shift], min_pairs)
    return pearson(f[:n + shift], g[-shift:], min_pairs)


def best_shift_corr(follower: np.ndarray, leader: np.ndarray, max_shift: int = MAX_SHIFT) -> ShiftCorr:
    """Highest correlation over shifts -max_shift..max_shift (ties go to the smaller |shift|)."""
    best_r, best_s = float("nan"), None
    for s in sorted(range(-max_shift, max_shift + 1), key=lambda v: (abs(v), v)):
        r = shifted_corr(follower, leader, s)
        if np.isfinite(r) and (best_s is None or r > best_r + 1e-12):
            best_r, best_s = r, s
    return ShiftCorr(r=best_r, lag=best_s, r0=shifted_corr(follower, leader, 0))


def silence_ratio(open_signal: np.ndarray, silent: np.ndarray) -> float:
    """Mean opening over silent frames / mean opening over speech frames; NaN if either set is empty."""
    x = np.asarray(open_signal, np.float64)
    s = np.asarray(silent, bool)[: len(x)]
    x = x[: len(s)]
    ok = np.isfinite(x)
    quiet, speech = x[ok & s], x[ok & ~s]
    if not quiet.size or not speech.size or speech.mean() <= 0:
        return float("nan")
    return float(quiet.mean() / speech.mean())


def found_share(points: np.ndarray) -> float:
    """Share of frames of an (n, 68, 2) series that have a face (finite landmarks)."""
    p = np.asarray(points)
    if not len(p):
        return 0.0
    return float(np.isfinite(p.reshape(len(p), -1)).all(axis=1).mean())
