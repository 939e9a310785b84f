"""The landmark backends behind one small interface, and the one place that chooses them by name.

A backend fits the 68 iBUG points to a face inside a box the tracker found (the boxes always come
from dlib's detector). `dlib` is the default and needs nothing beyond the engine requirements;
`fan` (face-alignment's 2DFAN4) needs PyTorch and a weights file the user supplies (engine.faces.fan).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidOptions

if TYPE_CHECKING:
    from .landmarks import LandmarkDetector

LANDMARK_BACKENDS = ("dlib", "fan")
DEFAULT_LANDMARKS = "dlib"
DLIB_TAG = "dlib68"  # the dlib backend's cache tag (face tracks cached before backends existed carry it)


@runtime_checkable
class LandmarkBackend(Protocol):
    """Fits 68 landmarks to the face inside a known box of a frame."""

    name: str  # the name the chooser takes: "dlib", "fan"
    tag: str  # names backend and model in cache entries (a new model gives a new tag)
    colour: bool  # True: give it the RGB frame; False: the grayscale one is enough

    def points_in_box(self, image: np.ndarray, box: Any) -> np.ndarray:
        """(68, 2) float32 landmarks (x, y) in image pixels for the face in box (x0, y0, x1, y1)."""
        ...


class DlibLandmarks:
    """dlib's 68-point shape predictor (today's landmarks, unchanged); loads dlib on first use."""

    name = "dlib"
    tag = DLIB_TAG
    colour = False

    def __init__(self, detector: LandmarkDetector | None = None) -> None:
        self._detector = detector

    def points_in_box(self, image: np.ndarray, box: Any) -> np.ndarray:
        """The shape predictor's fit inside `box` (colour images are fitted on their luma)."""
        if self._detector is None:
            from .landmarks import LandmarkDetector

            self._detector = LandmarkDetector()
        return self._detector.landmarks_in_box(image, box)


def landmark_backend(name: str | LandmarkBackend = DEFAULT_LANDMARKS, *, detector: LandmarkDetector | None = None,
                     models_dir: str | None = None) -> LandmarkBackend:
    """The backend called `name` ("dlib" or "fan"); a backend object is returned as it is.

    `detector` lets the dlib backend share a tracker's detector; `models_dir` is where the fan
    backend looks for its weights first. InvalidOptions for an unknown name; for `fan`,
    FanWeightsMissing (a FaceModelError) when no weights file is found. Nothing is downloaded.
    """
    if not isinstance(name, str):
        return name
    key = name.strip().lower()
    if key == "dlib":
        return DlibLandmarks(detector)
    if key == "fan":
        from .fan import FanLandmarks

        return FanLandmarks(models_dir)
    raise InvalidOptions(f"landmarks must be one of {', '.join(LANDMARK_BACKENDS)}, got {name!r}")
