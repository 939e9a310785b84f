"""ClipData: one real clip's sound and tracked mouth, frame-aligned, as the front-end tools use it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.speech.features import ANALYSIS_RATE

from .speakers import speaker_of


@dataclass
class ClipData:
    """A clip's sound and tracked mouth, frame-aligned, cut into template [0, k) and target [k, n)."""

    name: str
    fps: float
    k: int
    n: int
    short: bool
    opening: np.ndarray  # (n,) smoothed inner-lip opening, canonical units
    width: np.ndarray  # (n,)
    audio: np.ndarray  # mono 16 kHz under frames [0, n)
    mouth: np.ndarray | None = None  # (n, 20, 2) canonical mouth points 48-67, NaN where no face

    @property
    def speaker(self) -> str:
        """The speaker group (clips of one person share it)."""
        return speaker_of(self.name)

    def samples(self, start: int, stop: int) -> np.ndarray:
        """The sound under frames [start, stop)."""
        a, b = (int(round(f / self.fps * ANALYSIS_RATE)) for f in (start, stop))
        out = self.audio[a:b]
        return np.pad(out, (0, max(0, b - a - len(out))))
