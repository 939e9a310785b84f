"""Loading the official Wav2Lip checkpoints, strictly and safely.

The official files are a `torch.save` of {"state_dict", "optimizer", "global_step",
"global_epoch"} in the legacy (pre-zip) format, their keys probably carrying DataParallel's
`module.` prefix. They load with `weights_only=True` (tensors and plain containers only: no code
runs while unpickling). A missing file, a truncated one, or another model's checkpoint fails
with a message naming the file and, for a wrong model, the first key that does not fit.
"""
from __future__ import annotations

import math
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from ...errors import CheckpointError
from .locate import WHERE_FROM
from .model import Wav2Lip

PREFIX = "module."
OPTIONAL_SUFFIX = ".num_batches_tracked"  # unused in eval mode; older files may lack it


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The checkpoint's weights with any leading `module.` removed; CheckpointError if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no Wav2Lip checkpoint at {path}: {WHERE_FROM}; put the file there or pass "
                              f"--checkpoint PATH")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (EOFError, RuntimeError, ValueError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        size = path.stat().st_size / 1e6
        raise CheckpointError(f"{path.name} ({size:.1f} MB) cannot be read as a PyTorch checkpoint "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else 'no detail'}); "
                              f"it may be truncated or not a checkpoint at all: the official files are about "
                              f"416 MB, download it again") from exc
    weights = obj.get("state_dict", obj) if isinstance(obj, Mapping) else obj
    if not isinstance(weights, Mapping) or not weights or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        raise CheckpointError(f"{path.name} holds no model weights (expected a dict of tensors, or one under "
                              f"'state_dict')")
    return {k[len(PREFIX):] if k.startswith(PREFIX) else k: v for k, v in weights.items()}


def check_state_dict(weights: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], name: str) -> None:
    """CheckpointError naming the first key that is unknown, misshapen, or missing (in the file's order)."""
    for key, value in weights.items():
        want = expected.get(key)
        if want is None:
            raise CheckpointError(f"{name} is not a Wav2Lip generator checkpoint: unexpected key '{key}'"
                                  f"{_hint(weights)}")
        if tuple(value.shape) != tuple(want.shape):
            raise CheckpointError(f"{name} does not fit the Wav2Lip generator: key '{key}' has shape "
                                  f"{tuple(value.shape)}, expected {tuple(want.shape)}")
        if value.dtype.is_floating_point != want.dtype.is_floating_point:
            raise CheckpointError(f"{name}: key '{key}' holds {value.dtype}, expected {want.dtype}")
    for key in expected:
        if key not in weights and not key.endswith(OPTIONAL_SUFFIX):
            raise CheckpointError(f"{name} is not a complete Wav2Lip generator checkpoint: missing key '{key}'")


def _hint(weights: Mapping[str, torch.Tensor]) -> str:
    """A guess at which model a wrong checkpoint is for."""
    keys = list(weights)
    if any(k.startswith("face_encoder.") for k in keys) and any(k.startswith("audio_encoder.") for k in keys):
        return " (this looks like the SyncNet expert, lipsync_expert.pth: use wav2lip.pth or wav2lip_gan.pth)"
    if any(k.startswith("binary_pred") for k in keys):
        return " (this looks like the visual quality discriminator: use wav2lip.pth or wav2lip_gan.pth)"
    return ""


def load_generator(path: str | os.PathLike[str], device: str = "cpu", half: bool = False) -> Wav2Lip:
    """A Wav2Lip generator in eval mode on `device` with the checkpoint's weights, loaded strictly."""
    weights = read_state_dict(path)
    model = Wav2Lip()
    expected = model.state_dict()
    check_state_dict(weights, expected, Path(path).name)
    full = dict(expected)
    full.update({k: v.to(expected[k].dtype) for k, v in weights.items()})
    model.load_state_dict(full, strict=True)
    model.eval().to(device)
    if half:
        model.half()
    return model


def save_official(path: str | os.PathLike[str], weights: Mapping[str, torch.Tensor], module_prefix: bool = True,
                  legacy: bool = True) -> Path:
    """Write `weights` in the official training container (with optimizer state), for tests and benchmarks."""
    path = Path(path)
    state = {(PREFIX + k if module_prefix else k): v for k, v in weights.items()}
    container = {"state_dict": state,
                 "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.5, 0.999), "eps": 1e-8,
                                                              "weight_decay": 0, "amsgrad": False, "params": [0]}]},
                 "global_step": 0, "global_epoch": 0}
    torch.save(container, path, _use_new_zipfile_serialization=not legacy)
    return path


def random_weights(seed: int = 0, gain: float = 0.7) -> dict[str, torch.Tensor]:
    """Deterministic random generator weights (no real model), for tests and benchmarks.

    Convolutions get He-normal weights times `gain` and zero biases: with PyTorch's default
    initialisation the audio's effect dies out over the 13 audio layers and every output is
    about 0.5; at 0.7 the outputs spread over most of 0..1 and depend on the sound.
    """
    gen = torch.Generator().manual_seed(seed)
    model = Wav2Lip()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                w = module.weight
                fan_in = w[0].numel() if isinstance(module, torch.nn.Conv2d) else (
                    w.shape[0] * w.shape[2] * w.shape[3] / (module.stride[0] * module.stride[1]))
                w.copy_(torch.randn(w.shape, generator=gen) * gain * math.sqrt(2.0 / fan_in))
                module.bias.zero_()
    return model.state_dict()
