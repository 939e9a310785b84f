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


def phone_hops(duration_s: float) -> int:
    """Hops of the phone curves of a sound lasting duration_s (at least one)."""
    return max(1, int(np.ceil(duration_s / HOP_S)))


def _pull_shape(s: PhoneSegment) -> tuple[float, float]:
    """(half its length, its falloff) in seconds: how far a phone's pull reaches and fades."""
    return max(0.5 * (s.end_s - s.start_s), HOP_S), FALLOFF_S if s.phone.upper() in VOWELS else CONSONANT_FALLOFF_S


def _reach(s: PhoneSegment, hops: int) -> tuple[int, int]:
    """[lo, hi): the hops (of `hops`) a phone pulls on."""
    half, fall = _pull_shape(s)
    reach = half + 6 * fall
    return max(0, int((s.centre_s - reach) / HOP_S)), min(hops, int((s.centre_s + reach) / HOP_S) + 1)


def phone_reach(segments: Sequence[PhoneSegment], hops: int) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) per phone: the hops [lo, hi) each pulls on, to pick the phones a block of hops needs."""
    spans = np.array([_reach(s, hops) for s in segments], np.int64).reshape(-1, 2)
    return spans[:, 0], spans[:, 1]


def _pulls(segments: Sequence[PhoneSegment], hops: int, start: int, stop: int):  # noqa: ANN202 - a generator
    """For each phone: the window of hops [start, stop) it reaches and its dominance weight over that window."""
    for i, s in enumerate(segments):
        lo, hi = _reach(s, hops)
        lo, hi = max(lo, start), min(hi, stop)
        if lo < hi:
            half, fall = _pull_shape(s)
            t = (np.arange(lo, hi) + 0.5) * HOP_S
            d = np.maximum(np.abs(t - s.centre_s) - half, 0.0)
            yield i, lo, hi, phone_target(s.phone)[3] * np.exp(-d / fall)


def _window(duration_s: float, start: int, stop: int | None) -> tuple[int, int, int]:
    """(hops of the sound, first hop, end hop) of the rows asked for."""
    hops = phone_hops(duration_s)
    return hops, start, hops if stop is None else min(stop, hops)


def phone_curves(segments: Sequence[PhoneSegment], duration_s: float, start: int = 0,
                 stop: int | None = None) -> np.ndarray:
    """(hops, 3) coarticulated opening, width, rounding on a 10 ms hop covering duration_s.

    With start/stop: only hops [start, stop) of those, the same numbers (`segments` may then be
    just the phones that reach them, in order).
    """
    hops, start, stop = _window(duration_s, start, stop)
    out = np.zeros((max(0, stop - start), 3))
    weight_sum = np.zeros(len(out))
    targets = [phone_target(s.phone) for s in segments]
    for i, lo, hi, w in _pulls(segments, hops, start, stop):
        out[lo - start:hi - start] += w[:, None] * np.asarray(targets[i][:3])[None, :]
        weight_sum[lo - start:hi - start] += w
    return out / np.maximum(weight_sum, 1e-9)[:, None]


def phone_weights(segments: Sequence[PhoneSegment], duration_s: float, start: int = 0,
                  stop: int | None = None) -> np.ndarray:
    """(hops, len(PHONE_CLASSES)): each phone class's share of the mouth at each hop (rows sum to 1
    where any phone reaches), the same dominance blend as phone_curves, one column per phone;
    start/stop as for phone_curves."""
    hops, start, stop = _window(duration_s, start, stop)
    out = np.zeros((max(0, stop - start), len(PHONE_CLASSES)))
    index = {p: j for j, p in enumerate(PHONE_CLASSES)}
    for i, lo, hi, w in _pulls(segments, hops, start, stop):
        out[lo - start:hi - start, index.get(segments[i].phone.upper(), len(PHONE_CLASSES) - 1)] += w
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-9)


class PhoneBlocks:
    """phone_curves and phone_weights of a long recording's phones, block of hops by block: the same
    rows as on the whole, from only the phones that reach the block (so hours cost no more per hop)."""

    def __init__(self, segments: Sequence[PhoneSegment], duration_s: float) -> None:
        self.segments = list(segments)
        self.duration_s = duration_s
        self._lo, self._hi = phone_reach(self.segments, phone_hops(duration_s))

    def block(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(targets, class shares) of hops [start, stop): rows start..stop of phone_curves and phone_weights."""
        near = [self.segments[i] for i in np.flatnonzero((self._lo < stop) & (self._hi > start))]
        return (phone_curves(near, self.duration_s, start, stop), phone_weights(near, self.duration_s, start, stop))
