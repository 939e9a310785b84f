"""Where the fan landmark backend finds its 2DFAN4 weights: the models folder, then torch's hub cache.

Nothing is ever downloaded: a missing file is a FanWeightsMissing error that says which file to
put where. Light to import (torch is imported only to ask for its hub folder).
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import FanWeightsMissing

# face-alignment 1.5 downloads a state_dict for its FAN(4) under the first name; versions 1.3-1.4
# downloaded a TorchScript archive of the same network under the second. Either one works.
WEIGHT_NAMES = ("2DFAN4-11f355bf06.pth.tar", "2DFAN4-cd938726ad.zip")
WEIGHTS_URL = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar"
MODELS_ENV = "LIPSPOOL_MODELS"  # the same variable the wav2lip backend reads; the daemon passes <root>/models


def hub_checkpoints() -> Path | None:
    """torch's hub cache folder for checkpoints (where face-alignment itself stores them), or None without torch."""
    try:
        from torch.hub import get_dir
    except ImportError:
        return None
    return Path(get_dir()) / "checkpoints"


def search_folders(models_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders looked in, in order: `models_dir` (else $LIPSPOOL_MODELS), then torch's hub checkpoints."""
    chosen = models_dir or os.environ.get(MODELS_ENV)
    folders = [Path(chosen).expanduser()] if chosen else []
    hub = hub_checkpoints()
    if hub is not None:
        folders.append(hub)
    return folders


def locate_fan_weights(models_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The first weights file found (WEIGHT_NAMES in each folder of search_folders), or None."""
    for folder in search_folders(models_dir):
        for name in WEIGHT_NAMES:
            path = folder / name
            if path.is_file():
                return path
    return None


def require_fan_weights(models_dir: str | os.PathLike[str] | None = None) -> Path:
    """The weights file to use; FanWeightsMissing, saying what to put where, when there is none."""
    path = locate_fan_weights(models_dir)
    if path is not None:
        return path
    folders = search_folders(models_dir)
    looked = ", ".join(str(f) for f in folders) or "(no models folder is set and PyTorch is not installed)"
    target = str(folders[0]) if folders and (models_dir or os.environ.get(MODELS_ENV)) else "<root>/models"
    raise FanWeightsMissing(
        f"landmarks=fan needs face-alignment's 2DFAN4 weights and none were found (looked for "
        f"{' or '.join(WEIGHT_NAMES)} in {looked}); nothing is downloaded: on a machine with internet access "
        f"download {WEIGHTS_URL} and put it in {target}, or use landmarks=dlib (see the README on its licence)")
