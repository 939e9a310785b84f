"""The `rewrite` backend: the presenter's own mouths, chosen to say the new audio.

In the spirit of Video Rewrite (Bregler et al. 1997): the template video's usable frames form a
mouth library (`library`), the audio front end (`engine.speech`) predicts the mouth shape each
output frame needs, a sequence search (`select`) picks library mouths that match it and the
destination's head pose with few jumps, and the compositing (`engine.composite`) warps each
chosen mouth onto the destination frame and blends it in. Nothing outside the lower face changes.
A template without enough mouth variety (a photo, a closed-mouth presenter) falls back to a
landmark-driven warp of the frame's own mouth (`fallback`).
"""
from __future__ import annotations

from .options import RewriteOptions

__all__ = ["RewriteOptions"]
