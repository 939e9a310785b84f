"""Frame-by-frame following of one face: landmarks every frame, detection only when needed."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import BoxModel, box_center, box_size, iou
from .landmark_backends import DlibLandmarks, LandmarkBackend
from .landmarks import THOROUGH_WIDTH, LandmarkDetector

log = logging.getLogger(__name__)


@dataclass
class TrackerSettings:
    """When the tracker re-detects, and how it keeps to one face."""

    check_every: int = 5  # frames between detector confirmations of a followed face
    roi_face_px: int = 110  # face box size the confirmation crop is scaled to (HOG window is 80)
    roi_margin: float = 0.7  # crop margin around the box, in box sizes
    jump: float = 0.25  # centre move (in box sizes) or scale change that forces a check
    keep_iou: float = 0.3  # a detection overlapping this much is the same face
    refit_iou: float = 0.6  # below this overlap the landmarks are refitted from the detection
    hold_s: float = 0.5  # after losing the face, only the same place counts as the same face
    thorough_every_s: float = 0.5  # while no face is followed, look for small faces this often
    confirm_threshold: float = -0.4  # detector threshold when confirming a followed face (lenient)
    min_rel_score: float = 0.3  # at acquisition, ignore detections far weaker than the best


@dataclass
class Step:
    """What the tracker found in one frame (box and points None when no face is followed)."""

    box: np.ndarray | None
    points: np.ndarray | None
    detected: bool = False  # a detector ran in this frame


class FaceTracker:
    """Follows the chosen face through a shot; call `step` once per frame, `cut` on a new shot.

    Boxes come from `detector` (dlib's HOG); the landmarks in them from `landmarks` (default: dlib's).
    """

    def __init__(self, detector: LandmarkDetector, fps: float, settings: TrackerSettings | None = None,
                 landmarks: LandmarkBackend | None = None) -> None:
        self.det = detector
        self.landmarks = landmarks if landmarks is not None else DlibLandmarks(detector)
        self._rgb: np.ndarray | None = None  # this frame in colour, for a backend that wants it
        self.fps = float(fps)
        self.cfg = settings or TrackerSettings()
        self.boxes = BoxModel()
        self.points: np.ndarray | None = None
        self.velocity = np.zeros(2)
        self.since_check = 0
        self.lost_box: np.ndarray | None = None
        self.lost_for = 0
        self.detections = 0
        self.after_cut = True

    def cut(self) -> None:
        """Forget the followed face (a new shot starts)."""
        self.points, self.lost_box, self.velocity = None, None, np.zeros(2)
        self.boxes = BoxModel()
        self.after_cut = True

    def _lose(self) -> None:
        if self.points is not None:
            self.lost_box = self.boxes.box_for(self.points)
            self.lost_for = 0
        self.points, self.velocity = None, np.zeros(2)

    def _fit(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        colour = self.landmarks.colour and self._rgb is not None
        return self.landmarks.points_in_box(self._rgb if colour else gray, box)

    def _start(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        pts = self._fit(gray, box)
        self.boxes.learn(pts, box, 1.0)
        self.points, self.velocity, self.since_check, self.lost_box = pts, np.zeros(2), 0, None
        return pts

    def _roi_detect(self, gray: np.ndarray, box: np.ndarray) -> list[np.ndarray]:
        """Detector boxes (full-image pixels) in a crop around `box`, scaled so a face is ~roi_face_px."""
        size = box_size(box)
        m = self.cfg.roi_margin * size
        h, w = gray.shape
        x0, y0 = int(max(0, box[0] - m)), int(max(0, box[1] - m))
        x1, y1 = int(min(w, box[2] + m)), int(min(h, box[3] + m))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        scale = self.cfg.roi_face_px / size
        crop = gray[y0:y1, x0:x1]
        small = cv2.resize(crop, (max(1, int((x1 - x0) * scale)), max(1, int((y1 - y0) * scale))),
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        self.detections += 1
        found = self.det.detect_boxes(small, detect_width=0, upsample=0, threshold=self.cfg.confirm_threshold)
        return [b / scale + np.array([x0, y0, x0, y0], np.float32) for b, _ in found]

    def _acquire(self, gray: np.ndarray, thorough: bool) -> Step:
        """Look for a face to follow in the whole frame."""
        self.detections += 1
        found = self.det.detect_boxes(gray)
        if not found and thorough:
            found = self.det.detect_boxes(gray, detect_width=THOROUGH_WIDTH, enlarge=True)
        if not found:
            return Step(None, None, True)
        if self.lost_box is not None and self.lost_for <= self.cfg.hold_s * self.fps:
            same = [b for b, _ in found if iou(b, self.lost_box) >= self.cfg.keep_iou]
            if not same:
                return Step(None, None, True)
            box = max(same, key=lambda b: iou(b, self.lost_box))
        else:
            best = max(s for _, s in found)
            box = next(b for b, s in found if s >= best - abs(best) * (1 - self.cfg.min_rel_score))
        return Step(box, self._start(gray, box), True)

    def step(self, gray: np.ndarray, frame_index: int, rgb: np.ndarray | None = None) -> Step:
        """Landmarks of the followed face in this frame, or an empty Step when there is none.

        Pass the colour frame as `rgb` too when the landmark backend wants colour (FAN does).
        """
        self._rgb = rgb
        if self.points is None:
            self.lost_for += 1
            thorough = frame_index % max(1, int(round(self.cfg.thorough_every_s * self.fps))) == 0
            first, self.after_cut = self.after_cut, False
            return self._acquire(gray, thorough or first)
        prev = self.points
        prev_box = self.boxes.box_for(prev)
        guess = self.boxes.box_for(prev, self.velocity)
        pts = self._fit(gray, guess)
        box = self.boxes.box_for(pts)
        size = box_size(prev_box)
        move = box_center(box) - box_center(prev_box)
        jumped = (np.linalg.norm(move) > self.cfg.jump * size
                  or abs(np.log(box_size(box) / size)) > self.cfg.jump)
        self.since_check += 1
        detected = False
        if jumped or self.since_check >= self.cfg.check_every:
            detected = True
            same = [b for b in self._roi_detect(gray, box) if iou(b, box) >= self.cfg.keep_iou]
            if not same:
                small = box_size(box) * self.det.detect_width < 90 * gray.shape[1]
                step = self._acquire(gray, small)
                if step.box is None or iou(step.box, box) < self.cfg.keep_iou:
                    self._lose()
                    return Step(None, None, True)
                same = [step.box]
            det = max(same, key=lambda b: iou(b, box))
            if iou(det, box) < self.cfg.refit_iou:
                pts = self._fit(gray, det)
            self.boxes.learn(pts, det, 0.3)
            box = self.boxes.box_for(pts)
            self.since_check = 0
        self.velocity = box_center(box) - box_center(prev_box)
        self.points = pts
        return Step(box, pts, detected)
