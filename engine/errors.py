"""Exceptions the engine raises; every message says what went wrong and what to do."""
from __future__ import annotations


class EngineError(Exception):
    """Base class: a render could not be done. str(exc) is one readable line for a user."""


class MediaError(EngineError):
    """An input could not be opened or decoded (corrupt, unsupported, no stream)."""


class InputTooLarge(MediaError):
    """An input is over a size limit (engine.limits); the message names the file, its size, the limit
    and how to raise it. Raised from the stream headers, before anything is decoded."""


class FrameTooLarge(InputTooLarge):
    """A video's frames (or a picture) have more pixels, or a longer side, than the limit allows."""


class AudioTooLong(InputTooLarge):
    """An audio lasts longer than the limit allows."""


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
