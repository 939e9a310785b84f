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
    shape_targets: np.ndarray | None = None  # (n, c) wanted scores of `shape_basis`
    library_scores: np.ndarray | None = None  # (entries, c) the library mouths' scores
    shape_basis: np.ndarray | None = None  # (c, 40) canonical mouth directions (x, y interleaved)


def library_has_variety(lib: MouthLibrary, allowed: np.ndarray | None = None) -> bool:
    """Whether the template shows enough different mouths (among `allowed` ones) to draw speech from."""
    o = lib.shapes[:, 0] if allowed is None else lib.shapes[np.asarray(allowed, bool), 0]
    if len(o) < MIN_ENTRIES:
        return False
    return float(np.percentile(o, 97) - np.percentile(o, 3)) >= MIN_OPENING_RANGE


def destinations(track: FaceTrack, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(template frame each output frame is drawn on, whether that frame has a face)."""
    n_src = max(1, track.n_frames)
    dest = np.array([min(pingpong_index(k, n_src), n_src - 1) for k in range(n_frames)], np.int64)
    return dest, track.present[dest] & np.isfinite(track.points[dest]).all(axis=(1, 2))


def plan_frames(track: FaceTrack, lib: MouthLibrary, curves: MouthCurves, n_frames: int,
                weights: SelectionWeights | None = None, allowed: np.ndarray | None = None) -> FramePlan:
    """Destination frame and library source (among the `allowed` entries) for every output frame."""
    keep = np.flatnonzero(np.ones(len(lib), bool) if allowed is None else np.asarray(allowed, bool))
    sub = lib if len(keep) == len(lib) else _entries(lib, keep)
    plan = _plan(track, sub, curves, n_frames, weights)
    plan.source = np.where(plan.source >= 0, keep[np.maximum(plan.source, 0)], -1)
    if plan.library_scores is not None and len(keep) != len(lib):
        full = np.zeros((len(lib), plan.library_scores.shape[1]))
        full[keep] = plan.library_scores
        plan.library_scores = full
    return plan


def _entries(lib: MouthLibrary, keep: np.ndarray) -> MouthLibrary:
    """The library's metadata for some entries (crops left as they are: planning never reads them)."""
    return MouthLibrary(frames=lib.frames[keep], points=lib.points[keep], origins=lib.origins[keep],
                        shapes=lib.shapes[keep], poses=lib.poses[keep], crops=lib.crops,
                        mouths=lib.mouths[keep], classes=lib.classes[keep])


def _plan(track: FaceTrack, lib: MouthLibrary, curves: MouthCurves, n_frames: int,
          weights: SelectionWeights | None) -> FramePlan:
    dest, has_face = destinations(track, n_frames)
    poses = np.full((n_frames, 3), np.nan)
    for k in np.flatnonzero(has_face):
        poses[k] = head_pose(track.points[dest[k]])
    targets = target_shapes(curves.open[:n_frames], curves.width[:n_frames], lib.shapes)
    closed = np.asarray(curves.open[:n_frames]) <= CLOSED_BELOW
    shape_t, scores, basis = shape_descriptors(curves, lib, n_frames)
    if shape_t is None:
        source = select_sources(targets, poses, lib.shapes, lib.poses, lib.frames, weights, closed)
    else:
        source = select_sources(np.column_stack([targets, shape_t]), poses, np.column_stack([lib.shapes, scores]),
                                lib.poses, lib.frames, weights, closed)
    source[~has_face] = -1
    return FramePlan(dest=dest, source=source, targets=targets, shut=closed, shape_targets=shape_t,
                     library_scores=scores, shape_basis=basis)


def library_scores(lib: MouthLibrary, basis: np.ndarray) -> np.ndarray:
    """(entries, components) scores of each library mouth, centred on the library's mean mouth."""
    m = np.asarray(lib.mouths, np.float64).reshape(len(lib), -1)
    return (m - m.mean(axis=0)) @ np.asarray(basis).T


def shape_descriptors(curves: MouthCurves, lib: MouthLibrary, n_frames: int):  # noqa: ANN201
    """(wanted scores, library scores, basis) of the shape components beyond the first (which is
    the opening, already matched by rank), or three Nones when the front end gives no shape."""
    if curves.shape is None or curves.shape_basis is None or curves.shape.shape[1] < 2 or not len(lib):
        return None, None, None
    basis = np.asarray(curves.shape_basis)[1:]
    return np.asarray(curves.shape[:n_frames, 1:]), library_scores(lib, basis), basis


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


MAX_SHAPE_MOVE = 0.03  # canonical units: the most any mouth point is moved towards the wanted shape
SHAPE_PULL = 0.5  # share of the gap between the chosen and the wanted shape that the warp closes


def adjust_shape(points: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Points with the mouth (48-67) moved by a (40,) canonical offset (x, y interleaved), scaled
    by SHAPE_PULL and limited to MAX_SHAPE_MOVE per point, turned into the face's image frame."""
    d = np.asarray(delta, np.float64).reshape(20, 2) * SHAPE_PULL
    norm = np.linalg.norm(d, axis=1, keepdims=True)
    d = d * np.minimum(1.0, MAX_SHAPE_MOVE / np.maximum(norm, 1e-12))
    across, down, iod = face_axes(points)
    out = np.array(points, np.float32, copy=True)
    out[MOUTH] += ((d[:, :1] * across + d[:, 1:] * down) * iod).astype(np.float32)
    return out


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




