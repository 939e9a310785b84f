"""Mouth flicker: how much the face-aligned mouth region changes from one frame to the next.

New mouth shapes and synthesised mouths must not pop from frame to frame (lip colour, texture,
teeth). The figure compares the output's frame-to-frame change with that of the presenter's own
footage (the template half of the clip), frame pairs only, no smoothing.

The region. Each frame is warped by its own canonical similarity (the least-squares fit of its
eye and nose points 27-47 onto `CANONICAL_68`, see `engine.faces.canonical`) into a fixed window
of the canonical face: x -0.50..0.50, y 0.56..1.16 canonical units (outer eye corners 1.0
apart). The mean face's mouth (points 48-67) spans x -0.31..0.30, y 0.70..0.99, but people
differ: a broad smile reaches x +-0.40 and, on a short upper lip, y 0.62 (the astronaut of the
test clips). So the window runs from the nose base (y 0.54 on the mean face) to 0.17 under the
resting lower lip (a mouth opened wide stays inside) and 0.1 past a broad smile's corners.
Head motion, scale and roll are taken out by the warp, so what is left is the mouth itself: its
shape, colour, texture, teeth. It is sampled at 80 px per canonical unit (80 x 48 px, square
pixels): about the source resolution of small talking-head footage (outer eye corners 87 px
apart in a 256 px clip) and below that of larger ones (183 px in an 844 px clip), so the change
is measured at one scale for every clip, close to what a viewer sees, while the mouth (about
49 px wide) still shows its lip edges and teeth. Each pixel is the area average of 4 x 4
bilinear samples, always 4 (never chosen per frame, so the sampling cannot switch between
frames): big faces are not aliased and per-pixel encoder noise averages out. Pixels the warp
takes from outside the frame repeat the frame's edge.

The change. Between consecutive regions: the mean over pixels of the CIELAB colour difference
dE76 = |Lab(a) - Lab(b)| (L 0-100, a and b in their usual units; 1 is about the smallest
difference people see, 2-3 clearly visible). Lab weights lightness and the colour axes the way
people see them, so a lip-colour or teeth pop counts as much as it shows. A frame without a face
gives NaN for both pairs it belongs to; figures are taken over the finite pairs.

Per-frame series: `change[k]` is the change from frame k-1 to frame k; `change[0]` is NaN.

Reading it. Real talking footage changes by about 1.5-1.8 dE a pair at the median and 2.7-3.5 at
the 90th percentile (speech moves the mouth). The floor is not 0: an encoded still face changes
by up to about 1 dE a pair (encoder noise, and dlib's landmarks jumping by whole pixels). The
output is always encoded once more (x264 at the render's CRF), which smooths some of the
source's grain: the `none` backend, the template itself, measured 0.92-0.95x at the median and
1.00-1.02x at the 90th percentile on two real clips, so read a renderer's ratio beside `none`'s.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.faces.canonical import canonical_transform

VERSION = 1  # bump when the region or the change changes (names the cached series)
WINDOW = (-0.50, 0.56, 0.50, 1.16)  # x0, y0, x1, y1 in canonical units
PX_PER_UNIT = 80.0
REGION_SIZE = (int(round((WINDOW[2] - WINDOW[0]) * PX_PER_UNIT)),
               int(round((WINDOW[3] - WINDOW[1]) * PX_PER_UNIT)))  # (width, height) = (80, 48)
SUPERSAMPLE = 4  # fixed (never per frame, so the sampling cannot switch between frames)
PERCENTILE = 90.0
MIN_TEMPLATE_CHANGE = 1e-3  # dE; a template that changes less than this (a still) gives no ratio


def mouth_region(rgb: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """The face-aligned mouth region of one frame as RGB uint8 (REGION_SIZE), None without a face."""
    pts = np.asarray(points, np.float64)
    if pts.shape != (68, 2) or not np.isfinite(pts).all():
        return None
    try:
        to_canon = canonical_transform(pts)
    except ValueError:  # degenerate points
        return None
    w, h = REGION_SIZE
    ss = SUPERSAMPLE
    scale = PX_PER_UNIT * ss
    m = scale * to_canon
    # big pixel u has its centre at canonical x0 + (u + 0.5) / scale, so every ss x ss block averages
    # to the small pixel centred at x0 + (i + 0.5) / PX_PER_UNIT
    m[:, 2] = scale * (to_canon[:, 2] - np.array(WINDOW[:2])) - 0.5
    big = cv2.warpAffine(np.ascontiguousarray(rgb), m, (w * ss, h * ss), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)


def to_lab(region: np.ndarray) -> np.ndarray:
    """An RGB uint8 region in CIELAB, float32 (L 0-100, a and b signed)."""
    return cv2.cvtColor(np.asarray(region, np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def lab_change(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Mean dE76 between two Lab regions of the same size; NaN when either is missing."""
    if a is None or b is None:
        return float("nan")
    return float(np.sqrt(((a - b) ** 2).sum(axis=-1)).mean())


