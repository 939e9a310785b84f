"""Mouth shape and head pose descriptors of 68-point landmarks, in canonical face units."""
from __future__ import annotations

import numpy as np

from ...faces.canonical import apply_affine, canonical_transform, inner_lip_gap, mouth_corner_width
from ...faces.geometry import face_axes, head_pose

__all__ = ["canonical", "face_axes", "head_pose", "mouth_shape"]

OUTER_LIPS = list(range(48, 60))


def canonical(points: np.ndarray) -> np.ndarray:
    """One frame's (68, 2) points in canonical face units (eyes and nose aligned)."""
    return apply_affine(canonical_transform(points), points)


def mouth_shape(canon: np.ndarray) -> np.ndarray:
    """(opening, width) of canonical points: mean inner-lip gap and the corner-to-corner distance."""
    return np.array([float(inner_lip_gap(canon)), float(mouth_corner_width(canon))])
