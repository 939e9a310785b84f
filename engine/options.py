"""RenderOptions: what a caller may ask of one render, as a JSON-friendly dataclass.

This module is light (no media libraries), so the spooler and the dashboard can validate a
job's options before it is queued.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import InvalidOptions
from .limits import parse_pixels, parse_seconds, parse_side

DEFAULT_BACKEND = "rewrite"
DEVICES = ("cpu", "cuda")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass
class RenderOptions:
    """Options for one render; unknown keys in a dict are kept in `extra` for the backend."""

    backend: str = DEFAULT_BACKEND
    device: str = "cpu"  # "cpu" or "cuda"
    crf: int = 20  # x264 quality: lower is better and bigger (18..28 sensible)
    preset: str = "veryfast"  # x264 speed/size trade-off
    cache_dir: str = ""  # where per-video analysis is cached ("" = no cache); the daemon uses <root>/cache
    # input limits (engine.limits); 0 = LIPSPOOL_MAX_PIXELS / _SIDE / _AUDIO_S, else 7680x4320, 8192, 6 h
    max_pixels: int = 0  # most pixels a presenter frame may have; "WIDTHxHEIGHT" is accepted too
    max_side: int = 0  # longest side a presenter frame may have, in pixels
    max_audio_s: float = 0.0  # longest audio, in seconds ("90m" and "6h" are accepted too)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.backend, str) or not self.backend:
            raise InvalidOptions(f"backend must be a name, got {self.backend!r}")
        if self.device not in DEVICES:
            raise InvalidOptions(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if isinstance(self.crf, bool) or not isinstance(self.crf, (int, float)) or not 0 <= self.crf <= 51:
            raise InvalidOptions(f"crf must be a number from 0 (lossless) to 51, got {self.crf!r}")
        self.crf = int(self.crf)
        if self.preset not in X264_PRESETS:
            raise InvalidOptions(f"preset must be one of {', '.join(X264_PRESETS)}, got {self.preset!r}")
        if not isinstance(self.cache_dir, str):
            raise InvalidOptions(f"cache_dir must be a folder path, got {self.cache_dir!r}")
        if not isinstance(self.extra, dict):
            raise InvalidOptions(f"extra must be an object, got {self.extra!r}")
        self.max_pixels = 0 if _unset(self.max_pixels) else parse_pixels(self.max_pixels)
        self.max_side = 0 if _unset(self.max_side) else parse_side(self.max_side)
        self.max_audio_s = 0.0 if _unset(self.max_audio_s) else parse_seconds(self.max_audio_s)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "RenderOptions":
        """Build from a job's `options` dict, validated; keys the engine does not know go to `extra`."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)} - {"extra"}
        kwargs = {k: data.pop(k) for k in list(data) if k in known}
        extra = data.pop("extra", {}) or {}
        if not isinstance(extra, dict):
            raise InvalidOptions(f"extra must be an object, got {extra!r}")
        return cls(**kwargs, extra={**extra, **data})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (inverse of from_dict)."""
        return asdict(self)


def _unset(value: Any) -> bool:
    """An input limit left to the environment or the default: 0, None or empty."""
    return value is None or (not isinstance(value, bool) and value in (0, "", "0"))


def parse_option_pairs(pairs: list[str]) -> dict[str, str]:
    """Command-line KEY=VALUE strings (repeatable --option) as a dict; InvalidOptions for a malformed one."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidOptions(f"--option takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def parse_flag(name: str, value: Any, allow_auto: bool = False) -> bool | None:
    """A yes/no option given as a bool, 1/0, true/false, yes/no or on/off; None for "auto" where allowed."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    if allow_auto and text == "auto":
        return None
    raise InvalidOptions(f"{name} must be {'auto, ' if allow_auto else ''}true or false, got {value!r}")
