"""Phones to mouth-shape targets, with coarticulation.

Each phone has a target (opening, width, rounding) and a dominance: how strongly it holds the
mouth against its neighbours (a bilabial closure or an /u/ rounding wins; /h/ or /k/ take the
shape of the vowel around them), in the spirit of Cohen and Massaro's dominance model. The
curve at time t is the dominance-weighted mean of the phone targets, each weight falling off
exponentially with the distance from the phone's centre, scaled by the phone's length.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .phones import PhoneSegment

HOP_S = 0.010
FALLOFF_S = 0.045  # a vowel's pull beyond half its length halves every ~30 ms
CONSONANT_FALLOFF_S = 0.025  # a consonant's pull fades faster: strong at its centre, brief
VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})

# phone: (opening 0..1, width -1..1, rounding 0..1, dominance)
PHONE_TARGETS: dict[str, tuple[float, float, float, float]] = {
    "AA": (1.00, 0.20, 0.0, 1.0), "AE": (0.85, 0.50, 0.0, 1.0), "AH": (0.65, 0.10, 0.0, 0.8),
    "AO": (0.80, -0.30, 0.5, 1.0), "AW": (0.85, -0.10, 0.4, 1.0), "AY": (0.85, 0.30, 0.0, 1.0),
    "EH": (0.60, 0.40, 0.0, 0.9), "ER": (0.35, -0.30, 0.5, 0.8), "EY": (0.50, 0.50, 0.0, 0.9),
    "IH": (0.40, 0.50, 0.0, 0.8), "IY": (0.30, 0.70, 0.0, 0.9), "OW": (0.60, -0.50, 0.8, 1.0),
    "OY": (0.65, -0.30, 0.6, 1.0), "UH": (0.35, -0.40, 0.6, 0.8), "UW": (0.25, -0.70, 1.0, 1.0),
    "B": (0.00, 0.00, 0.0, 5.0), "P": (0.00, 0.00, 0.0, 5.0), "M": (0.00, 0.00, 0.0, 5.0),
    "F": (0.10, 0.20, 0.0, 1.5), "V": (0.10, 0.20, 0.0, 1.5),
    "TH": (0.25, 0.20, 0.0, 0.7), "DH": (0.25, 0.20, 0.0, 0.5),
    "S": (0.15, 0.40, 0.0, 0.8), "Z": (0.15, 0.40, 0.0, 0.7),
    "SH": (0.20, -0.30, 0.6, 0.9), "ZH": (0.20, -0.30, 0.6, 0.8),
    "CH": (0.20, -0.30, 0.6, 0.9), "JH": (0.20, -0.30, 0.6, 0.8),
    "T": (0.25, 0.30, 0.0, 0.4), "D": (0.25, 0.30, 0.0, 0.4), "N": (0.25, 0.30, 0.0, 0.4),
    "L": (0.35, 0.20, 0.0, 0.4), "K": (0.35, 0.10, 0.0, 0.3), "G": (0.35, 0.10, 0.0, 0.3),
    "NG": (0.30, 0.10, 0.0, 0.3), "R": (0.30, -0.30, 0.5, 0.6), "W": (0.20, -0.70, 1.0, 1.5),
    "Y": (0.30, 0.50, 0.0, 0.6), "HH": (0.50, 0.10, 0.0, 0.1),
    "SIL": (0.00, 0.00, 0.0, 1.0),
}
NOISE_TARGET = (0.10, 0.0, 0.0, 0.2)  # breath, lip smacks and other non-speech the recogniser marks


def phone_target(phone: str) -> tuple[float, float, float, float]:
    """(opening, width, rounding, dominance) of a phone; noise gets a near-closed, weak target."""
    return PHONE_TARGETS.get(phone.upper(), NOISE_TARGET)


PHONE_CLASSES = tuple(sorted(PHONE_TARGETS)) + ("NOISE",)


def _pulls(segments: Sequence[PhoneSegment], hops: int):  # noqa: ANN202 - yields (i, lo, hi, weights)
    """For each phone: the hop window it reaches and its dominance weight over that window."""
    t = (np.arange(hops) + 0.5) * HOP_S
    for i, s in enumerate(segments):
        centre, half = s.centre_s, max(0.5 * (s.end_s - s.start_s), HOP_S)
        fall = FALLOFF_S if s.phone.upper() in VOWELS else CONSONANT_FALLOFF_S
        reach = half + 6 * fall
        lo, hi = max(0, int((centre - reach) / HOP_S)), min(hops, int((centre + reach) / HOP_S) + 1)
        if lo < hi:
            d = np.maximum(np.abs(t[lo:hi] - centre) - half, 0.0)
            yield i, lo, hi, phone_target(s.phone)[3] * np.exp(-d / fall)


def phone_curves(segments: Sequence[PhoneSegment], duration_s: float) -> np.ndarray:
    """(hops, 3) coarticulated opening, width, rounding on a 10 ms hop covering duration_s."""
    hops = max(1, int(np.ceil(duration_s / HOP_S)))
    out = np.zeros((hops, 3))
    weight_sum = np.zeros(hops)
    targets = [phone_target(s.phone) for s in segments]
    for i, lo, hi, w in _pulls(segments, hops):
        out[lo:hi] += w[:, None] * np.asarray(targets[i][:3])[None, :]
        weight_sum[lo:hi] += w
    return out / np.maximum(weight_sum, 1e-9)[:, None]


def phone_weights(segments: Sequence[PhoneSegment], duration_s: float) -> np.ndarray:
    """(hops, len(PHONE_CLASSES)): each phone class's share of the mouth at each hop (rows sum to 1
    where any phone reaches), the same dominance blend as phone_curves, one column per phone."""
    hops = max(1, int(np.ceil(duration_s / HOP_S)))
    out = np.zeros((hops, len(PHONE_CLASSES)))
    index = {p: j for j, p in enumerate(PHONE_CLASSES)}
    for i, lo, hi, w in _pulls(segments, hops):
        out[lo:hi, index.get(segments[i].phone.upper(), len(PHONE_CLASSES) - 1)] += w
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-9)
