"""The `none` backend: the source picture untouched (ping-pong extended or cut) under the new sound."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ..media.read import Frame, iter_frames, iter_video_frames
from ..pingpong import pingpong_frames
from ..prefetch import prefetch
from .base import Backend, ProgressFn, RenderContext

PREFETCH_DEPTH = 4  # frames decoded ahead of the encoder (memory: 4 frames)


class NoneBackend(Backend):
    """No lip-sync: the baseline every other backend is compared with."""

    name = "none"

    def is_available(self) -> tuple[bool, str]:
        """Always usable (CPU only; a 'cuda' device is ignored)."""
        return True, "no lip-sync: the video's picture with the new audio"

    def frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[np.ndarray]:
        """The source as RGB arrays: forward, then backward, forward, ... until ctx.n_frames (see pingpong)."""
        return _pingpong(ctx, iter_frames)  # type: ignore[return-value]

    def video_frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[Frame]:
        """The same frames as decoded YUV av.VideoFrames, never converted to RGB (render() prefers this)."""
        return _pingpong(ctx, iter_video_frames)


def _pingpong(ctx: RenderContext, reader: Callable[..., Iterator[Frame]]) -> Iterator[Frame]:
    """Decoding, spilling and reading back all run in one worker thread, overlapping the encoder."""
    if ctx.video_info.is_image:
        return reader(ctx.video, ctx.fps, max_frames=ctx.n_frames)
    frames = pingpong_frames(lambda: reader(ctx.video, ctx.fps, prefetch_depth=0), ctx.n_frames, ctx.scratch_dir,
                             ctx.video_info.n_frames)
    return prefetch(frames, depth=PREFETCH_DEPTH, name="pingpong")
