"""The `wav2lip` backend: the official Wav2Lip / Wav2Lip-GAN checkpoints a user supplies, run
batched (GPU or CPU), blended back through a soft lower-face mask with colour matching.

Per render: the engine's tracker gives the face box of every frame (`crops`), the audio becomes
the official mel chunks (`audio`), the generator fills in the lower half of each 96x96 crop in
batches (`infer`), and the engine's compositing warps the result onto the frame's lower face only
(no pasted square, nothing outside the lower face changes). Torch is imported only when a render
starts, so listing backends works without it.

Options: `options.Wav2LipOptions` (checkpoint, batch_size, fp16); the models folder is the
engine's `models_dir` (the daemon sets <root>/models).
"""
from __future__ import annotations

from .options import Wav2LipOptions

__all__ = ["Wav2LipOptions"]
