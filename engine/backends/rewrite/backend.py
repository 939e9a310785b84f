"""RewriteBackend: the render path of the `rewrite` backend (library, selection, compositing)."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numpy as np

from ...ahead import Ahead
from ...composite import composite_mouth, composite_mouth_frame, mouth_polygons
from ...faces import FaceTrack, track_video
from ...media.audio import load_audio
from ...media.read import Frame
from ...pingpong import pingpong_index
from ...prefetch import prefetch
from ...speech import MouthCurves, PresenterSample, predict_mouth
from ...speech.features import ANALYSIS_RATE
from ...speech.samples import file_source
from ...speech.streamed import predict_mouth_streamed, streams
from ..base import Backend, ProgressFn, RenderContext
from ..none import NoneBackend
from .fallback import fallback_frame, fallback_rgb
from .library import MouthLibrary, cached_library, speech_entries
from .options import RewriteOptions
from .plan import (
    MIN_ENTRIES,
    SHUT_GAP,
    FramePlan,
    adjust_opening,
    adjust_shape,
    destinations,
    library_has_variety,
    plan_frames,
    warp_points,
)
from .select import SelectionWeights
from .synth import SynthMouths, synth_mouths

log = logging.getLogger(__name__)
COMPOSE_AHEAD = 4  # frames composited ahead of the encoder


class RewriteBackend(Backend):
    """Lip-sync from the presenter's own mouths (CPU, no downloaded weights)."""

    name = "rewrite"

    def is_available(self) -> tuple[bool, str]:
        """Usable wherever the engine runs (the phone recogniser's model ships with pocketsphinx)."""
        return True, "the presenter's own mouths chosen by the audio (CPU, no downloads)"

    def frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[np.ndarray]:
        """RGB output frames: the `none` backend's picture with the chosen mouths composited in."""
        job = _Job(ctx, progress)
        for k, frame in enumerate(NoneBackend().frames(ctx, progress)):
            yield job.compose_rgb(k, frame)

    def video_frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[Frame]:
        """The same on decoded YUV frames: only each lower face is converted and rewritten.

        Compositing runs in its own thread, a few frames ahead of the encoder (OpenCV and most
        of NumPy release the GIL), so the two overlap on a multi-core CPU.
        """
        job = _Job(ctx, progress)
        yield from prefetch(_composed(job, NoneBackend().video_frames(ctx, progress)), depth=COMPOSE_AHEAD,
                            name="composite")


def _composed(job: _Job, frames: Iterator[Frame]) -> Iterator[Frame]:
    """Each destination frame with its mouth composited (RGB arrays or YUV frames alike)."""
    for k, frame in enumerate(frames):
        yield job.compose_rgb(k, frame) if isinstance(frame, np.ndarray) else job.compose_yuv(k, frame)


def load_mouth_model(name: str):  # noqa: ANN201 - MouthModel | None
    """The mouth model an option names: a shipped model's name ("default", "en"), a model file, or None for ""."""
    if not name:
        return None
    from pathlib import Path

    from ...speech.learned import SHIPPED_MODELS, MouthModel, MouthModelMissing, shipped_model

    if name in SHIPPED_MODELS:
        return shipped_model(name)
    if not Path(name).is_file():
        raise MouthModelMissing(f"mouth_model must be one of {', '.join(SHIPPED_MODELS)} or a model file; "
                                f"{name!r} is neither")
    return MouthModel.load(name)


