"""Small talking-head-like test clips made at test time from skimage's astronaut photo.

The astronaut's face (about 88 px wide in the 512 px photo) is scaled and moved over a plain
background, so where every landmark should be in every frame is known from the photo's own
landmarks: frame point = scale * photo point + offset.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

FACE_CENTRE = np.array([223.0, 127.0])  # face centre in the astronaut photo (pixels)


def astronaut() -> np.ndarray:
    """skimage's astronaut photo, RGB uint8 512x512."""
    from skimage import data

    return data.astronaut()


@dataclass
class Placement:
    """How the photo is put into one frame: frame = scale * photo + offset."""

    scale: float
    offset: np.ndarray  # (2,) x, y

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Photo coordinates to frame coordinates."""
        return points * self.scale + self.offset


FACE_REGION = (130, 20, 320, 260)  # x0, y0, x1, y1 of the photo around the face (head only)


def place(canvas: np.ndarray, photo: np.ndarray, scale: float, centre: Sequence[float],
          flip: bool = False, head_only: bool = False) -> Placement:
    """Paste `photo` (or with `head_only` just its head) scaled so its face centre lands on `centre` (in place)."""
    h, w = canvas.shape[:2]
    src = photo[:, ::-1] if flip else photo
    if head_only:
        x0, y0, x1, y1 = FACE_REGION
        src = np.zeros_like(src)
        src[y0:y1, x0:x1] = (photo[:, ::-1] if flip else photo)[y0:y1, x0:x1]
    fc = np.array([src.shape[1] - 1 - FACE_CENTRE[0], FACE_CENTRE[1]]) if flip else FACE_CENTRE
    offset = np.asarray(centre, np.float64) - scale * fc
    m = np.array([[scale, 0, offset[0]], [0, scale, offset[1]]], np.float64)
    warped = cv2.warpAffine(np.ascontiguousarray(src), m, (w, h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    full = np.full(src.shape[:2], 255, np.uint8)
    if head_only:
        full[:] = 0
        full[FACE_REGION[1]:FACE_REGION[3], FACE_REGION[0]:FACE_REGION[2]] = 255
    mask = cv2.warpAffine(full, m, (w, h), flags=cv2.INTER_NEAREST)
    canvas[mask > 0] = warped[mask > 0]
    return Placement(scale, offset)


def write_clip(path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float = 25) -> Path:
    """Write RGB frames as an H.264 MP4 (no audio)."""
    path = Path(path)
    container = av.open(str(path), "w")
    try:
        stream = None
        for frame in frames:
            if stream is None:
                h, w = frame.shape[:2]
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {"preset": "ultrafast", "crf": "18"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode(None):
                container.mux(packet)
    finally:
        container.close()
    return path


def moving_face_frames(n: int = 50, size: tuple[int, int] = (480, 360), scale: tuple[float, float] = (1.3, 1.5),
                       travel: tuple[float, float] = (60.0, 25.0),
                       background: tuple[int, int, int] = (90, 110, 100)) -> tuple[list[np.ndarray], list[Placement]]:
    """Frames of the astronaut moving smoothly (half a sine of `travel` px) and growing in scale."""
    photo = astronaut()
    w, h = size
    frames, places = [], []
    for i in range(n):
        t = i / max(1, n - 1)
        s = scale[0] + (scale[1] - scale[0]) * t
        centre = (w / 2 - travel[0] / 2 + travel[0] * (1 - np.cos(np.pi * t)) / 2,
                  h * 0.42 + travel[1] * np.sin(np.pi * t))
        canvas = np.empty((h, w, 3), np.uint8)
        canvas[:] = background
        places.append(place(canvas, photo, s, centre))
        frames.append(canvas)
    return frames, places
