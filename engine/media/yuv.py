"""Edit one region of a decoded yuv420p frame through RGB, leaving every other pixel bit-exact.

A backend that changes only the lower face should not pay for (or lose quality in) converting
the whole frame to RGB and back. Only a crop is converted; only the pixels the edit changed are
written back (chroma where any pixel of its 2x2 block changed). The same YUV<->RGB formulas are
used both ways, so the matrix of the source does not matter for pixels that round-trip.
"""
from __future__ import annotations

from collections.abc import Callable

import av
import cv2
import numpy as np

Region = tuple[int, int, int, int]  # x0, y0, x1, y1


def _plane(frame: av.VideoFrame, index: int, height: int, width: int, copy: bool = True) -> np.ndarray:
    """One plane without its row padding, shaped (height, width): a copy, or a view of the frame's buffer."""
    plane = frame.planes[index]
    view = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]
    return view.copy() if copy else view


def _planes(frame: av.VideoFrame, copy: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Y, U and V planes of a yuv420p frame."""
    w, h = frame.width, frame.height
    return _plane(frame, 0, h, w, copy), _plane(frame, 1, h // 2, w // 2, copy), _plane(frame, 2, h // 2, w // 2, copy)


def _crop_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, region: Region) -> np.ndarray:
    """An aligned region of Y, U, V planes converted to RGB (h, w, 3)."""
    x0, y0, x1, y1 = region
    cy, cx = slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2)
    i420 = np.concatenate([y[y0:y1, x0:x1].ravel(), u[cy, cx].ravel(), v[cy, cx].ravel()])
    return cv2.cvtColor(i420.reshape((y1 - y0) * 3 // 2, x1 - x0), cv2.COLOR_YUV2RGB_I420)


def align_region(region: Region, width: int, height: int) -> Region:
    """Grow a region to even x and to y on multiples of 4 (what an I420 crop needs), inside the frame."""
    x0, y0, x1, y1 = region
    x0, y0 = max(0, x0 - x0 % 2), max(0, y0 - y0 % 4)
    x1, y1 = min(width, x1 + (-x1) % 2), min(height, y1 + (-y1) % 4)
    return x0, y0, x1 - (x1 - x0) % 2, y1 - (y1 - y0) % 4


def _copy_frame(frame: av.VideoFrame) -> tuple[av.VideoFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A new yuv420p frame holding a copy of `frame`'s picture, and writable views of its planes."""
    out = av.VideoFrame(frame.width, frame.height, "yuv420p")
    views = _planes(out, copy=False)
    for dst, src in zip(views, _planes(frame, copy=False)):
        dst[...] = src
    out.colorspace, out.color_range, out.pts = frame.colorspace, frame.color_range, frame.pts
    if frame.time_base is not None:
        out.time_base = frame.time_base
    return out, views


def changed_pixels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """bool (h, w): where two RGB images differ in any channel."""
    ne = a != b
    return ne[..., 0] | ne[..., 1] | ne[..., 2]


def edit_region(frame: av.VideoFrame, region: Region, edit: Callable[[np.ndarray], np.ndarray]) -> av.VideoFrame:
    """A yuv420p frame whose region `edit` changed: `edit` gets the region as RGB (h, w, 3) and
    returns it changed. The frame itself comes back when nothing changed; else a new frame."""
    if frame.format.name != "yuv420p":
        raise ValueError(f"edit_region needs a yuv420p frame, got {frame.format.name}")
    x0, y0, x1, y1 = align_region(region, frame.width, frame.height)
    rw, rh = x1 - x0, y1 - y0
    if rw < 2 or rh < 4:
        return frame
    rgb = _crop_rgb(*_planes(frame, copy=False), (x0, y0, x1, y1))
    edited = edit(rgb.copy())
    changed = changed_pixels(edited, rgb)
    if not changed.any():
        return frame
    out, (y, u, v) = _copy_frame(frame)
    back = cv2.cvtColor(np.ascontiguousarray(edited), cv2.COLOR_RGB2YUV_I420).ravel()
    ny = back[: rw * rh].reshape(rh, rw)
    nu = back[rw * rh: rw * rh * 5 // 4].reshape(rh // 2, rw // 2)
    nv = back[rw * rh * 5 // 4:].reshape(rh // 2, rw // 2)
    quad = changed.reshape(rh // 2, 2, rw // 2, 2)
    block = quad[:, 0, :, 0] | quad[:, 0, :, 1] | quad[:, 1, :, 0] | quad[:, 1, :, 1]  # a chroma sample's 2x2 pixels
    cy, cx = slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2)
    np.copyto(y[y0:y1, x0:x1], ny, where=changed)
    np.copyto(u[cy, cx], nu, where=block)
    np.copyto(v[cy, cx], nv, where=block)
    return out


def read_region(frame: av.VideoFrame, region: Region) -> np.ndarray:
    """The region (aligned as edit_region aligns it) of a yuv420p frame as RGB (h, w, 3), and nothing else converted."""
    if frame.format.name != "yuv420p":
        return frame.to_ndarray(format="rgb24")[region[1]:region[3], region[0]:region[2]]
    return _crop_rgb(*_planes(frame, copy=False), align_region(region, frame.width, frame.height))


def region_rgb(frame: av.VideoFrame | np.ndarray, region: Region) -> np.ndarray:
    """Exactly `region` (x0, y0, x1, y1) of a frame as RGB (h, w, 3): of a yuv420p frame only the
    aligned region round it is converted; an RGB array is sliced."""
    x0, y0, x1, y1 = region
    if isinstance(frame, np.ndarray):
        return frame[y0:y1, x0:x1]
    ax0, ay0, _, _ = aligned = align_region(region, frame.width, frame.height)
    rgb = read_region(frame, aligned)
    return rgb[y0 - ay0: y1 - ay0, x0 - ax0: x1 - ax0]
