"""Where Praat puts its analysis frames, computed without running Praat (for chunked analysis).

Praat centres the frames of a pitch or formant analysis in the sound it is given, so a piece of a
long sound gets frames on the same time grid as the whole sound only if the piece starts on a hop
and its length matches the whole's modulo a hop. These are Praat's own formulas (Sampled
shortTermAnalysis, Sound_resample, Sound_to_Formant), in the same floating-point steps, so the
whole sound's first frame time is known bit for bit (a hop then maps to the same frame as in
`formants._on_grid` on the whole sound) and a chunk can be checked to be aligned before it is
analysed. `streamed_formants` checks each chunk's actual frame times against these.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .features import ANALYSIS_RATE, HOP_S
from .formants import PITCH_FLOOR_HZ

PITCH_PERIODS = 3.0  # Praat's pitch (autocorrelation) window: 3 periods of the pitch floor
FORMANT_WINDOW_S = 0.025  # Praat's Burg formant window (it analyses twice this)
ALIGN_TOLERANCE = 1e-6  # in frames (or resampled samples): closer than this counts as aligned


@dataclass(frozen=True)
class FrameGrid:
    """Frames first + i * step (i < n_frames); `sample_x1` is the analysed sound's first sample time
    (after Praat's resampling, for formants)."""

    n_frames: int
    first: float
    step: float
    sample_x1: float
    sample_rate: float


def _short_term(x1: float, dx: float, nx: int, window: float, step: float) -> tuple[int, float]:
    """Praat's Sampled_shortTermAnalysis: (frames, first frame time)."""
    my_duration = dx * nx
    n_frames = math.floor((my_duration - window) / step) + 1
    mid = x1 - 0.5 * dx + 0.5 * my_duration
    return n_frames, mid - 0.5 * (n_frames * step) + 0.5 * step


def pitch_grid(start: int, n: int, rate: int = ANALYSIS_RATE) -> FrameGrid:
    """Frames of Praat's pitch (to_pitch, HOP_S steps) on the n samples from sample `start`."""
    dx = 1.0 / rate
    x1 = start / rate + 0.5 * dx
    n_frames, first = _short_term(x1, dx, n, PITCH_PERIODS / PITCH_FLOOR_HZ, HOP_S)
    return FrameGrid(n_frames, first, (first + HOP_S) - first, x1, float(rate))


def formant_grid(start: int, n: int, ceiling: float, rate: int = ANALYSIS_RATE) -> FrameGrid:
    """Frames of Praat's Burg formants (HOP_S steps, resampled to twice `ceiling`) on those samples."""
    xmin = start / rate
    xmax = xmin + n / rate
    new_rate = 2.0 * ceiling
    ns = math.floor((xmax - xmin) * new_rate + 0.5)
    dx = 1.0 / new_rate
    x1 = 0.5 * (xmin + xmax - (ns - 1) / new_rate)
    duration = dx * ns
    n_frames = math.floor((duration - 2.0 * FORMANT_WINDOW_S) / HOP_S) + 1
    first = x1 + 0.5 * (duration - dx - (n_frames - 1) * HOP_S)
    return FrameGrid(n_frames, first, (first + HOP_S) - first, x1, new_rate)


def frame_offset(first: float, whole: FrameGrid) -> int | None:
    """Whole-sound frame index of a frame at time `first`, or None if it falls between the whole's frames."""
    frames = (first - whole.first) / HOP_S
    return int(round(frames)) if abs(frames - round(frames)) <= ALIGN_TOLERANCE else None


def aligned(part: FrameGrid, whole: FrameGrid) -> bool:
    """Whether a piece's frames and (resampled) samples fall on the whole sound's."""
    samples = (part.sample_x1 - whole.sample_x1) * whole.sample_rate
    return frame_offset(part.first, whole) is not None and abs(samples - round(samples)) <= ALIGN_TOLERANCE
