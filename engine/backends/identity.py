"""The `identity` backend: the whole lip-sync path with each frame's own mouth as the source.

It tracks the face (cached per video), ping-pong extends the picture like `none`, and puts every
frame's own lower face back through the compositing machinery. The output equals the input up
to re-encoding. It is not a lip-sync: it exists to check and benchmark the shared path (decode,
faces, compositing, encode; first render against a cached repeat) that real backends build on.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..composite import composite_mouth
from ..faces import track_video
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
        """Frames of the `none` backend, each with its lower face composited from itself."""
        track = track_video(ctx.video, ctx.fps, progress=progress, cache_dir=ctx.options.cache_dir or None)
        n_src = max(1, track.n_frames)
        for k, frame in enumerate(NoneBackend().frames(ctx, progress)):
            j = min(pingpong_index(k, n_src), n_src - 1)
            if track.present[j]:
                pts = track.points[j]
                frame = composite_mouth(frame, pts, frame, pts)
            yield frame
