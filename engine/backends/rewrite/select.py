"""Choosing a library mouth for every output frame: a Viterbi search over candidate sequences.

Each output frame wants a mouth shape (opening, width, from the audio front end) and is drawn on
a template frame with a head pose. A library entry's cost there is its distance from the wanted
shape plus its pose distance from the destination frame. Between frames, carrying on with the
next template frame (the mouth moving as it really moved) is free, holding the same one costs a
little, and any other jump costs more, so the search prefers runs of real motion and does not
flicker between similar mouths.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANDIDATES = 24  # entries considered per output frame (the cheapest by shape and pose)


@dataclass(frozen=True)
class SelectionWeights:
    """Costs, in units of one shape standard deviation squared."""

    width: float = 0.3  # width error relative to opening error
    pose: float = 0.5
    hold: float = 0.4  # the same entry on consecutive frames
    jump: float = 0.7  # any entry other than the next template frame
    jump_shape: float = 0.5  # extra per unit of shape change at a jump
    shape: float = 0.3  # each predicted shape component beyond opening and width, relative to opening
    closed: float = 30.0  # opening error weight where the mouth must be shut (pauses, closures)


CLOSED_BELOW = 0.02  # relative openings under this are a closed mouth
QUANTILES = (0.03, 0.97)  # the library's openings used for speech: its nearly closed to its wide-open mouths
SHUT_QUANTILE = 0.005  # a closed frame wants the library's most closed mouth


def target_shapes(open_rel: np.ndarray, width_rel: np.ndarray, library_shapes: np.ndarray) -> np.ndarray:
    """Relative targets (opening 0..1, width -1..1) in this presenter's canonical units.

    Openings are mapped by rank: the output's open frames take the library's openings at the same
    quantile, so the presenter opens as far and as often as they really do, whatever the scale of
    the prediction; closed frames take the library's most closed mouth.
    """
    o, w = library_shapes[:, 0], library_shapes[:, 1]
    rel = np.asarray(open_rel, np.float64)
    lo, hi = QUANTILES
    opening = np.full(len(rel), np.percentile(o, 100 * SHUT_QUANTILE))
    open_frames = np.flatnonzero(rel > CLOSED_BELOW)
    if len(open_frames):
        ranks = np.argsort(np.argsort(rel[open_frames], kind="stable"), kind="stable")
        q = lo + (hi - lo) * (ranks + 1) / len(open_frames)
        opening[open_frames] = np.quantile(o, q)
    w_mid, w_spread = np.median(w), max((np.percentile(w, 95) - np.percentile(w, 5)) / 2, 1e-6)
    return np.column_stack([opening, w_mid + np.clip(width_rel, -1, 1) * w_spread])


def select_sources(targets: np.ndarray, dest_poses: np.ndarray, shapes: np.ndarray, poses: np.ndarray,
                   frames: np.ndarray, weights: SelectionWeights | None = None,
                   closed: np.ndarray | None = None) -> np.ndarray:
    """Library entry per output frame, minimising shape, pose and transition costs over the sequence.

    `targets` and `shapes` have one column per shape descriptor: opening, width, then any further
    shape scores (each weighted `weights.shape`). `closed` marks output frames whose mouth must be
    shut: there any opening beyond the target costs `weights.closed` times more, the further shape
    scores are ignored, and the head pose matters less, so pauses really close.
    """
    wts = weights or SelectionWeights()
    n, m = len(targets), len(shapes)
    if m == 0 or n == 0:
        return np.zeros(n, np.int64)
    scale = np.maximum(shapes.std(axis=0), 1e-6)
    pose_scale = np.maximum(poses.std(axis=0), np.array([0.02, 0.02, 0.02]))
    k = min(CANDIDATES, m)
    s = shapes / scale
    t = targets / scale
    dim_w = np.array([1.0, wts.width] + [wts.shape] * (shapes.shape[1] - 2))
    cand = np.zeros((n, k), np.int64)
    unary = np.zeros((n, k))
    shut = np.zeros(n, bool) if closed is None else np.asarray(closed, bool)
    for f in range(n):
        if shut[f]:  # a pause: closed lips matter, the predicted shape does not (it is the mean mouth there)
            d = wts.closed * np.maximum(s[:, 0] - t[f, 0], 0.0) ** 2 + wts.width * (s[:, 1] - t[f, 1]) ** 2
        else:
            d = ((s - t[f]) ** 2 * dim_w).sum(axis=1)
        if np.isfinite(dest_poses[f]).all():
            pose_weight = wts.pose
            d = d + pose_weight * (((poses - dest_poses[f]) / pose_scale) ** 2).sum(axis=1) / 3.0
        best = np.argpartition(d, k - 1)[:k] if k < m else np.arange(m)
        cand[f], unary[f] = best, d[best]
    total = unary[0].copy()
    back = np.zeros((n, k), np.int64)
    for f in range(1, n):
        prev, cur = cand[f - 1], cand[f]
        follow = frames[cur][None, :] == frames[prev][:, None] + 1
        same = cur[None, :] == prev[:, None]
        change = np.abs(s[cur][None, :, :2] - s[prev][:, None, :2]).sum(axis=2)
        trans = np.where(follow, 0.0, np.where(same, wts.hold, wts.jump + wts.jump_shape * change))
        cost = total[:, None] + trans
        back[f] = np.argmin(cost, axis=0)
        total = cost[back[f], np.arange(k)] + unary[f]
    path = np.zeros(n, np.int64)
    j = int(np.argmin(total))
    for f in range(n - 1, -1, -1):
        path[f] = cand[f, j]
        j = back[f, j]
    return path
