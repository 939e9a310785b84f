"""Speaking mouths for a presenter who never speaks in the template (smiling, smirking, silent).

Such a template has mouths, but not speech: drawing from its library would make the presenter
smirk along with the narration. Instead, the presenter's own most neutral mouth (closed, not
smiling, not lopsided: `neutral_entry`) is opened by a landmark warp to a fixed ladder of
openings once per render (`synth_mouths`): the lower lip and chin drop, the corners follow the
width, and the new gap between the lips is filled with a mouth interior. Where the template has
an open mouth of its own, the interior is that mouth's (its teeth line and tongue shading, taken
from its most open speech-like frame and stretched into the gap); otherwise it is a dark
red-brown shade. Every output frame then takes a ladder step by the rank of the opening the audio
asks for (`ladder_steps`: closed in pauses, the loudest speech fully open), and the compositing
carries it onto the destination frame like any library mouth, so it stays symmetric and in the
presenter's own colours.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from ...composite import _composite_crop
from .fallback import fallback_points, opened_gap, paint_interior
from .library import MouthLibrary, speech_entries
from .select import CLOSED_BELOW

log = logging.getLogger(__name__)

LEVELS = np.linspace(0.0, 1.1, 12)  # relative openings prepared once per render
INNER_LIPS = np.arange(60, 68)
MIN_INTERIOR_GAP = 0.06  # canonical units: an open mouth whose interior is worth borrowing


@dataclass
class SynthMouths:
    """Prepared mouths: `crops[i]` with landmarks `points[i]` is the neutral mouth opened to `LEVELS[i]`."""

    entry: int  # the library entry they were made from
    crops: list[np.ndarray]
    points: list[np.ndarray]

    def steps(self, open_rel: np.ndarray) -> np.ndarray:
        """The ladder step of every output frame (`ladder_steps`)."""
        return ladder_steps(open_rel, CLOSED_BELOW)


def neutral_entry(lib: MouthLibrary) -> int:
    """The library's most neutral mouth: among its calm mouths (closed or speech-like) the
    narrowest of the least open; when every mouth is an expression, the narrowest (the least smile)."""
    calm = np.flatnonzero(speech_entries(lib))
    if not len(calm):
        return int(np.argmin(lib.shapes[:, 1]))
    opening = lib.shapes[calm, 0]
    shut = calm[opening <= np.percentile(opening, 30) + 1e-9]
    return int(shut[np.argmin(lib.shapes[shut, 1])])


def _interior(lib: MouthLibrary) -> tuple[np.ndarray, np.ndarray] | None:
    """(crop, inner-lip polygon in crop coordinates) of the template's most open speech-like mouth, if
    one opens (a grin's teeth are not a speaking mouth's interior)."""
    speech = np.flatnonzero(np.asarray(lib.classes) == "speech")
    if not len(speech):
        return None
    e = int(speech[np.argmax(lib.shapes[speech, 0])])
    if lib.shapes[e, 0] < MIN_INTERIOR_GAP:
        return None
    return np.asarray(lib.crops[e]), np.asarray(lib.points[e], np.float32)[INNER_LIPS]


def ladder_steps(open_rel: np.ndarray, closed_below: float) -> np.ndarray:
    """The ladder step of every output frame: closed frames take step 0, open ones are spread by rank
    over the rest (the quietest speech a little open, the loudest fully), whatever the scale of the
    prediction, as the library's openings are."""
    rel = np.asarray(open_rel, np.float64)
    steps = np.zeros(len(rel), np.int64)
    open_frames = np.flatnonzero(rel > closed_below)
    if len(open_frames):
        ranks = np.argsort(np.argsort(rel[open_frames], kind="stable"), kind="stable")
        q = (ranks + 1) / len(open_frames)
        steps[open_frames] = 1 + np.round(q * (len(LEVELS) - 2)).astype(np.int64)
    return steps


def fill_interior(crop: np.ndarray, gap: np.ndarray, source: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """The gap polygon (crop coordinates) filled with the borrowed interior, or a shade without one."""
    if source is None:
        return paint_interior(crop, gap, (0, 0))
    src_crop, src_poly = source
    x0, y0, w0, h0 = cv2.boundingRect(np.round(src_poly).astype(np.int32))
    x1, y1, w1, h1 = cv2.boundingRect(np.round(gap).astype(np.int32))
    if min(w0, h0, w1, h1) < 2:
        return paint_interior(crop, gap, (0, 0))
    box = np.float32([[x0, y0], [x0 + w0, y0], [x0, y0 + h0]])
    dst = np.float32([[x1, y1], [x1 + w1, y1], [x1, y1 + h1]])
    stretched = cv2.warpAffine(np.asarray(src_crop), cv2.getAffineTransform(box, dst), (crop.shape[1], crop.shape[0]),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros(crop.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(gap * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.7, h1 / 10.0))[..., None]
    out = crop.astype(np.float32) * (1.0 - mask) + stretched.astype(np.float32) * mask
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def open_mouth(crop: np.ndarray, points: np.ndarray, open_rel: float,
               interior: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """(crop, landmarks) of a mouth opened by a landmark warp to a relative opening (crop coordinates)."""
    pts = np.asarray(points, np.float32)
    target = fallback_points(pts, open_rel, 0.0)
    if open_rel <= 0:
        return np.asarray(crop).copy(), pts
    h, w = crop.shape[:2]
    src = np.asarray(crop)
    warped = _composite_crop(src, (0, 0, w, h), target, src, pts, None)
    return fill_interior(warped, opened_gap(pts, target), interior), target


def synth_mouths(lib: MouthLibrary) -> SynthMouths:
    """The opening ladder of the presenter's neutral mouth (the library must not be empty)."""
    if not len(lib):
        raise ValueError("an empty mouth library has no neutral mouth to open")
    e = neutral_entry(lib)
    interior = _interior(lib)
    crops, points = [], []
    for level in LEVELS:
        c, p = open_mouth(np.asarray(lib.crops[e]), lib.points[e], float(level), interior)
        crops.append(c)
        points.append(p)
    log.info("no speech in the template: opening its neutral mouth (frame %d)%s", int(lib.frames[e]),
             "" if interior is None else " with the interior of its most open mouth")
    return SynthMouths(entry=e, crops=crops, points=points)
