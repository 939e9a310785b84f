"""Wav2LipBackend: the render path of the `wav2lip` backend."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ...errors import CheckpointError
from ...media.read import Frame
from ...options import parse_flag
from ..base import Backend, ProgressFn, RenderContext
from .locate import WHERE_FROM, models_dir, resolve_checkpoint, torch_installed
from .options import Wav2LipOptions

GENERATE_AHEAD = 8  # frames generated and composited ahead of the encoder


class Wav2LipBackend(Backend):
    """Wav2Lip with user-supplied weights: batched on the GPU (CPU works, slowly)."""

    name = "wav2lip"

    def is_available(self) -> tuple[bool, str]:
        """Usable where PyTorch is installed; the checkpoint is checked when a render starts."""
        if not torch_installed():
            return False, "needs PyTorch: LIPSPOOL_WAV2LIP=1 scripts/start.sh installs it (see the README)"
        return True, "Wav2Lip with the official checkpoint you supply (GPU, or CPU slowly)"

    def frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[np.ndarray]:
        """RGB output frames: the `none` backend's picture with generated lower faces blended in."""
        from ..none import NoneBackend

        job = _job(ctx, progress)
        yield from job.run(NoneBackend().frames(ctx, progress))

    def video_frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[Frame]:
        """The same on decoded YUV frames (only each face box is converted), generated ahead of the encoder."""
        from ...prefetch import prefetch
        from ..none import NoneBackend

        job = _job(ctx, progress)
        yield from prefetch(job.run(NoneBackend().video_frames(ctx, progress)), depth=GENERATE_AHEAD,
                            name="wav2lip")


def settings_for(ctx: RenderContext):  # noqa: ANN201 - infer.GeneratorSettings
    """The generator settings from the render options, validated before any work."""
    from .infer import GeneratorSettings

    own = ctx.settings_as(Wav2LipOptions, "wav2lip")
    folder = models_dir(ctx.options.models_dir or None)
    checkpoint = resolve_checkpoint(own.checkpoint or None, folder)
    if checkpoint is None:
        where = f"in {folder}" if folder else "(no models folder is set)"
        raise CheckpointError(f"no Wav2Lip checkpoint {where}: {WHERE_FROM}; put wav2lip.pth or wav2lip_gan.pth "
                              f"in the models folder or pass --checkpoint PATH")
    return GeneratorSettings(checkpoint=Path(checkpoint), device=ctx.options.device, batch_size=own.batch_size,
                             half=parse_flag("fp16", own.fp16, allow_auto=True))


def _job(ctx: RenderContext, progress: ProgressFn):  # noqa: ANN202
    from .render import Wav2LipJob

    return Wav2LipJob(ctx, settings_for(ctx), progress)
