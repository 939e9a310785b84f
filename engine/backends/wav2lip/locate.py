"""Where a Wav2Lip checkpoint comes from (light: no torch, for the daemon and the dashboard)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

OFFICIAL_NAMES = ("wav2lip_gan.pth", "wav2lip.pth")
MODELS_ENV = "LIPSPOOL_MODELS"
WHERE_FROM = ("the official Wav2Lip repository's README links wav2lip.pth and wav2lip_gan.pth "
              "(research and personal use only; no commercial use)")


def torch_installed() -> bool:
    """True when PyTorch can be imported (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def models_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The models folder: the argument, else $LIPSPOOL_MODELS, else none."""
    chosen = explicit or os.environ.get(MODELS_ENV)
    return Path(chosen).expanduser() if chosen else None


def list_checkpoints(folder: str | os.PathLike[str] | None) -> list[Path]:
    """Every *.pth / *.pt file directly in `folder`, official names first."""
    if not folder or not Path(folder).is_dir():
        return []
    found = [p for p in Path(folder).iterdir() if p.suffix in (".pth", ".pt") and p.is_file()]
    return sorted(found, key=lambda p: (p.name not in OFFICIAL_NAMES, OFFICIAL_NAMES.index(p.name)
                                        if p.name in OFFICIAL_NAMES else 0, p.name))


def find_checkpoint(folder: str | os.PathLike[str] | None) -> Path | None:
    """The checkpoint a job uses by default: wav2lip_gan.pth, else wav2lip.pth, else the only file there."""
    found = list_checkpoints(folder)
    if found and (found[0].name in OFFICIAL_NAMES or len(found) == 1):
        return found[0]
    return None


def resolve_checkpoint(option: str | None, folder: str | os.PathLike[str] | None) -> Path | None:
    """The `checkpoint` option as a path: absolute or ~, else a name inside the models folder; default as above."""
    if option:
        path = Path(str(option)).expanduser()
        if not path.is_absolute() and folder is not None and not path.exists():
            path = Path(folder) / path
        return path
    return find_checkpoint(folder)
