"""Speech to mouth shape: per output frame, how open, how wide and how round the mouth should be.

Public names: `MouthCurves` (the per-frame prediction), `predict_mouth` (audio -> curves with a
named front end), `FRONT_ENDS` (their names) and `PresenterSample` (what a presenter-fitted
front end learns from: the template's own speech and tracked mouth). Importing the package is
light (`names` is read by option declarations); NumPy loads with the first of these names.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY = {"MouthCurves": "curves", "PresenterSample": "curves", "DEFAULT_FRONT_END": "frontend",
         "FRONT_ENDS": "frontend", "predict_mouth": "frontend"}

if TYPE_CHECKING:
    from .curves import MouthCurves, PresenterSample
    from .frontend import DEFAULT_FRONT_END, FRONT_ENDS, predict_mouth

__all__ = ["DEFAULT_FRONT_END", "FRONT_ENDS", "MouthCurves", "PresenterSample", "predict_mouth"]


def __getattr__(name: str) -> Any:
    """Load the module that defines `name` on first access."""
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
