"""Input limits: the largest picture and the longest audio a render accepts, checked before decoding.

The rule (one line each, both configurable):

- A picture (a presenter video's frames, or a PNG/JPEG portrait) is refused when it has more
  pixels than `max_pixels` (default 7680 x 4320 = 33,177,600, "8K UHD") or when either side is
  longer than `max_side` (default 8192). A 4320 x 7680 portrait 8K frame passes; a 10000 x 10000
  PNG does not (it would need gigabytes to render).
- An audio is refused when it lasts longer than `max_audio_s` seconds (default 6 hours). Long
  audio is possible: the default front end reads it in chunks, so memory stays flat.

Where a limit comes from, first match wins:

1. the render option (`RenderOptions.max_pixels`, `max_side`, `max_audio_s`; also
   `--option max_pixels=...` on the engine's command line); 0 or unset means "not given here".
   A spool job may not set them (the daemon refuses it): the daemon's limits are its operator's;
2. the environment variables LIPSPOOL_MAX_PIXELS (a number, or WIDTHxHEIGHT whose product is
   used, e.g. 7680x4320), LIPSPOOL_MAX_SIDE (pixels) and LIPSPOOL_MAX_AUDIO_S (seconds, or a
   number with an s/m/h suffix, e.g. 6h);
3. the defaults above.

The checks read the stream headers (PyAV/FFmpeg's probe, or the PNG/JPEG header itself), so a
refused file is never decoded. render() puts its limits in effect for everything it calls
(`limits_in_effect`); other callers get the environment's (`active_limits`). This module is
light (no media libraries) so options can be validated anywhere.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from .errors import InvalidOptions

DEFAULT_MAX_PIXELS = 7680 * 4320
DEFAULT_MAX_SIDE = 8192
DEFAULT_MAX_AUDIO_S = 6 * 3600.0
ENV_MAX_PIXELS = "LIPSPOOL_MAX_PIXELS"
ENV_MAX_SIDE = "LIPSPOOL_MAX_SIDE"
ENV_MAX_AUDIO_S = "LIPSPOOL_MAX_AUDIO_S"
# the render options that set each limit, and the environment variable behind each
OPTION_ENV = {"max_pixels": ENV_MAX_PIXELS, "max_side": ENV_MAX_SIDE, "max_audio_s": ENV_MAX_AUDIO_S}

_SIZE = re.compile(r"^\s*(\d+)\s*[x×*]\s*(\d+)\s*$", re.IGNORECASE)
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*$", re.IGNORECASE)
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class InputLimits:
    """The largest picture (pixels, longest side) and the longest audio (seconds) a render accepts."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_side: int = DEFAULT_MAX_SIDE
    max_audio_s: float = DEFAULT_MAX_AUDIO_S

    def frame_fits(self, width: int, height: int) -> bool:
        """Whether a width x height picture is within the limits."""
        return width * height <= self.max_pixels and max(width, height) <= self.max_side

    def audio_fits(self, seconds: float) -> bool:
        """Whether `seconds` of audio are within the limit."""
        return seconds <= self.max_audio_s

    def overridden(self, **values: Any) -> InputLimits:
        """These limits with the given ones replaced (a value of 0 or None keeps the current one)."""
        parsers = {"max_pixels": parse_pixels, "max_side": parse_side, "max_audio_s": parse_seconds}
        changes = {}
        for name, value in values.items():
            if name not in parsers:
                raise TypeError(f"unknown limit {name!r}")
            if value not in (None, 0, "", "0"):
                changes[name] = parsers[name](value, name)
        return replace(self, **changes) if changes else self


def parse_pixels(value: Any, name: str = "max_pixels") -> int:
    """A pixel count from a positive whole number or "WIDTHxHEIGHT" (their product)."""
    if isinstance(value, str):
        size = _SIZE.match(value)
        if size:
            pixels = int(size.group(1)) * int(size.group(2))
            if pixels > 0:
                return pixels
        elif value.strip().isdigit() and int(value) > 0:
            return int(value)
    elif _whole(value) and value > 0:
        return int(value)
    raise InvalidOptions(f"{name} must be a number of pixels or WIDTHxHEIGHT (e.g. 7680x4320), got {value!r}")


def parse_side(value: Any, name: str = "max_side") -> int:
    """A side length in pixels from a positive whole number (or its text)."""
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    if not isinstance(value, str) and _whole(value) and value > 0:
        return int(value)
    raise InvalidOptions(f"{name} must be a whole number of pixels, e.g. 8192, got {value!r}")


def parse_seconds(value: Any, name: str = "max_audio_s") -> float:
    """Seconds from a positive number, or text with an optional s/m/h unit (e.g. "90m", "6h")."""
    seconds = None
    if isinstance(value, str):
        m = _SECONDS.match(value)
        if m:
            seconds = float(m.group(1)) * _UNIT_S[m.group(2).lower()]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise InvalidOptions(f"{name} must be a positive number of seconds, or e.g. 90m or 6h, got {value!r}")
    return seconds


def _whole(value: Any) -> bool:
    """A real number (not a bool) with no fractional part."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and float(value).is_integer()


def limits_from_env(environ: Mapping[str, str] | None = None) -> InputLimits:
    """The defaults with any LIPSPOOL_MAX_* environment variable applied (InvalidOptions if one is bad)."""
    env = os.environ if environ is None else environ
    values = {option: env.get(var, "").strip() for option, var in OPTION_ENV.items()}
    try:
        return InputLimits().overridden(**values)
    except InvalidOptions as exc:
        option = str(exc).split(" ", 1)[0]
        raise InvalidOptions(f"the environment variable {OPTION_ENV.get(option, option)}"
                             f"{str(exc)[len(option):]}") from None


def limits_for(max_pixels: Any = 0, max_side: Any = 0, max_audio_s: Any = 0) -> InputLimits:
    """The limits a render with these option values works under (see the module doc for the order)."""
    return limits_from_env().overridden(max_pixels=max_pixels, max_side=max_side, max_audio_s=max_audio_s)


_ACTIVE: ContextVar[InputLimits | None] = ContextVar("lipspool_input_limits", default=None)


def active_limits() -> InputLimits:
    """The limits in effect here: a render's own (see limits_in_effect), else the environment's."""
    limits = _ACTIVE.get()
    return limits if limits is not None else limits_from_env()


@contextmanager
def limits_in_effect(limits: InputLimits) -> Iterator[InputLimits]:
    """Make `limits` the active ones for this block (and the threads engine.prefetch starts in it)."""
    token = _ACTIVE.set(limits)
    try:
        yield limits
    finally:
        _ACTIVE.reset(token)


def describe_pixels(pixels: int) -> str:
    """A pixel count for a message: "33.2 megapixels" (or "40000 pixels" when small)."""
    return f"{pixels / 1e6:.1f} megapixels" if pixels >= 100_000 else f"{pixels} pixels"


def describe_seconds(seconds: float) -> str:
    """A duration for a message: "6:00:00" (hours, minutes, seconds)."""
    total = int(round(seconds))
    return f"{total // 3600}:{total // 60 % 60:02d}:{total % 60:02d}"
