"""FAN's input crop around a face box, and its heatmaps decoded back to frame pixels (numpy only).

Coordinates: a continuous frame position x covers pixel floor(x); the engine's landmarks (as
dlib's) put a pixel's centre at its integer index, so a continuous position x is the point x - 0.5.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

INPUT_SIZE = 256  # FAN's input is a 256x256 RGB crop
REFERENCE_SCALE = 195.0  # a box whose width + height is this fills FAN's 200-unit window
WINDOW_UNITS = 200.0
CENTRE_SHIFT = 0.12  # the window's centre sits this share of the box height above the box centre
MIN_WINDOW = 16  # pixels: a degenerate box still gives a usable crop


@dataclass(frozen=True)
class CropWindow:
    """A square of frame pixels (it may reach past the frame's edges) that is resized to FAN's input."""

    x0: int
    y0: int
    size: int

    @classmethod
    def around(cls, box: Any) -> CropWindow:
        """The window FAN expects for a detector box (x0, y0, x1, y1): centred a little above it, scaled by its size."""
        x0, y0, x1, y1 = (float(v) for v in np.asarray(box, np.float64).reshape(4))
        w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - CENTRE_SHIFT * h
        size = max(MIN_WINDOW, math.ceil(WINDOW_UNITS * (w + h) / REFERENCE_SCALE))
        return cls(math.floor(cx - size / 2), math.floor(cy - size / 2), size)

    def cut(self, rgb: np.ndarray) -> np.ndarray:
        """The window's pixels as an INPUT_SIZE x INPUT_SIZE x 3 uint8 image (black outside the frame)."""
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
        h, w = rgb.shape[:2]
        out = np.zeros((self.size, self.size, 3), np.uint8)
        sx0, sy0 = max(0, self.x0), max(0, self.y0)
        sx1, sy1 = min(w, self.x0 + self.size), min(h, self.y0 + self.size)
        if sx1 > sx0 and sy1 > sy0:
            out[sy0 - self.y0:sy1 - self.y0, sx0 - self.x0:sx1 - self.x0] = rgb[sy0:sy1, sx0:sx1, :3]
        shrink = self.size > INPUT_SIZE
        return cv2.resize(out, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def to_frame(self, positions: np.ndarray, resolution: int) -> np.ndarray:
        """Continuous positions on a resolution x resolution grid laid over the window, as frame points."""
        return np.asarray(positions, np.float64) * (self.size / resolution) + np.array([self.x0, self.y0]) - 0.5


def decode_heatmaps(heatmaps: np.ndarray) -> np.ndarray:
    """(N, 2) continuous (x, y) positions of N heatmaps' peaks, on the heatmaps' own grid.

    Each peak is its highest cell's centre, moved a quarter cell along each axis towards the higher
    of its two neighbours (not on the border, where a neighbour is missing).
    """
    hm = np.asarray(heatmaps, np.float64)
    n, h, w = hm.shape
    py, px = np.divmod(hm.reshape(n, -1).argmax(axis=1), w)
    rows = np.arange(n)
    right, left = hm[rows, py, np.minimum(px + 1, w - 1)], hm[rows, py, np.maximum(px - 1, 0)]
    down, up = hm[rows, np.minimum(py + 1, h - 1), px], hm[rows, np.maximum(py - 1, 0), px]
    dx = np.where((px > 0) & (px < w - 1), 0.25 * np.sign(right - left), 0.0)
    dy = np.where((py > 0) & (py < h - 1), 0.25 * np.sign(down - up), 0.0)
    return np.stack([px + 0.5 + dx, py + 0.5 + dy], axis=1)
