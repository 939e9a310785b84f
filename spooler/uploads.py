"""Uploaded files: safe names on disk and a check that each is usable media.

Shared by the dashboard (webui.uploads, webui.jobs) and the HTTP API (api.uploads). Names lose
any folder part and control characters and never overwrite an earlier file; the check reads
the file's headers through the engine's probe, which is imported on first use only (PyAV), so
importing this module stays light.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .names import fit_file_name

MAX_NAME = 120  # characters of the stem kept
AUDIO_EXT = ("wav", "mp3", "m4a", "aac", "flac", "ogg", "opus", "mp4", "mov", "mkv", "webm")
VIDEO_EXT = ("mp4", "mov", "avi", "mkv", "webm", "m4v", "png", "jpg", "jpeg")
MIN_AUDIO_S = 0.3
MAX_AUDIO_S = 3 * 3600

NAME_RESERVE = len("..part") + len("-999")  # bytes a '.<name>.part' temporary and unique_path's '-NNN' may add


class UploadRejected(ValueError):
    """An uploaded file cannot be used; the message says why, for the user."""


def safe_name(name: str) -> str:
    """A file name with no folders, no control or reserved characters, not hidden, never empty."""
    base = re.split(r"[\\\\/]", str(name))[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    base = re.sub(r'[<>:"|?*]', "_", base).strip().lstrip(".")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = re.sub(r"[^0-9A-Za-z]", "", ext)[:8].lower()
    # cut by UTF-8 bytes, leaving room for a '.<name>.part' temporary and unique_path's '-NNN'
    return fit_file_name(stem.strip()[:MAX_NAME] or "file", f".{ext}" if ext else "", reserve=NAME_RESERVE)


def unique_path(folder: Path, name: str) -> Path:
    """folder/name, or folder/stem-2.ext, -3, ... when taken."""
    candidate = folder / name
    stem, suffix = candidate.stem, candidate.suffix
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


@dataclass(frozen=True)
class Checked:
    """A usable input: its path and duration (0 for a still image)."""

    path: Path
    duration_s: float


def _probe(path: Path, kind: str) -> Any:
    """The engine's probe of a file (engine.media.probe.MediaInfo), its error turned into UploadRejected."""
    from engine.errors import EngineError
    from engine.media.probe import probe

    try:
        return probe(path, kind)
    except EngineError as exc:
        raise UploadRejected(str(exc)) from exc


def check_audio(path: Path) -> Checked:
    """The file has a sound track of a usable length; UploadRejected otherwise."""
    info = _probe(path, "audio")
    if not info.has_audio:
        raise UploadRejected("no sound track in this file")
    if not MIN_AUDIO_S <= info.duration_s <= MAX_AUDIO_S:
        raise UploadRejected(f"the sound lasts {info.duration_s:.1f} s; use {MIN_AUDIO_S} s to 3 hours")
    return Checked(path, info.duration_s)


def check_video(path: Path) -> Checked:
    """The file has a picture (a video or a still image); UploadRejected otherwise."""
    info = _probe(path, "video")
    if not info.has_video:
        raise UploadRejected("no picture in this file")
    return Checked(path, info.duration_s)
