"""Exceptions the engine raises; every message says what went wrong and what to do."""
from __future__ import annotations


class EngineError(Exception):
    """Base class: a render could not be done. str(exc) is one readable line for a user."""


class MediaError(EngineError):
    """An input could not be opened or decoded (corrupt, unsupported, no stream)."""


class InvalidOptions(EngineError):
    """A render option has a value the engine cannot use; the message names the option."""


class UnknownBackendError(EngineError):
    """The requested backend does not exist or is not usable on this machine."""


class RenderCancelled(EngineError):
    """Raised by a progress callback to stop a render between frames.

    The engine never catches it: it propagates to the caller, and no output is left behind.
    """


class CheckpointError(EngineError):
    """A model checkpoint is missing, unreadable, or belongs to another model; the message says which."""