class _Job:
    """Everything one render needs, prepared before the first frame."""

    def __init__(self, ctx: RenderContext, progress: ProgressFn) -> None:
        settings = ctx.settings_as(RewriteOptions, "rewrite")  # bad options fail before any work
        front_end, model = settings.front_end, load_mouth_model(settings.mouth_model)
        self.adjust = settings.adjust_opening
        self.weights = SelectionWeights(shape=settings.shape_weight)
        cache = ctx.options.cache_dir or None
        clock = _Stopwatch()
        # the audio's mouth targets are worked out in the background while the face is tracked
        # (the presenter-fitted front ends need the track, so they wait for it)
        targets = None if front_end.endswith("-fit") else \
            Ahead(lambda report: self._curves(ctx, front_end, model, report), name="mouth-targets")
        try:
            self.track: FaceTrack = track_video(ctx.video, ctx.fps, progress=progress, cache_dir=cache,
                                                   landmarks=ctx.options.landmarks,
                                                   models_dir=ctx.options.models_dir or None)
        except BaseException:
            if targets is not None:
                targets.cancel()
            raise
        clock.lap("faces")
        progress("mouths", 0.0)
        self.curves = targets.result(progress) if targets is not None else self._curves(ctx, front_end, model, progress)
        clock.lap("speech (after the faces)" if targets is not None else "speech")
        self.library: MouthLibrary | None = None
        self.plan: FramePlan | None = None
        self.synth: SynthMouths | None = None
        if self.track.present.any():
            lib = cached_library(ctx.video, self.track, cache)
            clock.lap("library")
            speech = speech_entries(lib)
            if library_has_variety(lib, speech):
                self.library = lib
                self.plan = plan_frames(self.track, lib, self.curves, ctx.n_frames, self.weights, allowed=speech)
                clock.lap("plan")
            elif len(lib) >= MIN_ENTRIES:
                log.info("%s: %d of %d template mouths show speech, with too little variety; opening the "
                         "presenter's neutral mouth instead", ctx.video.name, int(speech.sum()), len(lib))
                self.synth = synth_mouths(lib)
                self.synth_steps = self.synth.steps(self.curves.open)
                self.dest, self.has_face = destinations(self.track, ctx.n_frames)
            else:
                log.info("%s: too few usable template frames (%d); using the fallback warp", ctx.video.name, len(lib))
        progress("mouths", 1.0)
        self.n_src = max(1, self.track.n_frames)
        log.info("%s: prepared in %s", ctx.video.name, clock)

    def _curves(self, ctx: RenderContext, front_end: str, model, progress: ProgressFn) -> MouthCurves:  # noqa: ANN001
        """The audio front end's mouth targets for every output frame.

        The default front end reads the audio in chunks with any shipped model (the English one
        recognises its phones a minute at a time), so hours of audio need little memory; the
        other front ends load the whole signal.
        """
        if front_end == "mouth-model" and streams(model):
            return predict_mouth_streamed(file_source(ctx.audio), ctx.fps, ctx.n_frames, model,
                                          progress=lambda fraction: progress("mouths", 0.9 * fraction))
        samples = load_audio(ctx.audio, ANALYSIS_RATE, mono=True)
        presenter = None
        if front_end.endswith("-fit") and ctx.video_info.has_audio:
            presenter = _presenter_sample(ctx, self.track)
        return predict_mouth(samples, ctx.fps, ctx.n_frames, front_end, presenter, model=model)

    def _mouth(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]] | None:
        """(destination warp points, source crop, source points, colour-match exclusions), or None."""
        e = int(self.plan.source[k])
        if e < 0:
            return None
        dst = self.track.points[self.plan.dest[k]]
        src_pts = self.library.points[e]
        target = warp_points(dst, src_pts)
        if self.adjust and self.plan.shape_targets is not None and not self.plan.shut[k]:
            gap = (self.plan.shape_targets[k] - self.plan.library_scores[e]) @ self.plan.shape_basis
            target = adjust_shape(target, gap)
        if self.adjust:
            current = float(self.library.shapes[e, 0])
            wanted = min(SHUT_GAP, current) if self.plan.shut[k] else float(self.plan.targets[k, 0])
            target = adjust_opening(target, wanted - current, current)
        return target, np.asarray(self.library.crops[e]), src_pts, mouth_polygons(dst, target)

    def _own_points(self, k: int) -> np.ndarray | None:
        """The destination frame's landmarks (fallback warp), or None where it has no face."""
        j = min(pingpong_index(k, self.n_src), self.n_src - 1)
        return self.track.points[j] if self.track.present[j] else None

    def compose_rgb(self, k: int, frame: np.ndarray) -> np.ndarray:
        """Output frame k from its RGB destination frame."""
        return self._compose(k, frame, composite_mouth, fallback_rgb)

    def compose_yuv(self, k: int, frame: Frame) -> Frame:
        """Output frame k from its decoded YUV destination frame (only the lower face is converted)."""
        return self._compose(k, frame, composite_mouth_frame, fallback_frame)

    def _compose(self, k: int, frame, composite, fallback):  # noqa: ANN001, ANN202
        if self.synth is not None:
            return self._compose_synth(k, frame, composite)
        if self.plan is None:
            pts = self._own_points(k)
            return frame if pts is None else fallback(frame, pts, self.curves.open[k], self.curves.width[k])
        m = self._mouth(k)
        if m is None:
            return frame
        target, src, src_pts, exclude = m
        return composite(frame, target, src, src_pts, exclude=exclude)


    def _compose_synth(self, k: int, frame, composite):  # noqa: ANN001, ANN202
        """Output frame k with the neutral mouth opened as far as the audio asks."""
        if k >= len(self.dest) or not self.has_face[k]:
            return frame
        i = int(self.synth_steps[k])
        dst = self.track.points[self.dest[k]]
        src_pts = self.synth.points[i]
        target = warp_points(dst, src_pts)
        return composite(frame, target, self.synth.crops[i], src_pts, exclude=mouth_polygons(dst, target))


class _Stopwatch:
    """Seconds spent in each named step of a preparation, for the log."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.laps.items())


def _presenter_sample(ctx: RenderContext, track: FaceTrack) -> PresenterSample:
    """The template's own sound and tracked mouth, for the presenter-fitted front ends."""
    from ...faces.canonical import inner_lip_gap, mouth_corner_width, to_canonical_series

    samples = load_audio(ctx.video, ANALYSIS_RATE, mono=True)
    canon = to_canonical_series(np.where(track.present[:, None, None], track.points, np.nan))
    opening, width = inner_lip_gap(canon), mouth_corner_width(canon)
    return PresenterSample(samples, ANALYSIS_RATE, track.fps, opening, width)
