"""Picture quality of an output against its input (QUALITY.md, "Picture quality").

Over the output frames that show the input's frames in order (the first min(output, template)
frames: the forward run of the ping-pong), two figures:
- PSNR outside the lower face: output against the decoded input frame, outside the input's
  lower-face hull grown by 15 % (only re-encoding should differ there); the median over frames;
- jitter ratio: the median frame-to-frame motion of the eye and nose landmarks (27-47, in
  eye-corner distances) in the output over the same in the input (1.0: no added shake).
"""
from __future__ import annotations

import os

import numpy as np

from engine.composite import lower_face_mask, psnr
from engine.media.read import iter_frames

GROW = 0.15
STABLE = np.arange(27, 48)


def psnr_outside_lower_face(output: str | os.PathLike[str], template: str | os.PathLike[str], fps: float,
                            template_pts: np.ndarray, max_frames: int) -> float:
    """Median PSNR (dB) outside the grown lower face over the first max_frames frames with a face."""
    values = []
    for k, (out, inp) in enumerate(zip(iter_frames(output, fps), iter_frames(template, fps))):
        if k >= max_frames:
            break
        pts = template_pts[k] if k < len(template_pts) else None
        if pts is None or not np.isfinite(pts).all() or out.shape != inp.shape:
            continue
        outside = lower_face_mask(pts, out.shape, grow=GROW) == 0
        values.append(min(psnr(out, inp, outside), 99.0))
    return float(np.median(values)) if values else float("nan")


def stable_motion(points: np.ndarray) -> np.ndarray:
    """Per frame step: mean motion of points 27-47 in outer-eye-corner distances (NaN without a face)."""
    p = np.asarray(points, np.float64)
    if len(p) < 2:
        return np.zeros(0)
    iod = np.linalg.norm(p[:, 45] - p[:, 36], axis=-1)
    step = np.linalg.norm(p[1:, STABLE] - p[:-1, STABLE], axis=-1).mean(axis=1)
    return step / np.maximum(iod[1:], 1e-6)


def jitter_ratio(out_pts: np.ndarray, in_pts: np.ndarray) -> float:
    """Median eye-and-nose motion of the output over that of the input, frame for frame."""
    n = min(len(out_pts), len(in_pts))
    a, b = stable_motion(out_pts[:n]), stable_motion(in_pts[:n])
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 2 or np.median(b[ok]) <= 0:
        return float("nan")
    return float(np.median(a[ok]) / np.median(b[ok]))
