"""The `identity` backend: the whole lip-sync path with each frame's own mouth as the source.

It tracks the face (cached per video), ping-pong extends the picture like `none`, and puts every
frame's own lower face back through the compositing machinery. The output equals the input up
to re-encoding. It is not a lip-sync: it exists to check and benchmark the shared path (decode,
faces, compositing, encode; first render against a cached repeat) that real backends build on.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..composite import composite_mouth, composite_mouth_frame
from ..faces import FaceTrack, track_video
from ..media.read import Frame
from ..pingpong import pingpong_index
from .base import Backend, ProgressFn, RenderContext
from .none import NoneBackend


class IdentityBackend(Backend):
    """Face tracking and compositing with the frame's own mouth: output == input, a pipeline check."""

    name = "identity"
    diagnostic = True

    def is_available(self) -> tuple[bool, str]:
        """Always usable (CPU): tracking uses dlib's model shipped in face_recognition_models."""
        return True, "pipeline check: tracks the face and composites each frame's own mouth back"

    def frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[np.ndarray]:
        """RGB frames of the `none` backend, each with its lower face composited from itself."""
        track = self._track(ctx, progress)
        for k, frame in enumerate(NoneBackend().frames(ctx, progress)):
            pts = self._points(track, k)
            yield frame if pts is None else composite_mouth(frame, pts, frame, pts)

    def video_frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[Frame]:
        """The same as decoded YUV frames: only the lower face of each is converted and rewritten."""
        track = self._track(ctx, progress)
        for k, frame in enumerate(NoneBackend().video_frames(ctx, progress)):
            pts = self._points(track, k)
            if pts is None:
                yield frame
            elif isinstance(frame, np.ndarray):  # odd-sized sources come as RGB
                yield composite_mouth(frame, pts, frame, pts)
            else:
                yield composite_mouth_frame(frame, pts, None, pts)

    @staticmethod
    def _track(ctx: RenderContext, progress: ProgressFn) -> FaceTrack:
        return track_video(ctx.video, ctx.fps, progress=progress, cache_dir=ctx.options.cache_dir or None,
                           landmarks=ctx.options.landmarks, models_dir=ctx.options.models_dir or None)

    @staticmethod
    def _points(track: FaceTrack, k: int) -> np.ndarray | None:
        """The landmarks for output frame k (ping-pong mapped), or None where there is no face."""
        n_src = max(1, track.n_frames)
        j = min(pingpong_index(k, n_src), n_src - 1)
        return track.points[j] if track.present[j] else None
