"""Face landmarks and tracking. Importing this package is light: dlib loads on first use."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names
from .errors import FaceModelError, FanWeightsMissing, NoFaceError

_LAZY = {
    "Face": "landmarks",
    "LandmarkDetector": "landmarks",
    "detect_faces": "landmarks",
    "FaceTrack": "track",
    "track_video": "track",
    "compute_track": "track",
    "LandmarkBackend": "landmark_backends",
    "landmark_backend": "landmark_backends",
    "LANDMARK_BACKENDS": "landmark_backends",
}

if TYPE_CHECKING:
    from .landmark_backends import LANDMARK_BACKENDS, LandmarkBackend, landmark_backend
    from .landmarks import Face, LandmarkDetector, detect_faces
    from .track import FaceTrack, compute_track, track_video

__all__ = ["LANDMARK_BACKENDS", "Face", "FaceModelError", "FaceTrack", "FanWeightsMissing", "LandmarkBackend",
           "LandmarkDetector", "NoFaceError", "compute_track", "detect_faces", "landmark_backend", "track_video"]


__getattr__ = lazy_names(__name__, globals(), _LAZY)
