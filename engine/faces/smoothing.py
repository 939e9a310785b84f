"""Zero-lag landmark smoothing: a One-Euro filter run forward then backward, head pose and
face shape smoothed separately (the head's rigid motion strongly, the mouth lightly)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import ANCHOR

MOUTH = np.arange(48, 68)
JAW = np.arange(0, 17)


@dataclass(frozen=True)
class OneEuro:
    """One-Euro filter settings (Casiez et al. 2012): cutoff = min_cutoff + beta * |speed|.

    Units: speeds in face-sizes per second (signals are divided by the face scale first),
    cutoffs in Hz.
    """

    min_cutoff: float
    beta: float
    d_cutoff: float = 1.0


HEAD = OneEuro(min_cutoff=1.0, beta=2.0)  # rigid head motion: smooth hard when still
SHAPE = OneEuro(min_cutoff=3.0, beta=1.0)  # brows/eyes/nose/jaw shape
MOUTH_SHAPE = OneEuro(min_cutoff=8.0, beta=6.0)  # lips: keep speech motion (aperture r 0.98 vs raw)


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(x: np.ndarray, fps: float, f: OneEuro) -> np.ndarray:
    """Causal One-Euro filter along axis 0 of x (n, ...), all columns at once."""
    dt = 1.0 / fps
    out = np.empty_like(x, dtype=np.float64)
    prev = x[0].astype(np.float64)
    dprev = np.zeros_like(prev)
    out[0] = prev
    a_d = _alpha(f.d_cutoff, dt)
    for i in range(1, len(x)):
        d = (x[i] - prev) / dt
        dprev = dprev + a_d * (d - dprev)
        a = _alpha(f.min_cutoff + f.beta * np.abs(dprev), dt)
        prev = prev + a * (x[i] - prev)
        out[i] = prev
    return out


def zero_phase(x: np.ndarray, fps: float, f: OneEuro) -> np.ndarray:
    """One-Euro run forward then backward, averaged with backward then forward: no lag.

    The whole track is known before rendering, so the filter need not be causal. Each pass
    alone lags (or leads); the average of both orders is symmetric in time, so it can neither
    lag nor lead the motion.
    """
    if len(x) < 3:
        return x.astype(np.float64)
    fb = one_euro(one_euro(x, fps, f)[::-1], fps, f)[::-1]
    bf = one_euro(one_euro(x[::-1], fps, f)[::-1], fps, f)
    return 0.5 * (fb + bf)


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform that best maps src points (k, 2) onto dst (least squares)."""
    sc, dc = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - sc, dst - dc
    denom = (s ** 2).sum()
    a = (s * d).sum() / denom
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / denom
    r = np.array([[a, -b], [b, a]])
    return np.hstack([r, (dc - r @ sc)[:, None]])


def smooth_segment(points: np.ndarray, fps: float) -> np.ndarray:
    """Smooth one unbroken run of (n, 68, 2) landmarks of one shot; returns float32 of the same shape.

    The head's pose (a similarity transform of the run's mean shape, fitted on the brows,
    eyes and nose) is smoothed as the motion of those mean-shape points; what is left (the
    face's own deformation: blinks, speech) is smoothed separately and more lightly, the lips
    least of all. Signals are divided by the face scale so the settings hold at any size.
    """
    pts = points.astype(np.float64)
    n = len(pts)
    if n < 3:
        return points.astype(np.float32)
    ref = pts.mean(axis=0)
    rigid = np.empty_like(pts)
    for i in range(n):
        m = similarity_fit(ref[ANCHOR], pts[i, ANCHOR])
        rigid[i] = ref @ m[:, :2].T + m[:, 2]
    scale = float(np.median(np.linalg.norm(pts[:, 45] - pts[:, 36], axis=1))) or 1.0
    local = (pts - rigid) / scale
    rigid_s = zero_phase(rigid.reshape(n, -1) / scale, fps, HEAD).reshape(n, 68, 2)
    local_s = np.empty_like(local)
    rest = np.setdiff1d(np.arange(68), MOUTH)
    local_s[:, rest] = zero_phase(local[:, rest].reshape(n, -1), fps, SHAPE).reshape(n, len(rest), 2)
    local_s[:, MOUTH] = zero_phase(local[:, MOUTH].reshape(n, -1), fps, MOUTH_SHAPE).reshape(n, len(MOUTH), 2)
    return ((rigid_s + local_s) * scale).astype(np.float32)


def runs(mask: np.ndarray, breaks: np.ndarray | None = None) -> list[tuple[int, int]]:
    """[start, end) runs where mask is True, also split before every index where breaks is True."""
    out, start = [], None
    for i, m in enumerate(mask):
        if start is not None and (not m or (breaks is not None and breaks[i])):
            out.append((start, i))
            start = None
        if m and start is None:
            start = i
    if start is not None:
        out.append((start, len(mask)))
    return out


def smooth_track(points: np.ndarray, present: np.ndarray, cuts: np.ndarray, fps: float) -> np.ndarray:
    """Smoothed copy of (n, 68, 2) landmarks, each run of present frames within a shot on its own."""
    out = np.full(points.shape, np.nan, np.float32)
    for a, b in runs(present, cuts):
        out[a:b] = smooth_segment(points[a:b], fps)
    return out


def fill_gaps(points: np.ndarray, present: np.ndarray, cuts: np.ndarray, max_gap: int) -> np.ndarray:
    """Frames inside gaps of at most max_gap frames (within one shot, face on both sides),
    filled by linear interpolation in place; returns the mask of filled frames."""
    filled = np.zeros(len(present), bool)
    gaps = runs(~present)
    for a, b in gaps:
        if a == 0 or b >= len(present) or b - a > max_gap or cuts[a:b + 1].any():
            continue
        left, right = points[a - 1].astype(np.float64), points[b].astype(np.float64)
        for i in range(a, b):
            t = (i - a + 1) / (b - a + 1)
            points[i] = ((1 - t) * left + t * right).astype(points.dtype)
        filled[a:b] = True
    return filled
