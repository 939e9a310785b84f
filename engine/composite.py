"""Compositing: put a mouth region from one image (another frame, or a generator) onto a frame.

The source's lower face is warped onto the destination's landmarks piecewise-affinely (a fixed
triangulation of the 68-point layout, so each triangle of mouth, lips and chin moves with its
own points), its low frequencies are replaced by the destination's (colour and lighting match
without touching texture), and it is blended in with a feathered mask that covers only the
lower face, shrunk away from the jaw line so the background never changes.

All work happens in a crop around the lower face, so the cost does not grow with frame size,
and it grows with the face's area as little as the look allows: the warp map is worked out on a
grid 1-4 px apart by face size (`warp_step`), the colour match at a fraction of the resolution,
and the warp, saturating add and blend are single OpenCV calls on uint8 images.
Taking a frame's own mouth as the source reproduces the frame exactly (the warp is the identity
and the colour correction is zero).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import av
import cv2
import numpy as np

# Points of the 68-point layout (0-indexed) that bound the lower face: jaw from ear level round
# the chin, then the nose's base and the cheeks beside it.
JAW = list(range(2, 15))
NOSE_BASE = [35, 34, 33, 32, 31]
MOUTH = list(range(48, 68))
# Points the warp is anchored on: the lower face, the mouth and the nose (eyes and brows stay put).
WARP_POINTS = sorted(set(range(1, 16)) | set(range(27, 36)) | set(MOUTH))
STABLE = list(range(27, 48))  # nose bridge and eyes: where a similarity fit is reliable
OUTER_LIPS = list(range(48, 60))
EXCLUDE_GROW = 0.35  # mouths left out of the colour match are grown by this share round their centres


@dataclass(frozen=True)
class CompositeOptions:
    """How a mouth is blended in."""

    feather: float = 0.06  # mask edge softness, as a share of the face width
    shrink: float = 0.04  # mask pulled in from the jaw line, as a share of the face width
    colour_sigma: float = 0.08  # scale of the colour correction blur, as a share of the face width
    colour_match: bool = True


def face_width(points: np.ndarray) -> float:
    """Distance between the jaw's ends at ear level (points 0 and 16): the face's scale."""
    return float(np.linalg.norm(points[16] - points[0]))


def lower_face_polygon(points: np.ndarray) -> np.ndarray:
    """The lower-face outline (jaw round the chin, then the nose base), float32 (k, 2)."""
    return points[JAW + NOSE_BASE].astype(np.float32)


def lower_face_mask(points: np.ndarray, shape: tuple[int, int], grow: float = 0.0) -> np.ndarray:
    """A hard uint8 mask (255 inside) of the lower face, grown outward by `grow` x face width."""
    poly = lower_face_polygon(points)
    if grow:
        centre = poly.mean(axis=0)
        poly = centre + (poly - centre) * (1.0 + grow)
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255, lineType=cv2.LINE_8)
    return mask


# A fixed Delaunay triangulation of WARP_POINTS, computed once on the mean of 175 aligned real
# frontal faces (7 talking clips): on those frames only inner-lip triangles ever flip (a closing
# mouth), so each triangle keeps its meaning from frame to frame.
TRIANGLES = np.array([
    (1, 2, 31), (1, 27, 28), (1, 28, 29), (1, 29, 31), (2, 3, 31), (3, 4, 48), (3, 31, 48), (4, 5,
    48), (5, 6, 59), (5, 48, 59), (6, 7, 58), (6, 58, 59), (7, 8, 58), (8, 9, 56), (8, 56, 57), (8,
    57, 58), (9, 10, 56), (10, 11, 55), (10, 55, 56), (11, 12, 54), (11, 54, 55), (12, 13, 54), (13,
    14, 35), (13, 35, 54), (14, 15, 35), (15, 27, 28), (15, 28, 35), (28, 29, 35), (29, 30, 31),
    (29, 30, 35), (30, 31, 32), (30, 32, 33), (30, 33, 34), (30, 34, 35), (31, 32, 50), (31, 48,
    49), (31, 49, 50), (32, 33, 50), (33, 34, 52), (33, 50, 51), (33, 51, 52), (34, 35, 52), (35,
    52, 53), (35, 53, 54), (48, 49, 60), (48, 59, 60), (49, 50, 61), (49, 60, 67), (49, 61, 67),
    (50, 51, 61), (51, 52, 63), (51, 61, 62), (51, 62, 63), (52, 53, 63), (53, 54, 64), (53, 63,
    65), (53, 64, 65), (54, 55, 64), (55, 56, 65), (55, 64, 65), (56, 57, 66), (56, 65, 66), (57,
    58, 66), (58, 59, 67), (58, 66, 67), (59, 60, 67), (61, 62, 67), (62, 63, 65), (62, 65, 66),
    (62, 66, 67),
], np.int32)
MIN_TRIANGLE_AREA = 0.5  # px^2: a flatter destination triangle takes the global similarity


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity (rotation, uniform scale, shift) taking src points to dst."""
    src = src.astype(np.float64)
    dst = dst.astype(np.float64)
    sc, dc = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - sc, dst - dc
    denom = (s ** 2).sum()
    a = (s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum() / denom
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / denom
    m = np.array([[a, -b, 0.0], [b, a, 0.0]])
    m[:, 2] = dc - m[:, :2] @ sc
    return m


def _roi(points: np.ndarray, shape: tuple[int, ...], margin: float = 0.12) -> tuple[int, int, int, int]:
    """The crop (x0, y0, x1, y1) around the lower face with a margin, clipped to the image."""
    poly = lower_face_polygon(points)
    pad = margin * face_width(points)
    x0, y0 = np.floor(poly.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(poly.max(axis=0) + pad).astype(int) + 1
    h, w = shape[:2]
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def _triangle_affines(src_points: np.ndarray, dst_points: np.ndarray) -> np.ndarray:
    """(len(TRIANGLES) + 1, 2, 3) float32: per triangle the affine taking destination coordinates
    to source coordinates; the last entry (and any flat triangle's) the similarity fitted on the
    stable points, which applies outside the triangulation."""
    glob = similarity(dst_points[STABLE], src_points[STABLE])
    coeffs = np.repeat(glob[None], len(TRIANGLES) + 1, axis=0)
    for k, tri in enumerate(TRIANGLES):
        d = dst_points[tri].astype(np.float64)
        area = abs((d[1, 0] - d[0, 0]) * (d[2, 1] - d[0, 1]) - (d[1, 1] - d[0, 1]) * (d[2, 0] - d[0, 0])) / 2
        if area >= MIN_TRIANGLE_AREA:
            coeffs[k] = cv2.getAffineTransform(d.astype(np.float32), src_points[tri].astype(np.float32))
    return coeffs.astype(np.float32)


def warp_map(src_points: np.ndarray, dst_points: np.ndarray, roi: tuple[int, int, int, int],
             step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel of the destination crop, where to sample the source (cv2.remap maps).

    Inside the triangulated lower face each triangle maps affinely onto its source triangle;
    elsewhere in the crop the map follows the similarity fitted on the stable points.

    With `step` > 1 the map is worked out on a grid `step` pixels apart and interpolated in
    between. The piecewise-affine map is continuous across the triangles' shared edges, so this
    is exact inside each triangle and off by a fraction of a pixel only within `step` pixels of
    an edge, for step**2 times less work.
    """
    x0, y0, x1, y1 = roi
    h, w = y1 - y0, x1 - x0
    gh, gw = -(-h // step), -(-w // step)  # grid size, rounded up
    # grid node (i, j) stands for crop pixel ((j + 0.5) * step - 0.5, (i + 0.5) * step - 0.5): the
    # centres cv2.resize assumes when it scales the grid up by `step`
    centre = (step - 1) / 2
    index = np.full((gh, gw), -1, np.int32)
    to_grid = np.array([x0 + centre, y0 + centre], np.float32)
    for k, tri in enumerate(TRIANGLES):
        poly = np.round((dst_points[tri] - to_grid) / step * 16).astype(np.int32)
        cv2.fillConvexPoly(index, poly, int(k), lineType=cv2.LINE_8, shift=4)
    coeffs = _triangle_affines(src_points, dst_points)
    xs = (np.arange(gw) * step + (x0 + centre)).astype(np.float32)[None, :]
    ys = (np.arange(gh) * step + (y0 + centre)).astype(np.float32)[:, None]
    a = coeffs.reshape(-1, 6).T.copy()  # six tables, one per affine coefficient
    # index -1 picks the last entry: the global similarity
    map_x = a[0][index] * xs + a[1][index] * ys + a[2][index]
    map_y = a[3][index] * xs + a[4][index] * ys + a[5][index]
    if step > 1:
        size = (gw * step, gh * step)
        map_x = cv2.resize(map_x, size, interpolation=cv2.INTER_LINEAR)[:h, :w]
        map_y = cv2.resize(map_y, size, interpolation=cv2.INTER_LINEAR)[:h, :w]
    return map_x, map_y


def blend_mask(points: np.ndarray, roi: tuple[int, int, int, int], options: CompositeOptions) -> np.ndarray:
    """The float32 alpha (0..1) over the crop: lower face, pulled in from the jaw, feathered.

    Alpha is a smoothstep of the distance to the lower-face outline: 0 within `shrink` of it,
    rising over four feather widths, 1 further in. Every pixel outside the outline stays as it was.
    The distances are measured at full resolution: at half, the outline moves in 2-pixel steps as
    the head moves, and the blend's edge flickers (measured: the flicker ratio of a 324 px face
    went from 1.00 to 1.06).
    """
    x0, y0, x1, y1 = roi
    fw = face_width(points)
    local = points - np.array([x0, y0], np.float32)
    hard = lower_face_mask(local, (y1 - y0, x1 - x0))
    inside = cv2.distanceTransform(hard, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp = 4.0 * max(1.0, options.feather * fw / 2.0)
    t = np.clip((inside - options.shrink * fw) / ramp, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def composite_mouth(dst: np.ndarray, dst_points: np.ndarray, src: np.ndarray, src_points: np.ndarray,
                    options: CompositeOptions | None = None, exclude: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Return a copy of RGB frame `dst` whose lower face is `src`'s, warped onto `dst_points`.

    `exclude`: polygons (frame coordinates) left out of the colour match, such as both mouths'
    openings, so a dark open mouth is not lightened towards the closed lips it replaces.
    """
    dst_points = np.asarray(dst_points, np.float32)
    x0, y0, x1, y1 = roi = _roi(dst_points, dst.shape)
    out = dst.copy()
    if x1 - x0 >= 4 and y1 - y0 >= 4:
        out[y0:y1, x0:x1] = _composite_crop(dst[y0:y1, x0:x1], roi, dst_points, src, src_points, options, exclude)
    return out


def composite_mouth_frame(frame: av.VideoFrame, dst_points: np.ndarray, src: np.ndarray | None,
                          src_points: np.ndarray, options: CompositeOptions | None = None,
                          exclude: Sequence[np.ndarray] = ()) -> av.VideoFrame:
    """composite_mouth on a decoded yuv420p frame: only the lower face is converted and changed.

    `src` None means the frame itself (its own mouth, as RGB, is read from the same crop).
    """
    from .media.yuv import align_region, edit_region

    dst_points = np.asarray(dst_points, np.float32)
    roi = align_region(_roi(dst_points, (frame.height, frame.width)), frame.width, frame.height)
    if roi[2] - roi[0] < 4 or roi[3] - roi[1] < 4:
        return frame

    def edit(crop: np.ndarray) -> np.ndarray:
        if src is not None:
            return _composite_crop(crop, roi, dst_points, src, src_points, options, exclude)
        # the frame's own mouth: the crop is the whole source, in crop coordinates
        shift = np.array(roi[:2], np.float32)
        local = (0, 0, roi[2] - roi[0], roi[3] - roi[1])
        return _composite_crop(crop, local, dst_points - shift, crop, np.asarray(src_points) - shift, options)

    return edit_region(frame, roi, edit)


def _keep_mask(shape: tuple[int, ...], roi: tuple[int, int, int, int], exclude: Sequence[np.ndarray]) -> np.ndarray:
    """uint8 (h, w): 255 where the colour match measures, 0 inside the `exclude` polygons."""
    keep = np.full(shape[:2], 255, np.uint8)
    offset = np.array(roi[:2], np.float32)
    for poly in exclude:
        cv2.fillPoly(keep, [np.round((np.asarray(poly, np.float32) - offset) * 16).astype(np.int32)], 0,
                     lineType=cv2.LINE_8, shift=4)
    return keep


def _colour_offset(base: np.ndarray, warped: np.ndarray, sigma: float, roi: tuple[int, int, int, int],
                   exclude: Sequence[np.ndarray]) -> np.ndarray:
    """The low-frequency colour difference base - warped (float32, h x w x 3), measured only
    outside the `exclude` polygons.

    It is a blur of scale `sigma`, so it is worked out at 1/(sigma/3) of the crop's resolution:
    the difference (zero where excluded) and the measuring weight are shrunk by area averaging
    in float, blurred there, and only the result is scaled back up.
    """
    h, w = base.shape[:2]
    factor = max(1, min(int(sigma // 3), h, w))
    keep = _keep_mask(base.shape, roi, exclude) if len(exclude) else None
    diff = np.zeros(base.shape, np.float32)
    cv2.subtract(base, warped, dst=diff, mask=keep, dtype=cv2.CV_32F)

    def shrink(img: np.ndarray) -> np.ndarray:  # whole blocks of factor x factor pixels: OpenCV's fast path
        if factor == 1:
            return img
        inner = img[: h - h % factor, : w - w % factor]
        return cv2.resize(inner, (w // factor, h // factor), interpolation=cv2.INTER_AREA)

    num = cv2.GaussianBlur(shrink(diff), (0, 0), sigma / factor)
    if keep is not None:
        den = cv2.GaussianBlur(shrink(keep).astype(np.float32) * (1 / 255), (0, 0), sigma / factor)
        num = num / np.maximum(den, 1e-3)[..., None]
    return cv2.resize(num, (w, h), interpolation=cv2.INTER_LINEAR) if factor > 1 else num


def warp_step(points: np.ndarray) -> int:
    """The grid spacing of the warp map for a face: one pixel per 200 px of face width (1 to 4).
    The map's error is then at most about a third of the step, near inner-lip triangle edges."""
    return int(np.clip(round(face_width(points) / 200), 1, 4))


def _composite_crop(target: np.ndarray, roi: tuple[int, int, int, int], dst_points: np.ndarray, src: np.ndarray,
                    src_points: np.ndarray, options: CompositeOptions | None,
                    exclude: Sequence[np.ndarray] = ()) -> np.ndarray:
    """The crop `target` (= destination frame at `roi`) with the source's lower face blended in.

    All in uint8 but the colour offset and the alpha: warp (cv2.remap), add the colour offset with
    saturation, blend with per-pixel weights (cv2.blendLinear, rounded).
    """
    options = options or CompositeOptions()
    map_x, map_y = warp_map(np.asarray(src_points, np.float32), dst_points, roi, warp_step(dst_points))
    warped = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if options.colour_match:
        sigma = max(1.0, options.colour_sigma * face_width(dst_points))
        warped = cv2.add(warped, _colour_offset(target, warped, sigma, roi, exclude), dtype=cv2.CV_8U)
    alpha = blend_mask(dst_points, roi, options)
    return cv2.blendLinear(warped, np.ascontiguousarray(target), alpha, 1.0 - alpha)


def mouth_polygons(*points: np.ndarray) -> list[np.ndarray]:
    """The outer-lip polygons of the given landmark sets, grown round their centres: left out of
    the colour match, so neither mouth's lip colour is smeared onto the skin around the other."""
    out = []
    for p in points:
        lips = np.asarray(p, np.float32)[OUTER_LIPS]
        centre = lips.mean(axis=0)
        out.append(centre + (lips - centre) * (1.0 + EXCLUDE_GROW))
    return out


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 images, optionally inside a mask."""
    diff = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if mask is not None:
        diff = diff[mask.astype(bool)]
    mse = float(diff.mean()) if diff.size else 0.0
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)
