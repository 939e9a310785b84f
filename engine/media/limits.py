"""Refuse a too-large picture or too-long audio from its headers, before FFmpeg decodes any of it.

The limits and where they come from are in `engine.limits`. A video stream's size comes from
its header (FFmpeg's probe); where FFmpeg leaves it unknown (a PNG or JPEG too big for the probe's
own pixel cap, see `open_options`) it is read from the file's PNG IHDR or JPEG SOF header. Every
decoder is also given FFmpeg's `max_pixels` so that a picture whose size no header told is
refused by the decoder instead of filling memory.
"""
from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import Any

from ..errors import AudioTooLong, FrameTooLarge
from ..limits import (
    ENV_MAX_AUDIO_S,
    ENV_MAX_PIXELS,
    ENV_MAX_SIDE,
    InputLimits,
    active_limits,
    describe_pixels,
    describe_seconds,
)

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
JPEG_SCAN_BYTES = 1 << 20  # how far into a JPEG to look for its frame header (EXIF blocks come first)


def open_options(limits: InputLimits | None = None) -> dict[str, str]:
    """Options for av.open: FFmpeg's probe never decodes a picture over the pixel limit."""
    return {"max_pixels": str((limits or active_limits()).max_pixels)}


def frame_too_large(path: str | os.PathLike[str], width: int, height: int, limits: InputLimits,
                    kind: str = "video") -> FrameTooLarge:
    """The one-line refusal of a width x height picture."""
    return FrameTooLarge(
        f"{kind} '{Path(path).name}' is {width}x{height} pixels ({describe_pixels(width * height)}), over the limit "
        f"of {describe_pixels(limits.max_pixels)} and {limits.max_side} pixels a side; scale it down, or raise the "
        f"limit with the render option max_pixels (and max_side) or the environment variable {ENV_MAX_PIXELS} "
        f"(and {ENV_MAX_SIDE})")


def audio_too_long(path: str | os.PathLike[str], seconds: float, limits: InputLimits,
                   kind: str = "audio") -> AudioTooLong:
    """The one-line refusal of an audio lasting `seconds`."""
    return AudioTooLong(
        f"{kind} '{Path(path).name}' lasts {describe_seconds(seconds)} (h:mm:ss), over the limit of "
        f"{describe_seconds(limits.max_audio_s)}; cut it, or raise the limit with the render option max_audio_s "
        f"(seconds) or the environment variable {ENV_MAX_AUDIO_S} (e.g. 8h)")


def check_frame_size(path: str | os.PathLike[str], width: int, height: int, limits: InputLimits | None = None,
                     kind: str = "video") -> None:
    """FrameTooLarge unless a width x height picture is within the limits."""
    limits = limits or active_limits()
    if not limits.frame_fits(width, height):
        raise frame_too_large(path, width, height, limits, kind)


def check_audio_seconds(path: str | os.PathLike[str], seconds: float, limits: InputLimits | None = None,
                        kind: str = "audio") -> None:
    """AudioTooLong unless `seconds` of audio are within the limit."""
    limits = limits or active_limits()
    if not limits.audio_fits(seconds):
        raise audio_too_long(path, seconds, limits, kind)


def check_video_stream(stream: Any, path: str | os.PathLike[str], limits: InputLimits | None = None,
                       kind: str = "video") -> None:
    """Refuse a video stream whose header size is over the limits; cap its decoder at the pixel limit.

    Call before decoding any frame of the stream.
    """
    limits = limits or active_limits()
    ctx = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if not width or not height:
        width, height = image_header_size(path) or (0, 0)
    if width and height:
        check_frame_size(path, width, height, limits, kind)
    else:
        log.debug("%s: picture size not in any header; the decoder enforces the pixel limit", Path(path).name)
    try:
        ctx.options = {**dict(ctx.options or {}), "max_pixels": str(limits.max_pixels)}
    except Exception as exc:  # noqa: BLE001 - an already opened decoder takes no options: the header check above stands
        log.debug("%s: could not cap the decoder's picture size: %s", Path(path).name, exc)


def image_header_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's frame header, or None for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if head.startswith(PNG_SIGNATURE) and head[12:16] == b"IHDR":
                width, height = struct.unpack(">II", head[16:24])
                return int(width), int(height)
            if head.startswith(b"\xff\xd8"):
                f.seek(0)
                return _jpeg_size(f.read(JPEG_SCAN_BYTES))
    except OSError:
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first SOFn segment of JPEG bytes, or None if not found."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xDA)):  # markers without a length
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in JPEG_SOF and i + 9 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return (int(width), int(height)) if width and height else None
        if marker == 0xDA:  # start of scan: no frame header before it
            return None
        i += 2 + length
    return None
