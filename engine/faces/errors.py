"""Exceptions of face tracking; each message says what to do."""
from __future__ import annotations

from ..errors import EngineError


class NoFaceError(EngineError):
    """The video has no face the tracker could find in any frame."""


class FaceModelError(EngineError):
    """The landmark model could not be loaded (missing package or damaged model file)."""


class FanWeightsMissing(FaceModelError):
    """The `fan` landmark backend found no 2DFAN4 weights file; the message says which file goes where."""
