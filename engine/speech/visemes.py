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
FALLOFF_S = 0.045  # beyond half a phone's length, its pull halves every ~30 ms

# phone: (opening 0..1, width -1..1, rounding 0..1, dominance)
PHONE_TARGETS: dict[str, tuple[float, float, float, float]] = {
    "AA": (1.00, 0.20, 0.0, 1.0), "AE": (0.85, 0.50, 0.0, 1.0), "AH": (0.65, 0.10, 0.0, 0.8),
    "AO": (0.80, -0.30, 0.5, 1.0), "AW": (0.85, -0.10, 0.4, 1.0), "AY": (0.85, 0.30, 0.0, 1.0),
    "EH": (0.60, 0.40, 0.0, 0.9), "ER": (0.35, -0.30, 0.5, 0.8), "EY": (0.50, 0.50, 0.0, 0.9),
    "IH": (0.40, 0.50, 0.0, 0.8), "IY": (0.30, 0.70, 0.0, 0.9), "OW": (0.60, -0.50, 0.8, 1.0),
    "OY": (0.65, -0.30, 0.6, 1.0), "UH": (0.35, -0.40, 0.6, 0.8), "UW": (0.25, -0.70, 1.0, 1.0),
    "B": (0.00, 0.00, 0.0, 2.0), "P": (0.00, 0.00, 0.0, 2.0), "M": (0.00, 0.00, 0.0, 2.0),
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


def phone_curves(segments: Sequence[PhoneSegment], duration_s: float) -> np.ndarray:
    """(hops, 3) coarticulated opening, width, rounding on a 10 ms hop covering duration_s."""
    hops = max(1, int(np.ceil(duration_s / HOP_S)))
    t = (np.arange(hops) + 0.5) * HOP_S
    if not segments:
        return np.zeros((hops, 3))
    targets = np.array([phone_target(s.phone) for s in segments])
    centres = np.array([s.centre_s for s in segments])
    halves = np.array([max(0.5 * (s.end_s - s.start_s), HOP_S) for s in segments])
    out = np.zeros((hops, 3))
    weight_sum = np.zeros(hops)
    # each phone only pulls within a few hundred ms: loop over phones, touch a window each
    reach = halves + 6 * FALLOFF_S
    for i in range(len(segments)):
        lo = max(0, int((centres[i] - reach[i]) / HOP_S))
        hi = min(hops, int((centres[i] + reach[i]) / HOP_S) + 1)
        if lo >= hi:
            continue
        d = np.maximum(np.abs(t[lo:hi] - centres[i]) - halves[i], 0.0)
        w = targets[i, 3] * np.exp(-d / FALLOFF_S)
        out[lo:hi] += w[:, None] * targets[i, None, :3]
        weight_sum[lo:hi] += w
    return out / np.maximum(weight_sum, 1e-9)[:, None]
