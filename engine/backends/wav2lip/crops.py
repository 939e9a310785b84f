"""The face square Wav2Lip sees, from the engine's own landmarks (no extra face detector).

Wav2Lip was trained on S3FD face boxes: roughly the jaw's width, from a little above the brows
down to the chin, and the official inference adds 10 px below (its default pads). We draw that
box round the tracked 68 landmarks instead, so no detector weights are needed, and reproduce the
crop itself as the original does: the box resized to 96x96 with bilinear interpolation, in BGR.
"""
from __future__ import annotations

import cv2
import numpy as np

from .model import FACE_SIZE

JAW = slice(0, 17)
BROWS = slice(17, 27)
CHIN = 8
ABOVE_BROWS = 0.12  # share of the brow-to-chin height added above the brows (S3FD boxes include the forehead's base)
BELOW_CHIN = 0.05  # share of the box width added below the chin (the official 10 px pad on a ~200 px face)


def face_box(points: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The (x0, y0, x1, y1) integer face box for one frame's 68 landmarks, inside a width x height frame."""
    pts = np.asarray(points, np.float64)
    x0, x1 = pts[JAW, 0].min(), pts[JAW, 0].max()
    top, chin = pts[BROWS, 1].min(), pts[CHIN, 1]
    y0 = top - ABOVE_BROWS * (chin - top)
    y1 = chin + BELOW_CHIN * (x1 - x0)
    box = (int(max(0, np.floor(x0))), int(max(0, np.floor(y0))), int(min(width, np.ceil(x1))),
           int(min(height, np.ceil(y1))))
    if box[2] - box[0] < 8 or box[3] - box[1] < 8:
        raise ValueError("the face box is smaller than 8 pixels")
    return box


def face_input(crop_rgb: np.ndarray) -> np.ndarray:
    """A box crop (RGB, any size) as the model's 96x96 BGR uint8 face, resized bilinearly."""
    face = cv2.resize(crop_rgb, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(face[..., ::-1])


def model_batch(faces_bgr: np.ndarray) -> np.ndarray:
    """(B, 96, 96, 3) BGR uint8 crops as the (B, 6, 96, 96) float32 input: lower half zeroed, then the reference."""
    masked = faces_bgr.copy()
    masked[:, FACE_SIZE // 2:] = 0
    both = np.concatenate([masked, faces_bgr], axis=3).astype(np.float32) / 255.0
    return np.ascontiguousarray(both.transpose(0, 3, 1, 2))


def output_faces(pred: np.ndarray) -> np.ndarray:
    """The model's (B, 3, 96, 96) output in 0..1 as (B, 96, 96, 3) RGB uint8 (scaled by 255 and truncated, as the
    original)."""
    bgr = (pred.transpose(0, 2, 3, 1) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(bgr[..., ::-1])


def paste_patch(face_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A generated 96x96 face resized (bilinear) to fill `box`: the source patch for compositing."""
    x0, y0, x1, y1 = box
    return cv2.resize(face_rgb, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
