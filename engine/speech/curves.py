"""The records a front end produces and learns from."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MouthCurves:
    """Per-frame mouth targets at `fps`: opening (0 = closed, ~1 = wide open), width and rounding
    (both centred on the speaker's neutral, about -1..1), and whether speech is heard there.

    Front ends that predict the whole mouth shape also give `shape`, (frames, components) scores
    of `shape_basis` ((components, 40): directions of the 20 mouth points 48-67 in the canonical
    face frame, x and y interleaved), centred on the speaker's own mean mouth."""

    fps: float
    open: np.ndarray
    width: np.ndarray
    round: np.ndarray
    speech: np.ndarray
    shape: np.ndarray | None = None
    shape_basis: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return len(self.open)

    @classmethod
    def closed(cls, fps: float, n_frames: int) -> MouthCurves:
        """A closed, neutral mouth on every frame (silence)."""
        z = np.zeros(n_frames, np.float64)
        return cls(fps, z.copy(), z.copy(), z.copy(), np.zeros(n_frames, bool))


@dataclass
class PresenterSample:
    """The template's own speech (mono samples at `rate`) and its tracked mouth per video frame:
    `opening` and `width` in canonical face units, NaN where no face was found."""

    samples: np.ndarray
    rate: int
    fps: float
    opening: np.ndarray
    width: np.ndarray
