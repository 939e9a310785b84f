"""Speech to mouth shape: per output frame, how open, how wide and how round the mouth should be.

Public names: `MouthCurves` (the per-frame prediction), `predict_mouth` (audio -> curves with a
named front end), `FRONT_ENDS` (their names) and `PresenterSample` (what a presenter-fitted
front end learns from: the template's own speech and tracked mouth).
"""
from .curves import MouthCurves, PresenterSample
from .frontend import DEFAULT_FRONT_END, FRONT_ENDS, predict_mouth

__all__ = ["DEFAULT_FRONT_END", "FRONT_ENDS", "MouthCurves", "PresenterSample", "predict_mouth"]
