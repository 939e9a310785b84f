"""write_thumbnail(): a small JPEG of a frame about a third into a video, written atomically."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from PIL import Image

from .errors import EngineError
from .media.probe import probe
from .media.read import read_frame_at

_umask = os.umask(0)
os.umask(_umask)
_FILE_MODE = 0o666 & ~_umask


def write_thumbnail(video: str | os.PathLike[str], out_image: str | os.PathLike[str],
                    max_side: int = 320) -> Path:
    """Write a JPEG (longest side <= max_side) of the frame near 1/3 of `video`; returns its path."""
    out_image = Path(out_image)
    info = probe(video, "video")
    rgb = read_frame_at(video, info.duration_s / 3.0 if not info.is_image else 0.0)
    img = Image.fromarray(rgb)
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out_image.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_image.name}.", suffix=".tmp", dir=out_image.parent)
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; a thumbnail is as public as the video
        with os.fdopen(fd, "wb") as fh:
            img.save(fh, format="JPEG", quality=85)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_image)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise EngineError(f"cannot write thumbnail '{out_image.name}': {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return out_image
