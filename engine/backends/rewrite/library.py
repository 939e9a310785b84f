"""The mouth library: every usable template frame's lower face, with its mouth shape and head pose.

Built once per template video (one decode pass after face tracking) and kept in the analysis
cache beside the face track, so a second render of the same presenter only reads it back. The
crops are stored at full resolution, each the same size (the largest lower-face box of the
video), in one .npy file that is memory-mapped on load.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...composite import _roi
from ...faces import FaceTrack
from ...media.read import iter_video_frames
from ...media.yuv import region_rgb
from ...template_check.mouths import USABLE_FOR_SPEECH, classify_mouths
from .shape import canonical, head_pose, mouth_shape

log = logging.getLogger(__name__)

LIBRARY_VERSION = 4  # 4: crops converted from the decoded YUV as the compositing converts, bounded in bytes
MAX_ENTRIES = 1500  # longer templates are sampled evenly: enough variety, bounded disk and memory
MAX_CROP_BYTES = 512 * 2**20  # and fewer where the crops are large (a close-up's): memory and disk stay bounded
CUT_GUARD = 1  # frames next to a shot change are left out


@dataclass
class MouthLibrary:
    """Library entry e is template frame `frames[e]`: its crop starts at `origins[e]` (x, y) in
    the frame, and `points[e]` are its 68 landmarks in crop coordinates."""

    frames: np.ndarray  # (n,) int template frame index
    points: np.ndarray  # (n, 68, 2) float32, crop coordinates
    origins: np.ndarray  # (n, 2) int
    shapes: np.ndarray  # (n, 2) opening, width (canonical units)
    poses: np.ndarray  # (n, 3) roll, yaw, pitch
    crops: np.ndarray  # (n, h, w, 3) uint8 RGB (memory-mapped when loaded)
    mouths: np.ndarray  # (n, 20, 2) float32 mouth points 48-67 in canonical face units
    classes: np.ndarray  # (n,) str: what each mouth shows (engine.template_check.MouthClass values)
    schema: int = LIBRARY_VERSION

    def __len__(self) -> int:
        return len(self.frames)

    def save_meta(self, path: str | os.PathLike[str]) -> None:
        """Write everything but the crops as one .npz file."""
        with open(path, "wb") as fh:
            np.savez(fh, schema=self.schema, frames=self.frames, points=self.points, origins=self.origins,
                     shapes=self.shapes, poses=self.poses, mouths=self.mouths, classes=self.classes)

    @classmethod
    def load(cls, meta: str | os.PathLike[str], crops: str | os.PathLike[str]) -> MouthLibrary:
        """Read a library from its meta .npz and crops .npy (memory-mapped); ValueError on another schema."""
        with np.load(meta, allow_pickle=False) as z:
            if int(z["schema"]) != LIBRARY_VERSION:
                raise ValueError(f"mouth library schema {int(z['schema'])}, expected {LIBRARY_VERSION}")
            fields = {k: z[k] for k in ("frames", "points", "origins", "shapes", "poses", "mouths", "classes")}
        pixels = np.load(crops, mmap_mode="r")
        if len(pixels) != len(fields["frames"]):
            raise ValueError("mouth library crops do not match its entries")
        return cls(crops=pixels, **fields)


def speech_entries(lib: MouthLibrary) -> np.ndarray:
    """Mask of the library mouths that show speech or closed lips (not smiles, smirks or occlusions)."""
    return np.isin(np.asarray(lib.classes), USABLE_FOR_SPEECH)


def _evenly(idx: np.ndarray, limit: int) -> np.ndarray:
    """At most `limit` of the indices, spread evenly from the first to the last."""
    if len(idx) <= limit:
        return idx
    return idx[np.round(np.linspace(0, len(idx) - 1, limit)).astype(int)]


def _crop_boxes(track: FaceTrack, idx: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Each frame's lower-face box (x0, y0, x1, y1) and the crop size (h, w) that holds them all."""
    shape = (track.height, track.width)
    boxes = np.array([_roi(track.points[j], shape) for j in idx], np.int64).reshape(-1, 4)
    h = int((boxes[:, 3] - boxes[:, 1]).max()) if len(idx) else 0
    w = int((boxes[:, 2] - boxes[:, 0]).max()) if len(idx) else 0
    return boxes, min(h, track.height), min(w, track.width)


