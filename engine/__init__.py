"""LipSpool engine: render one audio onto one video (`render`), plus media helpers.

Heavy modules (PyAV, numpy) load on first use of a name that needs them, so `import engine`
stays fast and light.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute '{name}'")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["AudioTooLong", "EngineError", "FrameTooLarge", "InputTooLarge", "InvalidOptions", "MediaError",
           "MediaInfo", "RenderCancelled", "RenderOptions", "RenderResult", "UnknownBackendError", "audio_duration",
           "available_backends", "probe", "render", "write_thumbnail"]
