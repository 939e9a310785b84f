"""Small geometry helpers for 68-point faces: boxes, overlap, a landmark-anchored box frame."""
from __future__ import annotations

import numpy as np

ANCHOR = np.arange(17, 48)  # brows, nose and eyes: move with the head, not with speech
LEFT_EYE, RIGHT_EYE = np.arange(36, 42), np.arange(42, 48)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def box_size(box: np.ndarray) -> float:
    """Geometric mean of a box's width and height."""
    return float(np.sqrt(max(1e-6, (box[2] - box[0]) * (box[3] - box[1]))))


def box_center(box: np.ndarray) -> np.ndarray:
    """Centre (x, y) of a box."""
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float64)


def interocular(points: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners (36, 45) per face; works on (68,2) or (n,68,2)."""
    return np.linalg.norm(points[..., 45, :] - points[..., 36, :], axis=-1)


def frame_of(points: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The face's own frame from its anchor points: centre, scale (RMS radius) and 2x2 rotation."""
    anchor = points[ANCHOR].astype(np.float64)
    centre = anchor.mean(axis=0)
    scale = float(np.sqrt(((anchor - centre) ** 2).sum(axis=1).mean()))
    eye = points[RIGHT_EYE].mean(axis=0) - points[LEFT_EYE].mean(axis=0)
    angle = float(np.arctan2(eye[1], eye[0]))
    c, s = np.cos(angle), np.sin(angle)
    return centre, max(scale, 1e-3), np.array([[c, -s], [s, c]])


class BoxModel:
    """Where the face detector would put its box, given landmarks (learnt from real detections).

    The shape predictor was trained on detector boxes, so feeding it boxes in the same
    convention keeps the fit accurate when it is run from the previous frame's landmarks.
    """

    def __init__(self) -> None:
        self.offset = np.array([0.0, 0.25])  # box centre relative to the anchor centre, in scales
        self.half = np.array([1.6, 1.6])  # half width, half height, in scales
        self.calibrated = False

    def learn(self, points: np.ndarray, box: np.ndarray, weight: float = 1.0) -> None:
        """Update the relation from a detector box and the landmarks fitted in it."""
        centre, scale, rot = frame_of(points)
        offset = rot.T @ (box_center(box) - centre) / scale
        half = np.array([box[2] - box[0], box[3] - box[1]]) / 2 / scale
        w = 1.0 if not self.calibrated else weight
        self.offset += w * (offset - self.offset)
        self.half += w * (half - self.half)
        self.calibrated = True

    def box_for(self, points: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
        """The detector-style box (float32 x0, y0, x1, y1) for these landmarks, moved by `shift`."""
        centre, scale, rot = frame_of(points)
        c = centre + rot @ (self.offset * scale)
        if shift is not None:
            c = c + shift
        h = self.half * scale
        return np.array([c[0] - h[0], c[1] - h[1], c[0] + h[0], c[1] + h[1]], np.float32)


def face_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(across, down) unit vectors of the face in the image, from its outer eye corners (36, 45),
    and the distance between those corners in pixels (the face's scale)."""
    axis = points[45].astype(np.float64) - points[36]
    iod = float(np.linalg.norm(axis)) or 1.0
    u = axis / iod
    return u, np.array([-u[1], u[0]]), iod


def head_pose(points: np.ndarray) -> np.ndarray:
    """(roll, yaw, pitch) proxies from image points: eye-line angle (radians), and the nose tip's
    offset from the eyes' midpoint across and along the face, in eye-corner distances."""
    u, v, iod = face_axes(points)
    rel = points[30].astype(np.float64) - (points[36].astype(np.float64) + points[45]) / 2
    return np.array([np.arctan2(u[1], u[0]), float(rel @ u) / iod, float(rel @ v) / iod])
