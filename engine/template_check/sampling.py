"""Landmarks on an even sample of a video's frames: the template check's path when no face track is cached.

The whole stream is decoded (seeking cannot be cheaper with the long keyframe intervals common
in phone and x264 videos), but only about `rate_hz` frames a second are converted (straight to
grayscale) and go through the face tracker. Frames no other frame refers to (most B-frames)
are not even decoded: on a 720p x264 file that cut decoding by a third; where that leaves too few
frames (a stream made mostly of such frames) the file is decoded again in full.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from av.video.reformatter import VideoReformatter

from ..faces.landmarks import N_POINTS, LandmarkDetector
from ..faces.scenecut import CutDetector
from ..faces.tracker import FaceTracker, TrackerSettings
from ..media.probe import MediaInfo, _is_image, decoded_frames, first_stream, reading, rotation_of
from ..media.read import turn

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, float], None]
PROGRESS_EVERY_S = 2.0  # of video between progress calls
MIN_KEPT = 0.6  # share of the wanted samples that skipping unreferenced frames must still give
SEARCH_EVERY_S = 0.5  # while no face is followed, look for one this often (a frame search costs ~30 ms)
THOROUGH_EVERY_S = 2.0  # ... and for small faces (a search on an enlarged copy, ~150 ms) this often


@dataclass
class Samples:
    """Landmarks of the sampled frames: points[k] (68, 2) image pixels (NaN: no face) at times[k] seconds."""

    times: np.ndarray
    points: np.ndarray
    width: int
    height: int


def _gray(frame, rotation: int, reformatter: VideoReformatter) -> np.ndarray:  # noqa: ANN001 - av.VideoFrame
    """A decoded frame as display-oriented 8-bit grayscale (swscale stretches limited-range luma to 0..255)."""
    gray = reformatter.reformat(frame, format="gray", threads=1).to_ndarray()
    return turn(gray, rotation) if rotation % 360 else gray


def _scan(path: Path, info: MediaInfo, rate_hz: float, progress: ProgressFn | None,
          skip_unreferenced: bool) -> Samples:
    """One pass over the stream: track the face on about rate_hz frames a second."""
    tracker = FaceTracker(LandmarkDetector(), rate_hz, TrackerSettings(thorough_every_s=THOROUGH_EVERY_S))
    searched = -np.inf  # when a frame was last searched for a face (while none is followed)
    cutter = CutDetector()
    times: list[float] = []
    points: list[np.ndarray] = []
    width = height = 0
    fps = info.fps or 25.0
    reformatter = VideoReformatter()
    last_slot, t0, seen, next_report = -1, None, 0, PROGRESS_EVERY_S
    with reading(path, "video") as container:
        stream = first_stream(container, path, "video")
        stream.thread_type = "AUTO"
        image = _is_image(container, stream)
        if skip_unreferenced and not image:
            stream.codec_context.skip_frame = "NONREF"
        for frame in decoded_frames(container, stream, path, "video"):
            t = frame.time if frame.time is not None else seen / fps
            seen += 1
            if t0 is None:
                t0 = t
            slot = math.floor((t - t0) * rate_hz + 1e-6)
            if slot <= last_slot:
                continue
            last_slot = slot
            gray = _gray(frame, rotation_of(frame, stream), reformatter)
            height, width = gray.shape
            if cutter.update(gray):
                tracker.cut()
            found = None
            if tracker.points is not None or t - searched >= SEARCH_EVERY_S - 1e-6:
                if tracker.points is None:
                    searched = t
                found = tracker.step(gray, len(times)).points
            else:
                tracker.lost_for += 1  # a skipped search still counts as a frame without the face
            times.append(t - t0)
            points.append(np.full((N_POINTS, 2), np.nan, np.float32) if found is None else found.astype(np.float32))
            if progress is not None and info.duration_s and t - t0 >= next_report:
                next_report += PROGRESS_EVERY_S
                progress("check", min(0.99, (t - t0) / info.duration_s))
            if image:
                break
    return Samples(times=np.array(times, np.float64), points=np.array(points, np.float32).reshape(-1, N_POINTS, 2),
                   width=width, height=height)


def sample_landmarks(path: str | os.PathLike[str], info: MediaInfo, rate_hz: float,
                     progress: ProgressFn | None = None) -> Samples:
    """The tracked face's landmarks on about `rate_hz` evenly spread frames a second (one for a photo)."""
    path = Path(path)
    started = time.perf_counter()
    samples = _scan(path, info, rate_hz, progress, skip_unreferenced=True)
    wanted = info.duration_s * min(rate_hz, info.fps or rate_hz)
    if info.n_frames:
        wanted = min(wanted, info.n_frames)  # some files hold fewer frames than their rate says
    if not info.is_image and wanted >= 4 and len(samples.times) < MIN_KEPT * wanted:
        log.info("%s: only %d of about %.0f samples without unreferenced frames; decoding every frame",
                 path.name, len(samples.times), wanted)
        samples = _scan(path, info, rate_hz, progress, skip_unreferenced=False)
    log.info("%s: landmarks on %d sampled frames in %.1f s", path.name, len(samples.times),
             time.perf_counter() - started)
    return samples
