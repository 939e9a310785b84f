"""Exceptions of the quality evaluator; each message says what to do about it."""
from __future__ import annotations

from engine.errors import EngineError


class EvaluationError(EngineError):
    """An evaluation could not be carried out (bad clip, failed render, unusable landmarks)."""


class UnusableClipError(EvaluationError):
    """A clip cannot serve as ground truth: no audio, no video, too short, or no face in it."""
