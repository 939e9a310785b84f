"""The `fan` landmark backend: face-alignment's 2DFAN4 network on a crop around the tracker's box.

The weights are a file the user supplies (engine.faces.fan_weights): a state_dict for
face_alignment.models.FAN(4) (what face-alignment 1.5 downloads) or a TorchScript archive of the
network (what 1.3-1.4 downloaded). The crop, the heatmap decoding and the mapping back to the frame
are this engine's own (engine.faces.fan_crop). One forward pass per face, no flipped second pass.
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FaceModelError
from .fan_crop import CropWindow, decode_heatmaps
from .fan_weights import WEIGHTS_URL, require_fan_weights
from .landmarks import N_POINTS

log = logging.getLogger(__name__)

FAN_MODULES = 4  # 2DFAN4: four stacked hourglasses
_networks: dict[tuple[str, int, int, str], Any] = {}
_networks_lock = threading.Lock()


def _torch() -> Any:
    """The torch module, or FaceModelError saying how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise FaceModelError(f"landmarks=fan needs PyTorch ({exc}): LIPSPOOL_WAV2LIP=1 scripts/start.sh installs it "
                             "(see the README), or use landmarks=dlib") from exc
    return torch


def is_torchscript(path: str | os.PathLike[str]) -> bool:
    """True when the file is a TorchScript archive (a zip with a code/ folder), not a saved state_dict."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.startswith("code/") or "/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _fan_architecture() -> Any:
    """face-alignment's FAN class, or FaceModelError saying how to install the package."""
    try:
        from face_alignment.models import FAN
    except ImportError as exc:
        raise FaceModelError(f"a 2DFAN4 state_dict needs the face-alignment package's network definition ({exc}): "
                             "install it into .venv with `pip install --no-deps face-alignment==1.5.0 numba tqdm "
                             "scikit-image scipy` (--no-deps: its opencv-python would clash with "
                             "opencv-python-headless)") from exc
    return FAN


def _state_dict_network(path: Path, torch: Any) -> Any:
    """FAN(4) with the weights of a saved state_dict (read with weights_only: no code runs)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise FaceModelError(f"{path.name} cannot be read as a 2DFAN4 checkpoint ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:160] if str(exc) else 'no detail'}); it may be truncated: "
                             f"download it again from {WEIGHTS_URL}") from exc
    weights = obj.get("state_dict", obj) if isinstance(obj, Mapping) else obj
    if not isinstance(weights, Mapping) or not weights:
        raise FaceModelError(f"{path.name} holds no network weights (expected a dict of tensors)")
    weights = {k.removeprefix("module."): v for k, v in weights.items()}
    net = _fan_architecture()(FAN_MODULES)
    try:
        net.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise FaceModelError(f"{path.name} does not fit face-alignment's 2DFAN4 network "
                             f"({str(exc).splitlines()[0][:200]}); use {WEIGHTS_URL}") from exc
    return net


def load_fan_network(path: str | os.PathLike[str], device: str) -> Any:
    """The 2DFAN4 network from `path` on `device`, in eval mode; loaded once per process and file."""
    torch = _torch()
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, device)
    with _networks_lock:
        if key not in _networks:
            if is_torchscript(path):
                try:
                    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; loading still works
                        warnings.simplefilter("ignore", DeprecationWarning)
                        net = torch.jit.load(str(path), map_location="cpu")
                except RuntimeError as exc:
                    raise FaceModelError(f"{path.name} cannot be loaded as a TorchScript 2DFAN4 network "
                                         f"({str(exc).splitlines()[0][:160]}); download it again") from exc
            else:
                net = _state_dict_network(path, torch)
            _networks[key] = net.to(device).eval()
            log.info("loaded the 2DFAN4 landmark network from %s on %s", path, device)
        return _networks[key]


def _default_device(torch: Any) -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class FanLandmarks:
    """68 landmarks from face-alignment's 2DFAN4 (RGB crop around the box, heatmap peaks mapped back)."""

    name = "fan"
    colour = True

    def __init__(self, models_dir: str | os.PathLike[str] | None = None, device: str | None = None) -> None:
        torch = _torch()
        self.weights = require_fan_weights(models_dir)
        self.device = device or _default_device(torch)
        from ..cache import content_key

        self.tag = f"fan68-{content_key(self.weights)[:12]}"  # another weights file, another cache entry
        self._net: Any = None

    def heatmaps(self, crop: np.ndarray) -> np.ndarray:
        """The network's (68, H, W) heatmaps for one INPUT_SIZE RGB uint8 crop."""
        torch = _torch()
        if self._net is None:
            self._net = load_fan_network(self.weights, self.device)
        x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float().div_(255.0).to(self.device)
        with torch.inference_mode():
            out = self._net(x)
        if isinstance(out, (list, tuple)):
            out = out[-1]  # the last hourglass's heatmaps
        hm = out[0].float().cpu().numpy()
        if hm.ndim != 3 or hm.shape[0] != N_POINTS:
            raise FaceModelError(f"{self.weights.name} gives output of shape {tuple(out.shape)}, expected "
                                 f"(1, {N_POINTS}, H, W): it is not a 68-point 2D FAN")
        if not np.isfinite(hm).all():
            raise FaceModelError(f"{self.weights.name} gives non-finite heatmaps: the file is damaged; "
                                 "download it again")
        return hm

    def points_in_box(self, image: np.ndarray, box: Any) -> np.ndarray:
        """(68, 2) float32 landmarks in frame pixels for the face in box (x0, y0, x1, y1) of an RGB frame."""
        window = CropWindow.around(box)
        hm = self.heatmaps(window.cut(image))
        return window.to_frame(decode_heatmaps(hm), hm.shape[-1]).astype(np.float32)
