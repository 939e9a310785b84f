"""The `none` backend: the source picture untouched (ping-pong extended or cut) under the new sound."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..media_read import iter_frames
from ..pingpong import pingpong_frames
from .base import Backend, ProgressFn, RenderContext


class NoneBackend(Backend):
    """No lip-sync: the baseline every other backend is compared with."""

    name = "none"

    def is_available(self) -> tuple[bool, str]:
        """Always usable (CPU only; a 'cuda' device is ignored)."""
        return True, "no lip-sync: the video's picture with the new audio"

    def frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[np.ndarray]:
        """The source frames forward, then backward, forward, ... until ctx.n_frames (see pingpong)."""
        if ctx.video_info.is_image:
            yield from iter_frames(ctx.video, ctx.fps, max_frames=ctx.n_frames)
            return
        shape = (ctx.height, ctx.width, 3)
        yield from pingpong_frames(lambda: iter_frames(ctx.video, ctx.fps), ctx.n_frames,
                                   ctx.scratch_dir, ctx.video_info.n_frames, shape)
