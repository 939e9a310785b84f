"""The per-render plan of the `rewrite` backend: which library mouth goes onto which output frame."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ...composite import STABLE, similarity
from ...faces import FaceTrack
from ...pingpong import pingpong_index
from ...speech import MouthCurves
from .library import MouthLibrary
from .select import CLOSED_BELOW, SelectionWeights, select_sources, target_shapes
from .shape import face_axes, head_pose

log = logging.getLogger(__name__)

MOUTH = np.arange(48, 68)
MIN_ENTRIES = 12  # fewer usable template frames than this: no library, use the fallback warp
MIN_OPENING_RANGE = 0.04  # canonical units between the library's closed and open mouths


@dataclass
class FramePlan:
    """Output frame k is drawn on template frame `dest[k]`; where it has a face, library entry
    `source[k]` gives its mouth (-1: the frame is left as it is)."""

    dest: np.ndarray
    source: np.ndarray
    targets: np.ndarray  # (n, 2) wanted opening and width, canonical units
    shut: np.ndarray  # (n,) bool: the mouth must be closed (a pause or a closure)


def library_has_variety(lib: MouthLibrary) -> bool:
    """Whether the template shows enough different mouths to draw speech from."""
    if len(lib) < MIN_ENTRIES:
        return False
    o = lib.shapes[:, 0]
    return float(np.percentile(o, 97) - np.percentile(o, 3)) >= MIN_OPENING_RANGE


def plan_frames(track: FaceTrack, lib: MouthLibrary, curves: MouthCurves, n_frames: int,
                weights: SelectionWeights | None = None) -> FramePlan:
    """Destination frame and library source for every output frame."""
    n_src = max(1, track.n_frames)
    dest = np.array([min(pingpong_index(k, n_src), n_src - 1) for k in range(n_frames)], np.int64)
    has_face = track.present[dest] & np.isfinite(track.points[dest]).all(axis=(1, 2))
    poses = np.full((n_frames, 3), np.nan)
    for k in np.flatnonzero(has_face):
        poses[k] = head_pose(track.points[dest[k]])
    targets = target_shapes(curves.open[:n_frames], curves.width[:n_frames], lib.shapes)
    closed = np.asarray(curves.open[:n_frames]) <= CLOSED_BELOW
    source = select_sources(targets, poses, lib.shapes, lib.poses, lib.frames, weights, closed)
    source[~has_face] = -1
    return FramePlan(dest=dest, source=source, targets=targets, shut=closed)


def warp_points(dst_points: np.ndarray, src_points: np.ndarray) -> np.ndarray:
    """The destination landmarks with the source's mouth carried over by the eyes-and-nose similarity."""
    m = similarity(src_points[STABLE], dst_points[STABLE])
    out = np.array(dst_points, np.float32, copy=True)
    src_mouth = src_points[MOUTH].astype(np.float64)
    out[MOUTH] = (src_mouth @ m[:, :2].T + m[:, 2]).astype(np.float32)
    return out


MAX_ADJUST = 0.05  # canonical units: the most a chosen mouth is opened or closed further by warping
SHUT_GAP = 0.01  # canonical units: the inner-lip gap a shut mouth is warped to (lips together)
LOWER_LIP_SHARE = {66: 1.0, 65: 0.9, 67: 0.9, 57: 0.9, 56: 0.75, 58: 0.75, 55: 0.4, 59: 0.4}


def adjust_opening(points: np.ndarray, delta: float, current: float) -> np.ndarray:
    """Points with the lower lip moved down by `delta` canonical units (up when negative, never
    closing past the upper lip), so the chosen mouth opens exactly as far as the audio wants."""
    delta = float(np.clip(delta, max(-MAX_ADJUST, -0.8 * max(current, 0.0)), MAX_ADJUST))
    if abs(delta) < 1e-4:
        return points
    _, down, iod = face_axes(points)
    out = np.array(points, np.float32, copy=True)
    for i, share in LOWER_LIP_SHARE.items():
        out[i] += (down * delta * iod * share).astype(np.float32)
    return out




