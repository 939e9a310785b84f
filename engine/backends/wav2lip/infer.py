"""Batched Wav2Lip inference: device, precision and batch size chosen for the machine.

On CUDA the batch is sized from the free memory and the generator runs in float16 when a probe
batch agrees with float32 within HALF_TOLERANCE (else float32, with a log line). On the CPU it
runs in float32. A loaded generator is kept for the next item of the same checkpoint.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...errors import InvalidOptions
from .checkpoint import load_generator
from .crops import model_batch, output_faces
from .model import FACE_SIZE, MEL_BINS, MEL_STEP, Wav2Lip

log = logging.getLogger(__name__)

CPU_BATCH = 4  # frames per forward pass on the CPU: 4 measured fastest of 1, 4, 16, 32 (bench/wav2lip_bench.py)
MAX_BATCH = 128  # the official default batch
BYTES_PER_ITEM = 24 << 20  # per frame in float32: twice the 10-11 MB peak measured on the CPU at batches 33 and 65
MEMORY_SHARE = 0.5  # of the free GPU memory the batch may use
HALF_TOLERANCE = 2.0 / 255.0  # largest float16-float32 difference accepted, in output units (two grey levels)


@dataclass(frozen=True)
class GeneratorSettings:
    """How one render runs the generator."""

    checkpoint: Path
    device: str = "cpu"  # "cpu" or "cuda"
    batch_size: int = 0  # 0 = chosen for the device
    half: bool | None = None  # None = float16 on CUDA when the probe agrees


def resolve_device(device: str) -> str:
    """'cuda' when asked and available; InvalidOptions when asked and missing."""
    if device == "cuda":
        if not torch.cuda.is_available():
            raise InvalidOptions("device cuda was asked for, but this PyTorch has no usable CUDA GPU; use device cpu "
                                 "or install a CUDA build of torch (see the README)")
        return "cuda"
    return "cpu"


def auto_batch_size(device: str, half: bool) -> int:
    """Frames per forward pass: CPU_BATCH on the CPU; on CUDA as many as MEMORY_SHARE of free memory holds."""
    if device != "cuda":
        return CPU_BATCH
    free, _ = torch.cuda.mem_get_info()
    per_item = BYTES_PER_ITEM // (2 if half else 1)
    return int(max(1, min(MAX_BATCH, MEMORY_SHARE * free // per_item)))


def probe_inputs(n: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random batch (mels in -4..4, faces 0..255 BGR) for checks and benchmarks."""
    rng = np.random.default_rng(seed)
    mels = rng.uniform(-4, 4, (n, MEL_BINS, MEL_STEP)).astype(np.float32)
    faces = rng.integers(0, 256, (n, FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8)
    return mels, faces


def run_model(model: Wav2Lip, audio: torch.Tensor, face: torch.Tensor, device: str, half: bool) -> torch.Tensor:
    """One forward pass without gradients, in float16 autocast when `half`; the output as float32."""
    with torch.inference_mode():
        if half:
            with torch.autocast(device_type=device, dtype=torch.float16):
                return model(audio, face).float()
        return model(audio, face).float()


def half_agrees(model: Wav2Lip, device: str) -> float:
    """The largest difference between float16 and float32 outputs of the model on the probe batch."""
    mels, faces = probe_inputs()
    audio = torch.from_numpy(mels[:, None]).to(device)
    face = torch.from_numpy(model_batch(faces)).to(device)
    full, half = run_model(model, audio, face, device, False), run_model(model, audio, face, device, True)
    return float((full - half).abs().max())


class Generator:
    """A loaded Wav2Lip generator that turns (mel chunks, face crops) batches into generated faces."""

    def __init__(self, settings: GeneratorSettings) -> None:
        self.device = resolve_device(settings.device)
        self.model = load_generator(settings.checkpoint, self.device)
        self.half = False
        if self.device == "cuda" and settings.half is not False:
            diff = half_agrees(self.model, self.device)
            self.half = diff <= HALF_TOLERANCE or settings.half is True
            if not self.half:
                log.info("float16 differs from float32 by %.4f (> %.4f): running in float32", diff, HALF_TOLERANCE)
        self.batch_size = settings.batch_size or auto_batch_size(self.device, self.half)

    def __call__(self, mels: np.ndarray, faces_bgr: np.ndarray) -> np.ndarray:
        """(B, 80, 16) mel chunks and (B, 96, 96, 3) BGR uint8 crops -> (B, 96, 96, 3) RGB uint8 generated faces."""
        out = []
        for start in range(0, len(mels), self.batch_size):
            audio = torch.from_numpy(np.ascontiguousarray(mels[start:start + self.batch_size, None], np.float32))
            face = torch.from_numpy(model_batch(faces_bgr[start:start + self.batch_size]))
            pred = run_model(self.model, audio.to(self.device), face.to(self.device), self.device, self.half)
            out.append(output_faces(pred.cpu().numpy()))
        return np.concatenate(out) if out else np.zeros((0, FACE_SIZE, FACE_SIZE, 3), np.uint8)


_CACHE: dict[tuple, Generator] = {}
_LOCK = threading.Lock()


def cached_generator(settings: GeneratorSettings) -> Generator:
    """The Generator for these settings, reused while the checkpoint file is unchanged (one kept at a time)."""
    path = Path(settings.checkpoint)
    stat = path.stat() if path.is_file() else None
    key = (settings, stat.st_mtime_ns if stat else None, stat.st_size if stat else None)
    with _LOCK:
        if key not in _CACHE:
            _CACHE.clear()  # one generator in memory at a time
            _CACHE[key] = Generator(settings)
        return _CACHE[key]
