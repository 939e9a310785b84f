"""The fallback for templates with too little mouth variety (a photo, a presenter whose mouth stays
shut): the frame's own lower face is warped by its landmarks (the lower lip and chin drop, the
corners move with the predicted width) and the opening between the lips is painted dark, shaded
from the lips' own colour. It moves convincingly at speech distance; up close it shows no teeth
or tongue, which only real mouths in the template can give.
"""
from __future__ import annotations

import cv2
import numpy as np

from ...composite import _composite_crop, _roi
from ...media.yuv import align_region, edit_region
from .shape import face_axes

MAX_GAP = 0.13  # inner-lip gap at full opening, in outer-eye-corner distances
MAX_WIDEN = 0.04  # corner movement at full width change, each side
# share of the opening each point moves down: inner lower lip, outer lower lip, chin and jaw
DROP = {66: 1.0, 65: 0.95, 67: 0.95, 57: 0.95, 56: 0.85, 58: 0.85, 55: 0.6, 59: 0.6,
        8: 0.55, 7: 0.45, 9: 0.45, 6: 0.3, 10: 0.3, 5: 0.12, 11: 0.12}
LIFT = {62: 0.08, 61: 0.05, 63: 0.05}
LOWER_INNER = [65, 66, 67]  # right to left along the lower inner lip


def fallback_points(points: np.ndarray, open_rel: float, width_rel: float) -> np.ndarray:
    """The frame's landmarks with the mouth opened by open_rel (0..1) and widened by width_rel (-1..1)."""
    u, down, iod = face_axes(points)
    out = np.array(points, np.float64, copy=True)
    gap = MAX_GAP * iod * float(np.clip(open_rel, 0.0, 1.2))
    for i, share in DROP.items():
        out[i] += down * gap * share
    for i, share in LIFT.items():
        out[i] -= down * gap * share
    widen = MAX_WIDEN * iod * float(np.clip(width_rel, -1.0, 1.0))
    for i, sign in ((48, -1), (60, -1), (54, 1), (64, 1)):
        out[i] += u * widen * sign
    return out.astype(np.float32)


def opened_gap(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The polygon the warp opened: between the lower inner lip where it was and where it went."""
    before = [points[64]] + [points[i] for i in LOWER_INNER] + [points[60]]
    after = [target[i] for i in reversed(LOWER_INNER)]
    return np.array(before + after, np.float32)


def paint_interior(crop: np.ndarray, gap: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """Darken the newly opened gap between the lips (polygon in frame coordinates), soft-edged."""
    poly = np.asarray(gap, np.float32) - np.array(offset, np.float32)
    mask = np.zeros(crop.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    if mask.sum() < 2:
        return crop
    size = max(0.7, float(np.ptp(poly[:, 1])) / 10.0)
    mask = cv2.GaussianBlur(mask, (0, 0), size)[..., None]
    # a mouth interior is dark red-brown; scale it with the face's own brightness
    brightness = float(crop.mean()) / 150.0
    shade = np.array([72.0, 26.0, 30.0]) * np.clip(brightness, 0.4, 1.3)
    out = crop.astype(np.float32) * (1.0 - mask) + shade * mask
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _edit(crop: np.ndarray, roi: tuple[int, int, int, int], points: np.ndarray, target: np.ndarray) -> np.ndarray:
    shift = np.array(roi[:2], np.float32)
    local = (0, 0, roi[2] - roi[0], roi[3] - roi[1])
    warped = _composite_crop(crop, local, target - shift, crop.copy(), np.asarray(points, np.float32) - shift, None)
    return paint_interior(warped, opened_gap(np.asarray(points, np.float32), target), roi[:2])


def fallback_rgb(frame: np.ndarray, points: np.ndarray, open_rel: float, width_rel: float) -> np.ndarray:
    """An RGB frame with its own mouth warped open by open_rel."""
    target = fallback_points(points, open_rel, width_rel)
    x0, y0, x1, y1 = roi = _roi(target, frame.shape)
    out = frame.copy()
    if x1 - x0 >= 4 and y1 - y0 >= 4:
        out[y0:y1, x0:x1] = _edit(frame[y0:y1, x0:x1], roi, points, target)
    return out


def fallback_frame(frame, points: np.ndarray, open_rel: float, width_rel: float):  # noqa: ANN001, ANN201
    """The same on a decoded yuv420p av.VideoFrame (only the lower face is converted)."""
    target = fallback_points(points, open_rel, width_rel)
    roi = align_region(_roi(target, (frame.height, frame.width)), frame.width, frame.height)
    if roi[2] - roi[0] < 4 or roi[3] - roi[1] < 4:
        return frame
    return edit_region(frame, roi, lambda crop: _edit(crop, roi, points, target))
