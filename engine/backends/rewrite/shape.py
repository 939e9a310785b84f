"""Mouth shape and head pose descriptors of 68-point landmarks, in canonical face units."""
from __future__ import annotations

import numpy as np

from ...faces.canonical import apply_affine, canonical_transform, inner_lip_gap, mouth_corner_width

OUTER_LIPS = list(range(48, 60))


def canonical(points: np.ndarray) -> np.ndarray:
    """One frame's (68, 2) points in canonical face units (eyes and nose aligned)."""
    return apply_affine(canonical_transform(points), points)


def mouth_shape(canon: np.ndarray) -> np.ndarray:
    """(opening, width) of canonical points: mean inner-lip gap and the corner-to-corner distance."""
    return np.array([float(inner_lip_gap(canon)), float(mouth_corner_width(canon))])


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