def region_change(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Mean dE76 between two RGB uint8 mouth regions; NaN when either frame had no face."""
    if a is None or b is None:
        return float("nan")
    return lab_change(to_lab(a), to_lab(b))


class ChangeMeter:
    """Streams regions in frame order and keeps the per-frame change series (only one region held)."""

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None
        self._values: list[float] = []

    def add(self, region: np.ndarray | None) -> None:
        """Take the next frame's region (None: no face); appends its change from the frame before."""
        lab = None if region is None else to_lab(region)
        self._values.append(lab_change(self._prev, lab) if self._values else float("nan"))
        self._prev = lab

    def series(self) -> np.ndarray:
        """change[k] from frame k-1 to k (float64, NaN for k = 0 and where either frame has no face)."""
        return np.asarray(self._values, np.float64)


def change_series(regions: Iterable[np.ndarray | None]) -> np.ndarray:
    """Per-frame change of a sequence of regions (see ChangeMeter.series)."""
    meter = ChangeMeter()
    for region in regions:
        meter.add(region)
    return meter.series()


def frame_change_series(frames: Iterable[np.ndarray], points: np.ndarray) -> np.ndarray:
    """Per-frame change of the mouth regions of frames whose landmarks are known ((n, 68, 2), NaN: no face)."""
    meter = ChangeMeter()
    for k, frame in enumerate(frames):
        if k >= len(points):
            break
        meter.add(mouth_region(frame, points[k]))
    return meter.series()


def median_p90(changes: np.ndarray) -> tuple[float, float]:
    """(median, 90th percentile) of the finite values; NaN, NaN when there are none."""
    v = np.asarray(changes, np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan"), float("nan")
    return float(np.median(v)), float(np.percentile(v, PERCENTILE))


def ratio(out: float, template: float) -> float:
    """out / template; NaN when either is NaN or the template (nearly) never changes."""
    if not (math.isfinite(out) and math.isfinite(template)) or template < MIN_TEMPLATE_CHANGE:
        return float("nan")
    return out / template


@dataclass
class FlickerFigures:
    """A clip's flicker figures (dE76 per frame pair); the names are ClipReport's fields."""

    flicker_out_median: float
    flicker_out_p90: float
    flicker_template_median: float
    flicker_template_p90: float
    flicker_true_median: float
    flicker_true_p90: float
    flicker_ratio_median: float
    flicker_ratio_p90: float


def flicker_figures(out_change: np.ndarray, template_change: np.ndarray,
                    true_change: np.ndarray | None = None) -> FlickerFigures:
    """The figures from per-frame change series of the output, the template (and the true frames)."""
    om, op = median_p90(out_change)
    tm, tp = median_p90(template_change)
    rm, rp = median_p90(np.zeros(0) if true_change is None else true_change)
    return FlickerFigures(flicker_out_median=om, flicker_out_p90=op, flicker_template_median=tm,
                          flicker_template_p90=tp, flicker_true_median=rm, flicker_true_p90=rp,
                          flicker_ratio_median=ratio(om, tm), flicker_ratio_p90=ratio(op, tp))


def draw_strip(rows: Sequence[Sequence[np.ndarray | None]], path: str | os.PathLike[str],
               zoom: int = 3, gap: int = 2) -> Path:
    """Write a PNG of region rows (one row per sequence, e.g. output over template), grey where None."""
    w, h = REGION_SIZE
    cols = max((len(r) for r in rows), default=1)
    sheet = np.full((len(rows) * (h * zoom + gap), cols * (w * zoom + gap), 3), 24, np.uint8)
    for r, row in enumerate(rows):
        for c, region in enumerate(row):
            tile = np.full((h, w, 3), 96, np.uint8) if region is None else region
            big = cv2.resize(tile, (w * zoom, h * zoom), interpolation=cv2.INTER_NEAREST)
            y, x = r * (h * zoom + gap), c * (w * zoom + gap)
            sheet[y:y + h * zoom, x:x + w * zoom] = big
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path
