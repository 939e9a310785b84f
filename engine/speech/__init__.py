"""Speech to mouth shape: per output frame, how open, how wide and how round the mouth should be.

Public names: `MouthCurves` (the per-frame prediction), `predict_mouth` (audio -> curves with a
named front end), `FRONT_ENDS` (their names) and `PresenterSample` (what a presenter-fitted
front end learns from: the template's own speech and tracked mouth). Importing the package is
light (`names` is read by option declarations); NumPy loads with the first of these names.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

_LAZY = {"MouthCurves": "curves", "PresenterSample": "curves", "DEFAULT_FRONT_END": "frontend",
         "FRONT_ENDS": "frontend", "predict_mouth": "frontend"}

if TYPE_CHECKING:
    from .curves import MouthCurves, PresenterSample
    from .frontend import DEFAULT_FRONT_END, FRONT_ENDS, predict_mouth

__all__ = ["DEFAULT_FRONT_END", "FRONT_ENDS", "MouthCurves", "PresenterSample", "predict_mouth"]


__getattr__ = lazy_names(__name__, globals(), _LAZY)
