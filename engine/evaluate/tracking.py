"""Raw per-frame landmarks for evaluation: the largest face's 68 points, no smoothing, no tracking.

A frame without a face gets NaN points. Detection may run in worker processes (dlib holds the
GIL): one pool per process, kept for later calls so each worker loads the models once, started
by a fork server (never forked from this multi-threaded process); frames are handed out through
a bounded window so memory stays at a few dozen frames. A source clip's landmarks can be cached
on disk, keyed by the file's path, size, mtime and rate.
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
from pathlib import Path

import numpy as np

from ..media_read import iter_frames
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
    from ..faces import detect_faces

    faces = detect_faces(rgb)
    if not faces:
        return np.full((N_POINTS, 2), np.nan, np.float32)
    return np.asarray(faces[0].points, np.float32)


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
                 on_frame: FrameProgress | None = None) -> np.ndarray:
    """(n, 68, 2) float32 landmarks for every frame (NaN where no face), in order."""
    out: list[np.ndarray] = []

    def done(points: np.ndarray) -> None:
        out.append(points)
        if on_frame is not None:
            on_frame(len(out))

    if workers <= 1:
        for frame in frames:
            done(frame_landmarks(frame))
    else:
        pool = _pool(workers)
        pending: deque[Future[np.ndarray]] = deque()
        try:
            for frame in frames:
                pending.append(pool.submit(frame_landmarks, np.ascontiguousarray(frame)))
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


def _cache_key(path: Path, fps: float) -> str:
    st = path.stat()
    raw = f"v{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{fps:.6f}"
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


def cached_track_video(path: str | os.PathLike[str], fps: float, cache_dir: str | os.PathLike[str] | None,
                       workers: int = 1) -> np.ndarray:
    """`track_video(path, fps)`, read from / saved to `cache_dir` when one is given."""
    path = Path(path)
    if not cache_dir:
        return track_video(path, fps, workers=workers)
    folder = Path(cache_dir) / "evaluate-landmarks"
    file = folder / f"{path.stem}-{_cache_key(path, fps)}.npy"
    if file.exists():
        try:
            points = np.load(file)
            log.info("%s: landmarks from cache %s", path.name, file)
            return points
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable landmark cache %s (%s); detecting again", path.name, file, exc)
    points = track_video(path, fps, workers=workers)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, points)
    os.replace(tmp, file)
    return points