def usable_frames(track: FaceTrack) -> np.ndarray:
    """Template frames whose face was really detected (not interpolated), away from shot changes."""
    ok = track.present & np.isfinite(track.raw_points).all(axis=(1, 2)) & np.isfinite(track.points).all(axis=(1, 2))
    cuts = np.flatnonzero(track.cuts) if track.cuts.size else np.zeros(0, int)
    for c in cuts:
        ok[max(0, c - CUT_GUARD):c + CUT_GUARD] = False
    idx = _evenly(np.flatnonzero(ok), MAX_ENTRIES)
    _, h, w = _crop_boxes(track, idx)
    return _evenly(idx, max(1, MAX_CROP_BYTES // max(1, h * w * 3)))


def build_library(video: str | os.PathLike[str], track: FaceTrack) -> MouthLibrary:
    """Decode the template once and keep the lower face of every usable frame."""
    idx = usable_frames(track)
    boxes, h, w = _crop_boxes(track, idx)
    centres = (boxes[:, :2] + boxes[:, 2:]) // 2
    origins = np.stack([np.clip(centres[:, 0] - w // 2, 0, track.width - w),
                        np.clip(centres[:, 1] - h // 2, 0, track.height - h)], axis=1) if len(idx) else \
        np.zeros((0, 2), np.int64)
    crops = np.zeros((len(idx), h, w, 3), np.uint8)
    wanted = {int(j): e for e, j in enumerate(idx)}
    last = int(idx[-1]) if len(idx) else -1
    for j, frame in enumerate(iter_video_frames(video, track.fps, max_frames=last + 1)):
        e = wanted.get(j)
        if e is not None:  # only the crop is converted to RGB, not the whole frame
            x0, y0 = origins[e]
            crops[e] = region_rgb(frame, (int(x0), int(y0), int(x0) + w, int(y0) + h))
    pts = track.points[idx].astype(np.float32) - origins[:, None, :].astype(np.float32)
    # shapes from the per-frame fit (what a detector sees in that frame), poses from the smoothed track
    canon = np.array([canonical(track.raw_points[j]) for j in idx]).reshape(-1, 68, 2)
    shapes = np.array([mouth_shape(c) for c in canon]).reshape(-1, 2)
    classes = classify_mouths(canon) if len(idx) else np.zeros(0, "<U10")
    poses = np.array([head_pose(track.points[j]) for j in idx]).reshape(-1, 3)
    log.info("mouth library: %d frames of %d, crops %dx%d, %d speech-like or closed", len(idx), track.n_frames, w, h,
             int(np.isin(classes, USABLE_FOR_SPEECH).sum()))
    return MouthLibrary(frames=idx.astype(np.int64), points=pts, origins=origins.astype(np.int64),
                        shapes=shapes, poses=poses, crops=crops, mouths=canon[:, 48:68].astype(np.float32),
                       classes=classes)


def cached_library(video: str | os.PathLike[str], track: FaceTrack,
                   cache_dir: str | os.PathLike[str] | None) -> MouthLibrary:
    """build_library, stored in and read back from the analysis cache when one is given."""
    if not cache_dir:
        return build_library(video, track)
    from ...cache import AnalysisCache, content_key
    from ...faces.track import track_version

    cache = AnalysisCache(cache_dir)
    key = content_key(video)
    stem = f"mouths-v{LIBRARY_VERSION}-{track_version(track.landmarks)}-fps{track.fps:.4f}"  # dlib and fan apart
    crops_name = stem + "-crops.npy"

    def save(lib: MouthLibrary, meta_path: Path) -> None:
        cache.store(key, crops_name, lib.crops, lambda c, p: np.save(p, c))  # crops first: meta marks it whole
        lib.save_meta(meta_path)

    def load(meta_path: Path) -> MouthLibrary:
        return MouthLibrary.load(meta_path, cache.path_for(key, crops_name))

    return cache.get_or_compute(key, stem + "-meta.npz", lambda: build_library(video, track), save, load)
