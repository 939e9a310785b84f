"""LipSpool engine: render one audio onto one video (`render`), plus media helpers.

Heavy modules (PyAV, numpy) load on first use of a name that needs them, so `import engine`
stays fast and light.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    AudioTooLong,
    EngineError,
    FrameTooLarge,
    InputTooLarge,
    InvalidOptions,
    MediaError,
    RenderCancelled,
    UnknownBackendError,
)
from .lazy import lazy_names
from .options import RenderOptions

_LAZY = {
    "render": "rendering",
    "RenderResult": "rendering",
    "write_thumbnail": "thumbnail",
    "probe": "media.probe",
    "MediaInfo": "media.probe",
    "audio_duration": "media.probe",
    "available_backends": "backends",
}

if TYPE_CHECKING:
    from .backends import available_backends
    from .media.probe import MediaInfo, audio_duration, probe
    from .rendering import RenderResult, render
    from .thumbnail import write_thumbnail


__getattr__ = lazy_names(__name__, globals(), _LAZY)

def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["AudioTooLong", "EngineError", "FrameTooLarge", "InputTooLarge", "InvalidOptions", "MediaError",
           "MediaInfo", "RenderCancelled", "RenderOptions", "RenderResult", "UnknownBackendError", "audio_duration",
           "available_backends", "probe", "render", "write_thumbnail"]
