"""Turn PyAV/OS failures into one-line MediaError messages that name the file."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import MediaError


def describe(exc: BaseException) -> str:
    """A short, single-line reason for an exception raised while opening or decoding media."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "it is a folder, not a file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    reason = " ".join(str(reason).split())
    if "Invalid data found" in reason:
        reason = "not a media file or corrupt (invalid data found when processing input)"
    return reason[:300]


def media_error(kind: str, path: str | os.PathLike[str], reason: str | BaseException) -> MediaError:
    """Build MediaError("cannot read <kind> '<name>': <reason>") for an input file."""
    if isinstance(reason, BaseException):
        reason = describe(reason)
    return MediaError(f"cannot read {kind} '{Path(path).name}': {reason}")
