"""track_video: the speaking face's 68 landmarks in every frame of a video, smoothed, cacheable."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..media.probe import probe
from ..media.read import iter_frames
from .errors import NoFaceError
from .landmark_backends import DEFAULT_LANDMARKS, DLIB_TAG, LandmarkBackend, landmark_backend
from .landmarks import N_POINTS, LandmarkDetector, to_gray
from .scenecut import CutDetector
from .smoothing import fill_gaps, smooth_track
from .tracker import FaceTracker, TrackerSettings

log = logging.getLogger(__name__)

SCHEMA = 1
TRACKING_VERSION = "roi5-oe2"  # change when tracking or smoothing changes: old cache entries die
TRACKER_VERSION = f"{DLIB_TAG}-{TRACKING_VERSION}"  # the default (dlib) track's version: see track_version
MAX_GAP_S = 0.2  # face lost for at most this long inside one shot: interpolated from both sides
PROGRESS_EVERY = 5  # frames


@dataclass
class FaceTrack:
    """One face's landmarks per frame, aligned to the constant-rate frames iter_frames yields at fps.

    `raw_points` is NaN where the tracker had no face; `present` is also True on short gaps
    filled by interpolation (those frames have raw_points NaN but points set).
    """

    fps: float
    width: int
    height: int
    n_frames: int
    points: np.ndarray  # (n, 68, 2) float32 smoothed, NaN where no face
    raw_points: np.ndarray  # (n, 68, 2) float32 per-frame fit, NaN where no face
    boxes: np.ndarray  # (n, 4) float32 x0, y0, x1, y1, NaN where no face
    present: np.ndarray  # (n,) bool
    cuts: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (n,) True where a shot starts
    landmarks: str = DLIB_TAG  # the landmark backend's tag (LandmarkBackend.tag) that made the points
    schema: int = SCHEMA

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as .npz, atomically (a temporary file renamed into place)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, schema=self.schema, fps=self.fps, width=self.width, height=self.height,
                         n_frames=self.n_frames, points=self.points, raw_points=self.raw_points,
                         boxes=self.boxes, present=self.present, cuts=self.cuts, landmarks=np.str_(self.landmarks))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FaceTrack:
        """Read a track written by `save`; ValueError when the file is not one or has another schema."""
        with np.load(Path(path), allow_pickle=False) as z:
            schema = int(z["schema"])
            if schema != SCHEMA:
                raise ValueError(f"face track schema {schema}, expected {SCHEMA}")
            track = cls(fps=float(z["fps"]), width=int(z["width"]), height=int(z["height"]),
                        n_frames=int(z["n_frames"]), points=z["points"], raw_points=z["raw_points"],
                        boxes=z["boxes"], present=z["present"].astype(bool), cuts=z["cuts"].astype(bool),
                        landmarks=str(z["landmarks"]) if "landmarks" in z.files else DLIB_TAG, schema=schema)
        n = track.n_frames
        if (track.points.shape != (n, N_POINTS, 2) or track.raw_points.shape != (n, N_POINTS, 2)
                or track.boxes.shape != (n, 4) or track.present.shape != (n,)):
            raise ValueError("face track arrays do not match its frame count")
        return track


ProgressFn = Callable[[str, float], None]


def _expected_frames(path: Path, fps: float | None) -> tuple[float, int]:
    """The frame rate to track at and about how many frames that gives (for progress)."""
    info = probe(path)
    rate = float(fps or info.fps or 25.0)
    n = int(round(info.duration_s * rate)) if info.duration_s else info.n_frames
    return rate, max(1, n)


def track_version(landmarks_tag: str = DLIB_TAG) -> str:
    """The version of a track made with this landmark backend (its tag): names cache entries derived from it."""
    return f"{landmarks_tag}-{TRACKING_VERSION}"


def _scan(path: Path, fps: float, n_expected: int, progress: ProgressFn | None,
          settings: TrackerSettings | None, landmarks: LandmarkBackend) -> dict[str, np.ndarray | int]:
    """Run the tracker over every frame; per-frame raw landmarks, boxes, presence and cuts."""
    tracker = FaceTracker(LandmarkDetector(), fps, settings, landmarks)
    cutter = CutDetector()
    raw, boxes, cuts = [], [], []
    width = height = 0
    started = time.perf_counter()
    for i, rgb in enumerate(iter_frames(path, fps=fps)):
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress("faces", min(0.99, i / n_expected))
        gray = to_gray(rgb)
        height, width = gray.shape
        cut = cutter.update(gray)
        if cut:
            tracker.cut()
        step = tracker.step(gray, i, rgb)
        cuts.append(cut)
        if step.points is None:
            raw.append(np.full((N_POINTS, 2), np.nan, np.float32))
            boxes.append(np.full(4, np.nan, np.float32))
        else:
            raw.append(step.points.astype(np.float32))
            boxes.append(np.asarray(step.box, np.float32))
    n = len(raw)
    secs = time.perf_counter() - started
    log.info("%s: tracked %d frames in %.1f s (%.0f frames/s, %d detector runs)",
             path.name, n, secs, n / max(secs, 1e-9), tracker.detections)
    return {"raw": np.array(raw, np.float32).reshape(n, N_POINTS, 2),
            "boxes": np.array(boxes, np.float32).reshape(n, 4),
            "cuts": np.array(cuts, bool), "width": width, "height": height}


def compute_track(path: str | os.PathLike[str], fps: float | None = None,
                  progress: ProgressFn | None = None, settings: TrackerSettings | None = None,
                  landmarks: str | LandmarkBackend = DEFAULT_LANDMARKS,
                  models_dir: str | os.PathLike[str] | None = None) -> FaceTrack:
    """Track the speaking face through a video (no cache); NoFaceError when no frame has a face.

    `landmarks` names the landmark backend ("dlib" or "fan", see landmark_backend); `models_dir`
    is where the fan backend looks for its weights first.
    """
    path = Path(path)
    backend = landmark_backend(landmarks, models_dir=models_dir)
    rate, n_expected = _expected_frames(path, fps)
    scan = _scan(path, rate, n_expected, progress, settings, backend)
    raw = scan["raw"]
    present = ~np.isnan(raw[:, 0, 0])
    if not present.any():
        raise NoFaceError(f"no face found in {path.name}: the lip-sync needs a face seen from the front "
                          "in at least part of the video; use another video")
    filled_points = raw.copy()
    filled = fill_gaps(filled_points, present, scan["cuts"], int(round(MAX_GAP_S * rate)))
    boxes = scan["boxes"].copy()
    fill_gaps(boxes.reshape(len(boxes), 2, 2), present, scan["cuts"], int(round(MAX_GAP_S * rate)))
    present_all = present | filled
    points = smooth_track(filled_points, present_all, scan["cuts"], rate)
    if progress is not None:
        progress("faces", 1.0)
    log.info("%s: face in %d of %d frames (%d interpolated), %d cuts", path.name, int(present.sum()),
             len(present), int(filled.sum()), int(scan["cuts"].sum()))
    return FaceTrack(fps=rate, width=int(scan["width"]), height=int(scan["height"]), n_frames=len(raw),
                     points=points, raw_points=raw, boxes=boxes, present=present_all, cuts=scan["cuts"],
                     landmarks=backend.tag)


def track_video(path: str | os.PathLike[str], fps: float | None = None, progress: ProgressFn | None = None,
                cache_dir: str | os.PathLike[str] | None = None, landmarks: str | LandmarkBackend = DEFAULT_LANDMARKS,
                models_dir: str | os.PathLike[str] | None = None) -> FaceTrack:
    """The speaking face's landmarks in every frame at `fps` (default: the video's rate).

    With `cache_dir`, the track is stored under the video's content hash and reused.
    Exceptions raised by `progress` propagate (that is how a render is cancelled).
    `landmarks` chooses the landmark backend: "dlib" (default) or "fan" (face-alignment's 2DFAN4,
    weights found in `models_dir`, else $LIPSPOOL_MODELS, else torch's hub cache). Before any work,
    an unknown name raises InvalidOptions and missing fan weights FanWeightsMissing; each backend
    (and each fan weights file) has its own cache entries.
    """
    path = Path(path)
    backend = landmark_backend(landmarks, models_dir=models_dir)
    if not cache_dir:
        return compute_track(path, fps, progress, landmarks=backend)
    from ..cache import AnalysisCache, content_key

    rate, _ = _expected_frames(path, fps)
    cache = AnalysisCache(cache_dir)
    key = content_key(path)
    track = cache.get_or_compute(key, _cache_name(rate, backend.tag),
                                 lambda: compute_track(path, rate, progress, landmarks=backend),
                                 lambda t, p: t.save(p), FaceTrack.load)
    if progress is not None:
        progress("faces", 1.0)
    return track


def _cache_name(rate: float, landmarks_tag: str = DLIB_TAG) -> str:
    """The analysis-cache entry name of a face track at `rate` frames per second made with this landmark backend."""
    return f"faces-s{SCHEMA}-{track_version(landmarks_tag)}-fps{rate:.4f}.npz"


def cached_track(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str], fps: float | None = None,
                 landmarks: str | LandmarkBackend = DEFAULT_LANDMARKS,
                 models_dir: str | os.PathLike[str] | None = None) -> FaceTrack | None:
    """The track `track_video(path, fps, cache_dir=cache_dir, landmarks=...)` stored earlier, or None (no work)."""
    from ..cache import AnalysisCache, content_key

    path = Path(path)
    backend = landmark_backend(landmarks, models_dir=models_dir)
    rate, _ = _expected_frames(path, fps)
    return AnalysisCache(cache_dir).load(content_key(path), _cache_name(rate, backend.tag), FaceTrack.load)
