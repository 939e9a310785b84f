"""The template check: how well a presenter video will serve as a lip-sync template, said before rendering.

`check_template(video)` measures per video: the frames with a usable face, the face's size, how
far the head is turned, how much of the video shows speech-like mouth movement, how varied the
mouth shapes are (`mouths.classify_mouths` says what each frame's mouth shows), and gives a
verdict (good / usable / poor) with plain advice in Chinese and English (`report`).

Where the face track of the video is in the analysis cache (a render or an earlier check made
it), every frame is judged from it: 0.2 s for a 1-minute video. Otherwise SAMPLE_HZ frames a
second are tracked (`sampling`): 5.7 s for a 1-minute 720p video and 2.0 s at 256x256 (medians
of 3 on a busy 2-core machine; a full track took 12.0 and 5.8 s), with figures close to the full
track's (10 Hz was chosen over 5 and 8 Hz, whose speech and shape figures strayed further, and
over 15 Hz, which cost more for no closer figures). `check_before_render` (the daemon's)
computes and caches the full track instead when the render will need it anyway, so that the
render only reads it back.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError, MediaError
from ..media.errors import describe
from .mouths import USABLE_FOR_SPEECH, MouthClass, classify_mouths
from .report import SUMMARY, TemplateReport, Verdict, figures_of, judge

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, float], None]
SAMPLE_HZ = 10.0  # frames a second analysed when no face track is cached
NO_TRACK_BACKENDS = frozenset({"none"})  # backends whose render never tracks faces


class TemplateCheckError(EngineError):
    """The template check could not be done; the message says why and what to do."""


class UnreadableTemplate(TemplateCheckError, MediaError):
    """The presenter file cannot be read as a video or photo."""


REEXPORT = "choose another file, or export it again as an MP4 (H.264) video or a JPEG/PNG photo"


def _unreadable(path: Path, reason: str, hint: str = REEXPORT) -> UnreadableTemplate:
    return UnreadableTemplate(f"cannot check '{path.name}': {reason}; {hint}")


def _probe(path: Path):  # noqa: ANN202 - MediaInfo
    """probe() the presenter file, with UnreadableTemplate for anything that is not a readable picture."""
    from ..media.probe import probe

    if not path.exists():
        raise _unreadable(path, "file not found", "check the path")
    if not path.is_file():
        raise _unreadable(path, "it is a folder, not a file", "give a video or photo file")
    try:
        info = probe(path, "video")
    except MediaError as exc:
        reason = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
        raise _unreadable(path, reason) from exc
    except Exception as exc:  # PyAV and the OS raise many kinds; all mean "cannot read"
        raise _unreadable(path, describe(exc)) from exc
    if not info.has_video:
        raise _unreadable(path, "it has no picture (no video stream; is it an audio file?)")
    return info


def check_template(video: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
                   progress: ProgressFn | None = None, full_track: bool = False, landmarks: str = "dlib",
                   models_dir: str | os.PathLike[str] | None = None) -> TemplateReport:
    """Check one presenter video or photo (see module doc); UnreadableTemplate when it cannot be read.

    With `cache_dir`, a cached face track is used when there is one; with `full_track` too, the
    track is computed and cached when missing (what a render needs anyway). progress(stage,
    fraction) is called now and then; any exception it raises propagates.
    """
    from ..faces import NoFaceError

    started = time.perf_counter()
    path = Path(video)
    info = _probe(path)
    track = None
    try:
        if cache_dir and full_track:
            from ..faces import track_video

            track = track_video(path, info.fps, progress=progress, cache_dir=cache_dir, landmarks=landmarks,
                                models_dir=models_dir)
        elif cache_dir:
            from ..faces.track import cached_track

            track = cached_track(path, cache_dir, info.fps, landmarks=landmarks, models_dir=models_dir)
    except NoFaceError:
        track = None
        n = max(1, info.n_frames)
        points, times, height, source, rate = np.full((n, 68, 2), np.nan), np.arange(n) / (info.fps or 25.0), \
            info.height, "track", info.fps
    except MediaError as exc:
        raise _unreadable(path, str(exc).split(": ", 1)[-1]) from exc
    else:
        if track is not None:
            found = track.present & np.isfinite(track.raw_points).all(axis=(1, 2))
            points = np.where(found[:, None, None], track.points, np.nan)
            times = np.arange(track.n_frames) / track.fps
            height, source, rate = track.height, "track", track.fps
        else:
            from .sampling import sample_landmarks

            rate = 1.0 if info.is_image else min(SAMPLE_HZ, info.fps or SAMPLE_HZ)
            try:
                samples = sample_landmarks(path, info, rate, progress)
            except MediaError as exc:
                raise _unreadable(path, str(exc).split(": ", 1)[-1]) from exc
            points, times, height, source = samples.points, samples.times, samples.height or info.height, "sampled"
    fig = figures_of(points, times, height)
    verdict, advice = judge(fig, info.is_image)
    report = TemplateReport(
        video=path.name, verdict=verdict, summary=dict(SUMMARY[verdict]), advice=advice, source=source,
        sample_rate_hz=round(float(rate), 3), frames_analysed=fig.n, duration_s=round(info.duration_s, 3),
        fps=round(info.fps, 3), width=info.width, height=info.height, is_image=info.is_image,
        face_share=fig.face_share, face_px=fig.face_px, face_height_share=fig.face_height_share, yaw=fig.yaw,
        pitch=fig.pitch, roll_deg=fig.roll_deg, speech_share=fig.speech_share, speech_s=fig.speech_s,
        classes=fig.classes, opening_range=fig.opening_range, opening_range_rel=fig.opening_range_rel,
        distinct_shapes=fig.distinct_shapes, neutral=fig.neutral, check_s=round(time.perf_counter() - started, 3))
    if progress is not None:
        progress("check", 1.0)
    log.info("%s: template %s (%s, %d frames, %.1f s): %s", path.name, verdict.value, source, fig.n, report.check_s,
             ", ".join(a["code"] for a in advice) or "no advice")
    return report


def check_before_render(video: str | os.PathLike[str], options: dict[str, Any] | None = None,
                        progress: ProgressFn | None = None) -> TemplateReport:
    """check_template for a render about to run with these render options (a dict as a job gives them).

    When the render will track faces (every backend but `none`) and a cache folder is set, the
    full face track is computed and cached here, so that the render reads it back instead of
    tracking again; otherwise the check samples frames (or reads a cached track).
    """
    from ..options import RenderOptions

    opts = RenderOptions.from_dict(options)
    return check_template(video, opts.cache_dir or None, progress,
                          full_track=bool(opts.cache_dir) and opts.backend not in NO_TRACK_BACKENDS,
                          landmarks=opts.landmarks, models_dir=opts.models_dir or None)


__all__ = ["MouthClass", "SAMPLE_HZ", "TemplateCheckError", "TemplateReport", "USABLE_FOR_SPEECH",
           "UnreadableTemplate", "Verdict", "check_before_render", "check_template", "classify_mouths"]
