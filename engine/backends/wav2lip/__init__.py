"""The `wav2lip` backend: the official Wav2Lip / Wav2Lip-GAN checkpoints a user supplies, run
batched (GPU or CPU), blended back through a soft lower-face mask with colour matching.

Per render: the engine's tracker gives the face box of every frame (`crops`), the audio becomes
the official mel chunks (`audio`), the generator fills in the lower half of each 96x96 crop in
batches (`infer`), and the engine's compositing warps the result onto the frame's lower face only
(no pasted square, nothing outside the lower face changes). Torch is imported only when a render
starts, so listing backends works without it.

Options (job `options` or `--option`): checkpoint (a path, or a file name in the models folder),
models_dir (the daemon sets <root>/models), batch_size (0 = chosen for the device), fp16 (auto,
true, false).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ...errors import CheckpointError, InvalidOptions
from ...media.read import Frame
from ...options import parse_flag
from ..base import Backend, ProgressFn, RenderContext
from .locate import WHERE_FROM, models_dir, resolve_checkpoint, torch_installed

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

    extra = ctx.options.extra
    folder = models_dir(extra.get("models_dir"))
    checkpoint = resolve_checkpoint(extra.get("checkpoint"), folder)
    if checkpoint is None:
        where = f"in {folder}" if folder else "(no models folder is set)"
        raise CheckpointError(f"no Wav2Lip checkpoint {where}: {WHERE_FROM}; put wav2lip.pth or wav2lip_gan.pth "
                              f"in the models folder or pass --checkpoint PATH")
    try:
        batch = int(extra.get("batch_size", 0))
    except (TypeError, ValueError):
        batch = -1
    if batch < 0:
        raise InvalidOptions(f"batch_size must be a whole number >= 0 (0 = automatic), got {extra.get('batch_size')!r}")
    return GeneratorSettings(checkpoint=Path(checkpoint), device=ctx.options.device, batch_size=batch,
                             half=parse_flag("fp16", extra.get("fp16", "auto"), allow_auto=True))


def _job(ctx: RenderContext, progress: ProgressFn):  # noqa: ANN202
    from .render import Wav2LipJob

    return Wav2LipJob(ctx, settings_for(ctx), progress)
