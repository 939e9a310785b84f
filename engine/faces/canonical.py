"""Canonical face alignment: a least-squares similarity fit of the eye and nose points.

Every frame's 68 landmarks are mapped by the similarity transform (scale, rotation, translation;
no reflection) that best maps its points 27-47 (nose bridge, nose base, both eyes; 0-indexed)
onto the same points of a fixed canonical face, `CANONICAL_68`. The canonical face is a mean
face (see `_MEAN_FACE`), normalised so its outer eye corners (36 and 45) lie at (-0.5, 0) and
(0.5, 0): one canonical unit is the distance between the outer eye corners, x runs to the
image's right and y downwards. A fixed mean face (rather than a clip's first frame) keeps the
units the same for every clip and every run, so figures can be compared across clips.
"""
from __future__ import annotations

import numpy as np

ALIGN_POINTS = np.arange(27, 48)  # nose (27-35) and eyes (36-47)
MOUTH_POINTS = np.arange(48, 68)
LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 36, 45

# Mean of dlib 68-point landmarks over 800 frames of 8 public talking clips (100 frames each,
# evenly spaced), generalised-Procrustes aligned on all 68 points, rounded to 4 decimals.
# Only its points 27-47 define the alignment; the rest place the mouth for contact-sheet crops.
_MEAN_FACE = np.array([
    (-0.8116, 0.0394), (-0.8065, 0.2575), (-0.7869, 0.4743), (-0.7518, 0.6907),
    (-0.6817, 0.8958), (-0.5667, 1.0778), (-0.4113, 1.2317), (-0.2288, 1.3534),
    (-0.0155, 1.3911), (0.2028, 1.3560), (0.3977, 1.2408), (0.5690, 1.0964),
    (0.6998, 0.9172), (0.7795, 0.7105), (0.8199, 0.4894), (0.8465, 0.2658),
    (0.8594, 0.0421), (-0.6600, -0.1473), (-0.5623, -0.2391), (-0.4241, -0.2701),
    (-0.2784, -0.2547), (-0.1418, -0.1996), (0.1318, -0.2029), (0.2716, -0.2602),
    (0.4215, -0.2773), (0.5661, -0.2450), (0.6693, -0.1471), (-0.0080, -0.0398),
    (-0.0098, 0.0967), (-0.0122, 0.2329), (-0.0148, 0.3742), (-0.1654, 0.4941),
    (-0.0904, 0.5177), (-0.0111, 0.5398), (0.0705, 0.5178), (0.1477, 0.4943),
    (-0.5000, 0.0000), (-0.4146, -0.0505), (-0.3116, -0.0510), (-0.2240, 0.0104),
    (-0.3177, 0.0302), (-0.4180, 0.0318), (0.2237, 0.0099), (0.3116, -0.0508),
    (0.4143, -0.0505), (0.5000, 0.0000), (0.4176, 0.0322), (0.3168, 0.0303),
    (-0.3093, 0.8176), (-0.2047, 0.7424), (-0.0930, 0.7045), (-0.0126, 0.7255),
    (0.0693, 0.7061), (0.1849, 0.7451), (0.2981, 0.8201), (0.1904, 0.9318),
    (0.0768, 0.9811), (-0.0121, 0.9893), (-0.1001, 0.9797), (-0.2094, 0.9298),
    (-0.2555, 0.8190), (-0.0939, 0.7810), (-0.0125, 0.7876), (0.0699, 0.7815),
    (0.2443, 0.8214), (0.0724, 0.8606), (-0.0118, 0.8697), (-0.0948, 0.8587),
], np.float64)


def normalise_shape(points: np.ndarray) -> np.ndarray:
    """Move, turn and scale a (68, 2) shape so its outer eye corners sit at (-0.5, 0) and (0.5, 0)."""
    p = np.asarray(points, np.float64)
    a, b = p[LEFT_EYE_OUTER], p[RIGHT_EYE_OUTER]
    d = b - a
    scale = float(np.hypot(*d))
    if scale <= 0:
        raise ValueError("the outer eye corners coincide; cannot normalise the shape")
    c, s = d / scale
    rot = np.array([[c, s], [-s, c]])  # turns d onto +x
    return ((p - (a + b) / 2) @ rot.T) / scale


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix [sR | t] minimising sum |sR src_i + t - dst_i|^2 (Umeyama; no reflection)."""
    x, y = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mx, y - my
    var_x = float((xc ** 2).sum()) / len(x)
    if var_x <= 0:
        raise ValueError("the source points coincide; no similarity fit exists")
    u, sig, vt = np.linalg.svd(yc.T @ xc / len(x))
    flip = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ flip @ vt
    scale = float(np.trace(np.diag(sig) @ flip)) / var_x
    return np.hstack([scale * rot, (my - scale * rot @ mx)[:, None]])


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (n, 2) mapped by a 2x3 affine matrix."""
    p = np.asarray(points, np.float64)
    return p @ matrix[:, :2].T + matrix[:, 2]


CANONICAL_68 = normalise_shape(_MEAN_FACE)


def canonical_transform(points: np.ndarray) -> np.ndarray:
    """The 2x3 similarity taking one frame's image landmarks (68, 2) into canonical units."""
    pts = np.asarray(points, np.float64)
    return similarity_fit(pts[ALIGN_POINTS], CANONICAL_68[ALIGN_POINTS])


def to_canonical(points: np.ndarray) -> np.ndarray:
    """One frame's (68, 2) landmarks in canonical units (see module doc)."""
    return apply_affine(canonical_transform(points), points)


def to_canonical_series(points: np.ndarray) -> np.ndarray:
    """(n, 68, 2) image landmarks, NaN where no face -> canonical units, NaN kept."""
    series = np.asarray(points, np.float64)
    out = np.full(series.shape, np.nan)
    for k, frame in enumerate(series):
        if np.isfinite(frame).all():
            out[k] = to_canonical(frame)
    return out


INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # upper and lower inner-lip points facing each other


def inner_lip_gap(canonical: np.ndarray) -> np.ndarray:
    """Mouth opening: mean gap between facing inner-lip points, for (68, 2) or (n, 68, 2) points."""
    c = np.asarray(canonical, np.float64)
    return np.mean([np.linalg.norm(c[..., i, :] - c[..., j, :], axis=-1) for i, j in INNER_LIP_PAIRS], axis=0)


def mouth_corner_width(canonical: np.ndarray) -> np.ndarray:
    """Mouth width: distance between the corners (48, 54), for (68, 2) or (n, 68, 2) points."""
    c = np.asarray(canonical, np.float64)
    return np.linalg.norm(c[..., 48, :] - c[..., 54, :], axis=-1)
