"""68-point face landmarks with dlib: HOG face detection on a reduced copy, landmarks at full size."""
from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import FaceModelError

log = logging.getLogger(__name__)

N_POINTS = 68
THOROUGH_WIDTH = 1280  # a 80 px HOG window at this width finds faces ~6% of the frame wide
_models: dict[str, Any] = {}
_models_lock = threading.Lock()


@dataclass
class Face:
    """One detected face: box (x0, y0, x1, y1), 68 landmarks (x, y) in image pixels, detector score."""

    box: np.ndarray  # (4,) float32
    points: np.ndarray  # (68, 2) float32, dlib/iBUG 68-point order
    score: float

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


def landmark_model_path() -> str:
    """The 68-point model file inside the installed face_recognition_models package.

    Found without importing the package: its __init__ needs pkg_resources, which setuptools 81
    and newer (pulled in by torch) no longer ship.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "models" / "shape_predictor_68_face_landmarks.dat"
        if path.is_file():
            return str(path)
    raise FaceModelError("face tracking needs the face_recognition_models package (its 68-point landmark model); "
                         "install the engine requirements")


def _load_models() -> tuple[Any, Any]:
    """The process-wide dlib face detector and 68-point shape predictor, loaded once."""
    with _models_lock:
        if "detector" not in _models:
            try:
                import dlib
            except ImportError as exc:
                raise FaceModelError(f"face tracking needs dlib ({exc}); install the engine requirements") from exc
            path = landmark_model_path()
            try:
                predictor = dlib.shape_predictor(path)
            except RuntimeError as exc:
                raise FaceModelError(f"cannot load the 68-point landmark model {path}: {exc}; "
                                     "reinstall face_recognition_models") from exc
            _models["dlib"] = dlib
            _models["predictor"] = predictor
            _models["detector"] = dlib.get_frontal_face_detector()
            log.debug("loaded dlib face detector and shape predictor from %s", path)
    return _models["detector"], _models["predictor"]


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """A uint8 grayscale (BT.601 luma) version of an RGB image; a gray image is returned as is."""
    if rgb.ndim == 2:
        return rgb if rgb.dtype == np.uint8 else rgb.astype(np.uint8)
    try:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # takes padded rows without a copy
    except cv2.error:
        return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


class LandmarkDetector:
    """Finds faces (HOG, on a copy at most `detect_width` wide) and fits 68 landmarks at full size."""

    def __init__(self, upsample: int = 0, detect_width: int = 480) -> None:
        self.upsample = int(upsample)
        self.detect_width = int(detect_width)
        self._detector, self._predictor = _load_models()
        self._dlib = _models["dlib"]

    def detect_boxes(self, rgb: np.ndarray, detect_width: int | None = None,
                     upsample: int | None = None, enlarge: bool = False,
                     threshold: float = 0.0) -> list[tuple[np.ndarray, float]]:
        """Face boxes (full-image pixels, float32) with detector scores, largest first.

        The image is reduced to `detect_width` (default: the detector's) when wider; with
        `enlarge` a narrower one is also enlarged to it (finds faces under the 80 px HOG window).
        `threshold` shifts the detector's decision value (negative: more lenient).
        """
        gray = to_gray(rgb)
        h, w = gray.shape
        target = self.detect_width if detect_width is None else int(detect_width)
        scale = 1.0
        small = gray
        if target > 0 and (w > target or (enlarge and w < target)):
            scale = target / w
            small = cv2.resize(gray, (target, max(1, int(round(h * scale)))),
                               interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        up = self.upsample if upsample is None else int(upsample)
        rects, scores, _ = self._detector.run(small, up, float(threshold))
        found = []
        for r, s in zip(rects, scores):
            box = np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], np.float32) / scale
            found.append((box, float(s)))
        found.sort(key=lambda bs: -float((bs[0][2] - bs[0][0]) * (bs[0][3] - bs[0][1])))
        return found

    def landmarks_in_box(self, rgb: np.ndarray, box: Any) -> np.ndarray:
        """The (68, 2) float32 landmarks fitted inside a known box (x0, y0, x1, y1); no detection.

        Colour images are fitted on their grayscale (BT.601 luma), as `detect` does.
        """
        x0, y0, x1, y1 = (int(round(float(v))) for v in np.asarray(box, np.float64).reshape(4))
        gray = to_gray(rgb)
        h, w = gray.shape
        # fit on a crop around the box: the cost no longer grows with the frame size
        m = max(8, (x1 - x0 + y1 - y0) // 2)
        cx0, cy0 = min(max(0, x0 - m), w - 1), min(max(0, y0 - m), h - 1)
        cx1, cy1 = max(cx0 + 1, min(w, x1 + m)), max(cy0 + 1, min(h, y1 + m))
        crop = np.ascontiguousarray(gray[cy0:cy1, cx0:cx1])
        rect = self._dlib.rectangle(x0 - cx0, y0 - cy0, x1 - cx0 - 1, y1 - cy0 - 1)
        shape = self._predictor(crop, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
        pts += np.array([cx0, cy0], np.float32)
        return pts

    def detect(self, rgb: np.ndarray, thorough: bool = True) -> list[Face]:
        """All faces with their landmarks, largest first (detection on a reduced copy).

        When the reduced copy shows no face and `thorough` is set, small faces are looked for
        once more on a copy THOROUGH_WIDTH wide (slower; finds faces down to ~6% of the width).
        """
        gray = to_gray(rgb)
        found = self.detect_boxes(gray)
        if not found and thorough:
            found = self.detect_boxes(gray, detect_width=THOROUGH_WIDTH, enlarge=True)
        return [Face(box, self.landmarks_in_box(gray, box), score) for box, score in found]


_shared: LandmarkDetector | None = None
_shared_lock = threading.Lock()


def shared_detector() -> LandmarkDetector:
    """The process-wide default LandmarkDetector, created on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LandmarkDetector()
    return _shared


def detect_faces(rgb: np.ndarray) -> list[Face]:
    """All faces in an RGB image with 68 landmarks each, largest first (shared default detector)."""
    return shared_detector().detect(rgb)
