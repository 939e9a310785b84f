"""Contact sheet of mouth crops over time: per clip, the output row above the ground-truth row.

Every crop is cut in canonical face coordinates: the frame is warped by its own canonical
similarity (eye and nose points, see `canonical`), and a fixed window around the mean face's
mouth is sampled (1.2 x 0.84 eye-corner distances), so crops of every frame and every clip share
scale and orientation and rows can be compared directly. A frame without a face shows grey.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.faces.canonical import CANONICAL_68, MOUTH_POINTS, canonical_transform

CROP_SIZE = (120, 84)  # pixels (width, height)
WINDOW_WIDTH_UNITS = 1.2  # canonical units across a crop
MOUTH_CENTRE = CANONICAL_68[MOUTH_POINTS].mean(axis=0)
SHEET_COLUMNS = 14
LABEL_W, TITLE_H, GAP = 44, 20, 10
BG, FG, NO_FACE = (24, 24, 24), (235, 235, 235), (96, 96, 96)


@dataclass
class SheetBlock:
    """One clip's block: a title, the frame indices shown, and a crop (or None) per index per row."""

    title: str
    indices: list[int]
    out_crops: list[np.ndarray | None]
    true_crops: list[np.ndarray | None]


def sheet_indices(n_frames: int, count: int = SHEET_COLUMNS) -> list[int]:
    """`count` evenly spaced frame indices over 0..n_frames-1 (fewer when the clip is shorter)."""
    if n_frames <= 0:
        return []
    count = min(count, n_frames)
    return sorted({int(round(v)) for v in np.linspace(0, n_frames - 1, count)})


def mouth_crop(rgb: np.ndarray, points: np.ndarray, size: tuple[int, int] = CROP_SIZE) -> np.ndarray | None:
    """The canonical mouth window of one frame as RGB (size), or None when points are missing."""
    if not np.isfinite(points).all():
        return None
    w, h = size
    to_canon = canonical_transform(points)
    px_per_unit = w / WINDOW_WIDTH_UNITS
    eye_px = float(np.hypot(*to_canon[:, 0])) ** -1  # image pixels per canonical unit
    ss = int(min(4, max(1, math.ceil(eye_px / px_per_unit))))  # supersample big faces, then area-average
    scale = px_per_unit * ss
    centre = np.array([w * ss / 2.0, h * ss / 2.0])
    m = scale * to_canon
    m[:, 2] = scale * (to_canon[:, 2] - MOUTH_CENTRE) + centre
    big = cv2.warpAffine(np.ascontiguousarray(rgb), m, (w * ss, h * ss), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=BG)
    return big if ss == 1 else cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)


def crops_at(frames: Iterable[np.ndarray], points: np.ndarray, indices: Sequence[int]) -> list[np.ndarray | None]:
    """Mouth crops of the frames at `indices` (a frame's landmarks from `points`); stops after the last."""
    wanted = {k: None for k in indices}
    last = max(indices) if indices else -1
    for k, frame in enumerate(frames):
        if k > last:
            break
        if k in wanted and k < len(points):
            wanted[k] = mouth_crop(frame, points[k])
    return [wanted[k] for k in indices]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # old Pillow: fixed bitmap font
        return ImageFont.load_default()


def draw_sheet(blocks: Sequence[SheetBlock], path: str | os.PathLike[str],
               row_labels: tuple[str, str] = ("out", "true")) -> Path:
    """Write the contact sheet PNG: per block a title, the output row, then the ground-truth row."""
    w, h = CROP_SIZE
    cols = max((len(b.indices) for b in blocks), default=1)
    block_h = TITLE_H + 2 * h + GAP
    sheet = Image.new("RGB", (LABEL_W + cols * (w + 2), max(1, len(blocks)) * block_h), BG)
    draw = ImageDraw.Draw(sheet)
    title_font, small = _font(13), _font(11)
    for b, block in enumerate(blocks):
        y0 = b * block_h
        draw.text((4, y0 + 3), block.title, fill=FG, font=title_font)
        for r, (label, crops) in enumerate(zip(row_labels, (block.out_crops, block.true_crops))):
            y = y0 + TITLE_H + r * h
            draw.text((4, y + h // 2 - 6), label, fill=FG, font=small)
            for c, (index, crop) in enumerate(zip(block.indices, crops)):
                x = LABEL_W + c * (w + 2)
                if crop is None:
                    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=NO_FACE)
                    draw.text((x + 4, y + h // 2 - 6), "no face", fill=FG, font=small)
                else:
                    sheet.paste(Image.fromarray(crop), (x, y))
                if r == 0:
                    draw.rectangle((x, y, x + 6 * len(str(index)) + 5, y + 12), fill=BG)
                    draw.text((x + 2, y), str(index), fill=FG, font=small)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
