"""Quality evaluation: self-reenactment on held-out speech (see QUALITY.md).

Modules, one job each: `clips` cuts a clip into template and target halves, `canonical` aligns
landmarks to a canonical face, `tracking` finds landmarks on every frame, `loudness` measures the
target audio, `metrics` turns landmark series into figures, `renderers` (and `oracle`) make the
output, `flicker` measures the frame-to-frame change of the face-aligned mouth region, `sheet`
draws the contact sheet, `report` holds the JSON records, `run` is the protocol and
`cli` the `python -m measure evaluate` command; `synthetic` makes a test clip with a known mouth
opening. Importing this package is light.
"""
from __future__ import annotations

from .errors import EvaluationError, UnusableClipError

__all__ = ["EvaluationError", "UnusableClipError"]
