"""The `wav2lip` backend's options, declared once (see engine.options)."""
from __future__ import annotations

from dataclasses import dataclass

from ...options import option


@dataclass(frozen=True)
class Wav2LipOptions:
    """Which checkpoint, and how the generator runs."""

    checkpoint: str = option(
        "", ("Wav2Lip checkpoint", "Wav2Lip 模型文件"),
        ("a file in the models folder (or a path): wav2lip_gan.pth is sharper, wav2lip.pth syncs a little better "
         "(the authors' words); empty: the first found",
         "模型文件夹中的检查点（或路径）：wav2lip_gan.pth 画面更清晰，"
         "wav2lip.pth 口型略准（作者的说法）；空：用找到的第一个"),
        file=True, in_models=True)
    batch_size: int = option(
        0, ("Batch size", "批大小"),
        ("frames per forward pass; 0 = chosen for the GPU memory or CPU", "每次推理的帧数；0 = 按显存/CPU 自动选择"),
        low=0, high=1024, advanced=True)
    fp16: str = option(
        "auto", ("Half precision (fp16)", "半精度 (fp16)"),
        ("auto: fp16 on a GPU when it agrees with fp32 (faster); the CPU always uses fp32",
         "auto：在 GPU 上若与 fp32 结果一致则用 fp16（更快）；CPU 总是 fp32"), choices=("auto", "true", "false"),
        advanced=True)
