"""What each template frame's mouth is doing, from its 68 landmarks in the canonical face frame.

Every threshold is relative to the presenter's own neutral mouth (`MouthNeutral`, taken from the
series itself), and lengths are in units of that neutral mouth's width, so a wide or a narrow
mouth, a big or a small face and a head that is a little turned all give the same classes.

Features of one frame (canonical units, y down; see `engine.faces.canonical`):

- opening: the mean gap between facing inner-lip points (`inner_lip_gap`);
- width: the corner-to-corner distance (`mouth_corner_width`);
- lift: how far the two corners (48, 54) sit above the inner lips' midline (positive: above);
  a smile raises the corners against the lips, speech moves both together. Lift still grows a
  little as the mouth opens (the lower lip drops further than the corners), so it is compared
  with what this presenter's own non-wide mouths show at the same opening (a robust line fit);
- tilt: the right corner's height minus the left's; a one-sided smirk tilts the mouth against
  the presenter's usual tilt. A turned head tilts the mouth too (the mouth lies in front of the
  eyes), so the usual tilt is a robust line in the head's yaw (`head_pose`'s proxy), fitted to
  this presenter's frames; it also absorbs a face's own asymmetry.

Classes, checked in this order (the first that fits wins):

- NO_FACE: no landmarks in the frame;
- OCCLUDED: landmarks a mouth cannot have (lips crossed, a width far from the neutral, the mouth
  far from its usual place under the nose): a hand, a microphone or a bad fit;
- ASYMMETRIC: one corner clearly higher than the other, against the presenter's usual tilt;
- EXPRESSION: a smile or grin: much wider than the neutral with the corners raised, or so wide
  that no speech sound explains it;
- CLOSED: lips together, about the neutral opening;
- SPEECH: an open mouth of a speech-like shape (everything else).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np

from ..faces.canonical import inner_lip_gap, mouth_corner_width
from ..faces.geometry import head_pose

INNER_UPPER, INNER_LOWER = (61, 62, 63), (65, 66, 67)
LEFT_CORNER, RIGHT_CORNER = 48, 54
NOSE_BASE = 33

# Thresholds, in units of the presenter's neutral mouth width unless said otherwise.
CLOSED_ABOVE_NEUTRAL = 0.045  # opening above the presenter's closed lips still counted closed
SMILE_WIDTH = 1.12  # times the neutral width: at least this wide ...
SMILE_LIFT = 0.035  # ... and the corners this much higher than the presenter's at that opening
GRIN_WIDTH = 1.25  # times the neutral width: this wide is an expression whatever the corners do
ASYMMETRY = 0.05  # one corner this much higher than the other, beyond the presenter's usual tilt
OCCLUDED_WIDTH = (0.55, 1.7)  # times the neutral width: outside this, the landmarks are not a mouth
OCCLUDED_SHIFT = 0.35  # the mouth's centre this far from its usual place
OCCLUDED_CROSSED = 0.05  # upper inner lip this far below the lower one


class MouthClass(StrEnum):
    """What one frame's mouth shows (a str: compares equal to its value, also inside NumPy arrays)."""

    SPEECH = "speech"
    CLOSED = "closed"
    EXPRESSION = "expression"
    ASYMMETRIC = "asymmetric"
    OCCLUDED = "occluded"
    NO_FACE = "no_face"


USABLE_FOR_SPEECH = (MouthClass.SPEECH, MouthClass.CLOSED)  # mouths a lip-sync may draw speech from


@dataclass(frozen=True)
class MouthFeatures:
    """Per-frame mouth measurements (NaN where there is no face), canonical units."""

    opening: np.ndarray
    width: np.ndarray
    lift: np.ndarray
    tilt: np.ndarray
    centre: np.ndarray  # (n, 2) mouth centre relative to the nose base
    crossing: np.ndarray  # upper inner lip's height minus the lower's (positive: crossed)
    yaw: np.ndarray  # head turn proxy (`head_pose`): the nose tip's offset across the face

    @property
    def valid(self) -> np.ndarray:
        """Frames that have a face."""
        return np.isfinite(self.opening) & np.isfinite(self.width) & np.isfinite(self.lift)


@dataclass(frozen=True)
class MouthNeutral:
    """The presenter's own resting mouth, which every threshold is measured against."""

    width: float  # a lower percentile of the width: neither smiling nor rounding much
    opening: float  # the opening of their closed lips (a low percentile)
    lift_base: float  # lift of their non-wide mouths at zero opening ...
    lift_slope: float  # ... and its growth per unit of opening
    tilt: float  # their usual corner tilt with the head straight ...
    tilt_yaw: float  # ... and its change per unit of yaw
    centre: tuple[float, float]  # usual mouth centre relative to the nose base

    def to_dict(self) -> dict[str, float | list[float]]:
        """JSON-friendly form, rounded."""
        return {k: (round(v, 4) if isinstance(v, float) else [round(x, 4) for x in v]) for k, v in asdict(self).items()}


def mouth_features(canonical_points: np.ndarray) -> MouthFeatures:
    """The mouth measurements of (n, 68, 2) canonical landmarks (NaN rows: no face)."""
    c = np.asarray(canonical_points, np.float64)
    if c.ndim != 3 or c.shape[1:] != (68, 2):
        raise ValueError(f"expected (n, 68, 2) canonical landmarks, got shape {c.shape}")
    upper = c[:, INNER_UPPER, 1].mean(axis=1)
    lower = c[:, INNER_LOWER, 1].mean(axis=1)
    corners_y = (c[:, LEFT_CORNER, 1] + c[:, RIGHT_CORNER, 1]) / 2
    centre = (c[:, LEFT_CORNER] + c[:, RIGHT_CORNER]) / 2 - c[:, NOSE_BASE]
    yaw = np.full(len(c), np.nan)
    for k in np.flatnonzero(np.isfinite(c).all(axis=(1, 2))):
        yaw[k] = head_pose(c[k])[1]  # a similarity (the canonical map) leaves the proxy unchanged
    with np.errstate(invalid="ignore"):
        return MouthFeatures(opening=inner_lip_gap(c), width=mouth_corner_width(c),
                             lift=(upper + lower) / 2 - corners_y,
                             tilt=c[:, RIGHT_CORNER, 1] - c[:, LEFT_CORNER, 1], centre=centre,
                             crossing=upper - lower, yaw=yaw)


