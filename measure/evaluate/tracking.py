"""Raw per-frame landmarks for evaluation: the largest face's 68 points, no smoothing, no tracking.

A frame without a face gets NaN points. Detection may run in worker processes (dlib holds the
GIL): one pool per process, kept for later calls so each worker loads the models once, started
by a fork server (never forked from this multi-threaded process); frames are handed out through
a bounded window so memory stays at a few dozen frames. A source clip's landmarks can be cached
on disk, keyed by the file's path, size, mtime and rate.

`track_video_with_change` also cuts each frame's face-aligned mouth region (`flicker`) in the
same decode pass, in the same worker as its landmarks, and returns the frame-to-frame change
series beside the landmarks; `cached_track_video_with_change` caches that series next to the
landmarks (when only the landmarks are cached, the frames are decoded once more, without
detection, to cut the regions).
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.media.read import iter_frames

from . import flicker
from .errors import EvaluationError

log = logging.getLogger(__name__)

N_POINTS = 68
CACHE_VERSION = 1
WINDOW_PER_WORKER = 8

FrameProgress = Callable[[int], None]
_pools: dict[int, ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()


def frame_landmarks(rgb: np.ndarray) -> np.ndarray:
    """(68, 2) float32 points of the largest face in an RGB frame, all NaN when there is none."""
    from engine.faces import detect_faces

    faces = detect_faces(rgb)
    if not faces:
        return np.full((N_POINTS, 2), np.nan, np.float32)
    return np.asarray(faces[0].points, np.float32)


def frame_landmarks_and_region(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """`frame_landmarks` and the frame's face-aligned mouth region (`flicker.mouth_region`, None: no face)."""
    points = frame_landmarks(rgb)
    return points, flicker.mouth_region(rgb, points)


@dataclass
class TrackedVideo:
    """Landmarks of every frame and the per-frame change of the mouth region (`flicker`)."""

    points: np.ndarray  # (n, 68, 2) float32, NaN where no face
    change: np.ndarray  # (n,) float64: change[k] from frame k-1 to k, NaN at 0 and where a face is missing


def _pool(workers: int) -> ProcessPoolExecutor:
    """The process-wide pool of `workers` landmark processes, started on first use."""
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
            _pools[workers] = pool
    return pool


def _drop_pool(workers: int) -> None:
    with _pools_lock:
        pool = _pools.pop(workers, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def shutdown_pools() -> None:
    """Stop every landmark worker process (also run at exit)."""
    for workers in list(_pools):
        _drop_pool(workers)


def track_frames(frames: Iterable[np.ndarray], workers: int = 1,
                 on_frame: FrameProgress | None = None,
                 meter: flicker.ChangeMeter | None = None) -> np.ndarray:
    """(n, 68, 2) float32 landmarks for every frame (NaN where no face), in order.

    With a `meter`, each frame's mouth region is cut in the same pass and fed to it in order.
    """
    out: list[np.ndarray] = []
    work: Callable[[np.ndarray], Any] = frame_landmarks if meter is None else frame_landmarks_and_region

    def done(result: Any) -> None:
        if meter is None:
            out.append(result)
        else:
            points, region = result
            out.append(points)
            meter.add(region)
        if on_frame is not None:
            on_frame(len(out))

    if workers <= 1:
        for frame in frames:
            done(work(frame))
    else:
        pool = _pool(workers)
        pending: deque[Future[Any]] = deque()
        try:
            for frame in frames:
                pending.append(pool.submit(work, np.ascontiguousarray(frame)))
                if len(pending) >= workers * WINDOW_PER_WORKER:
                    done(pending.popleft().result())
            while pending:
                done(pending.popleft().result())
        except BrokenProcessPool as exc:
            _drop_pool(workers)
            raise EvaluationError(f"a landmark worker process died ({exc}); run again, or use --workers 1 "
                                  "and check memory") from exc
        finally:
            for future in pending:
                future.cancel()
    if not out:
        return np.zeros((0, N_POINTS, 2), np.float32)
    return np.stack(out)


def track_video(path: str | os.PathLike[str], fps: float | None = None, max_frames: int | None = None,
                workers: int = 1) -> np.ndarray:
    """Landmarks of every frame of a video as `iter_frames(path, fps, max_frames)` yields them."""
    return track_frames(iter_frames(path, fps, max_frames=max_frames), workers)


def track_video_with_change(path: str | os.PathLike[str], fps: float | None = None,
                            max_frames: int | None = None, workers: int = 1) -> TrackedVideo:
    """Landmarks and mouth-region change of every frame of a video, from one decode pass."""
    meter = flicker.ChangeMeter()
    points = track_frames(iter_frames(path, fps, max_frames=max_frames), workers, meter=meter)
    return TrackedVideo(points=points, change=meter.series())


def _cache_key(path: Path, fps: float) -> str:
    st = path.stat()
    raw = f"v{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{fps:.6f}"
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


def _cache_file(path: Path, fps: float, cache_dir: str | os.PathLike[str], kind: str) -> Path:
    return Path(cache_dir) / "evaluate-landmarks" / f"{path.stem}-{_cache_key(path, fps)}{kind}.npy"


def _load(file: Path, name: str, what: str) -> np.ndarray | None:
    if not file.exists():
        return None
    try:
        data = np.load(file)
        log.info("%s: %s from cache %s", name, what, file)
        return data
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable %s cache %s (%s); computing again", name, what, file, exc)
        return None


def _save(file: Path, data: np.ndarray) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f"{file.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, data)
    os.replace(tmp, file)


def cached_track_video(path: str | os.PathLike[str], fps: float, cache_dir: str | os.PathLike[str] | None,
                       workers: int = 1) -> np.ndarray:
    """`track_video(path, fps)`, read from / saved to `cache_dir` when one is given."""
    path = Path(path)
    if not cache_dir:
        return track_video(path, fps, workers=workers)
    file = _cache_file(path, fps, cache_dir, "")
    points = _load(file, path.name, "landmarks")
    if points is None:
        points = track_video(path, fps, workers=workers)
        _save(file, points)
    return points


def cached_track_video_with_change(path: str | os.PathLike[str], fps: float,
                                   cache_dir: str | os.PathLike[str] | None, workers: int = 1) -> TrackedVideo:
    """`track_video_with_change(path, fps)`, both series read from / saved to `cache_dir` when one is given.

    The landmarks share `cached_track_video`'s cache file; the change series sits beside them,
    named by `flicker.VERSION`.
    """
    path = Path(path)
    if not cache_dir:
        return track_video_with_change(path, fps, workers=workers)
    points_file = _cache_file(path, fps, cache_dir, "")
    change_file = _cache_file(path, fps, cache_dir, f".mouth-change-v{flicker.VERSION}")
    points = _load(points_file, path.name, "landmarks")
    change = _load(change_file, path.name, "mouth change") if points is not None else None
    if points is not None and change is not None and len(change) == len(points):
        return TrackedVideo(points=points, change=change)
    if points is None:
        tracked = track_video_with_change(path, fps, workers=workers)
        _save(points_file, tracked.points)
    else:  # landmarks cached by an older run: cut the regions with them, no detection
        tracked = TrackedVideo(points=points, change=flicker.frame_change_series(iter_frames(path, fps), points))
    _save(change_file, tracked.change)
    return tracked