def _line_fit(x: np.ndarray, y: np.ndarray, min_spread: float, slope_range: tuple[float, float]) -> tuple[float, float]:
    """(intercept, slope) of y on x, robust (refitted without the worst quarter of residuals).

    The slope is kept within slope_range, and is 0 (the intercept the median) when x spreads
    less than min_spread between its 5th and 95th percentiles: too little to learn a slope from.
    """
    if len(x) < 8 or float(np.subtract(*np.percentile(x, [95, 5]))) < min_spread:
        return (float(np.median(y)) if len(y) else 0.0), 0.0
    keep = np.ones(len(x), bool)
    slope, base = 0.0, float(np.median(y))
    for _ in range(3):
        slope, base = np.polyfit(x[keep], y[keep], 1)
        slope = float(np.clip(slope, *slope_range))
        base = float(np.median(y[keep] - slope * x[keep]))
        resid = np.abs(y - (base + slope * x))
        keep = resid <= np.percentile(resid, 75)
        if keep.sum() < 4:
            break
    return base, slope


def neutral_of(features: MouthFeatures) -> MouthNeutral | None:
    """The presenter's neutral mouth, from all of their frames; None when no frame has a face."""
    ok = features.valid
    if not ok.any():
        return None
    width, opening, lift = features.width[ok], features.opening[ok], features.lift[ok]
    w0 = float(np.percentile(width, 30))
    g0 = float(np.percentile(opening, 5))
    calm = width <= np.percentile(width, 60)  # leaves wide (smiling) mouths out of the lift baseline
    base, slope = _line_fit(opening[calm], lift[calm], 0.02, (0.0, 1.0))
    tilt0, tilt_yaw = _line_fit(features.yaw[ok], features.tilt[ok], 0.05, (0.0, 0.8))
    centre = np.median(features.centre[ok], axis=0)
    return MouthNeutral(width=max(w0, 1e-3), opening=g0, lift_base=base, lift_slope=slope, tilt=tilt0,
                        tilt_yaw=tilt_yaw, centre=(float(centre[0]), float(centre[1])))


def classify_features(features: MouthFeatures, neutral: MouthNeutral | None) -> np.ndarray:
    """MouthClass values (a str array) for measured frames against a given neutral (see module doc)."""
    n = len(features.opening)
    out = np.full(n, MouthClass.NO_FACE.value, dtype="<U10")
    ok = features.valid
    if neutral is None or not ok.any():
        return out
    unit = neutral.width
    ratio = features.width / unit
    shift = np.linalg.norm(features.centre - np.asarray(neutral.centre), axis=1) / unit
    lift_excess = (features.lift - (neutral.lift_base + neutral.lift_slope * features.opening)) / unit
    tilt_excess = np.abs(features.tilt - (neutral.tilt + neutral.tilt_yaw * features.yaw)) / unit
    with np.errstate(invalid="ignore"):
        occluded = ok & ((ratio < OCCLUDED_WIDTH[0]) | (ratio > OCCLUDED_WIDTH[1]) | (shift > OCCLUDED_SHIFT)
                         | (features.crossing / unit > OCCLUDED_CROSSED))
        asymmetric = ok & ~occluded & (tilt_excess >= ASYMMETRY)
        expression = ok & ~occluded & ~asymmetric & (
            ((ratio >= SMILE_WIDTH) & (lift_excess >= SMILE_LIFT)) | (ratio >= GRIN_WIDTH))
        closed = ok & ~occluded & ~asymmetric & ~expression & (
            features.opening <= neutral.opening + CLOSED_ABOVE_NEUTRAL * unit)
    out[ok] = MouthClass.SPEECH.value
    out[closed] = MouthClass.CLOSED.value
    out[expression] = MouthClass.EXPRESSION.value
    out[asymmetric] = MouthClass.ASYMMETRIC.value
    out[occluded] = MouthClass.OCCLUDED.value
    return out


def classify_mouths(canonical_points: np.ndarray) -> np.ndarray:
    """Classify every frame's mouth of one presenter: (n, 68, 2) canonical landmarks -> (n,) MouthClass values.

    `canonical_points` are one presenter's landmarks in the canonical face frame
    (`engine.faces.canonical.to_canonical_series`), NaN rows where the frame has no face. Give
    the whole template (or an even sample of it): the thresholds are relative to the presenter's
    own neutral mouth, estimated from these same frames (`neutral_of`), so a series of a few
    frames classifies less reliably. The result is a NumPy str array whose items compare equal
    to `MouthClass` members, e.g. `keep = np.isin(classes, USABLE_FOR_SPEECH)` or
    `classes == MouthClass.SPEECH`. SPEECH and CLOSED mouths are the ones a lip-sync can show
    while speaking; EXPRESSION (smiles), ASYMMETRIC (smirks), OCCLUDED and NO_FACE are not.
    """
    features = mouth_features(canonical_points)
    return classify_features(features, neutral_of(features))


__all__ = ["MouthClass", "MouthFeatures", "MouthNeutral", "USABLE_FOR_SPEECH", "classify_features",
           "classify_mouths", "mouth_features", "neutral_of"]
