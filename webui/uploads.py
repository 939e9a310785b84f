"""Uploaded files: safe names on disk, a streamed copy, and a check that each is usable media.

Uploads are written in 1 MB chunks (a 2 GB presenter video never sits in memory twice); names
lose any folder part and control characters, and never overwrite an earlier file. The original
name is kept for display by the job's status (the file keeps its readable stem).
"""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from spooler.names import fit_file_name

CHUNK = 1 << 20
MAX_NAME = 120  # characters of the stem kept
AUDIO_EXT = ("wav", "mp3", "m4a", "aac", "flac", "ogg", "opus", "mp4", "mov", "mkv", "webm")
VIDEO_EXT = ("mp4", "mov", "avi", "mkv", "webm", "m4v", "png", "jpg", "jpeg")
MIN_AUDIO_S = 0.3
MAX_AUDIO_S = 3 * 3600


NAME_RESERVE = len("..part") + len("-999")  # bytes save_upload and unique_path may add to a name


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
    # cut by UTF-8 bytes, leaving room for save_upload's '.<name>.part' and unique_path's '-NNN'
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


def save_upload(source: BinaryIO, folder: Path, name: str) -> Path:
    """Copy an uploaded file into `folder` under a safe, unique name, in chunks; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = unique_path(folder, safe_name(name))
    tmp = dest.with_name(f".{dest.name}.part")
    write_upload(source, tmp)
    os.replace(tmp, dest)
    return dest


def write_upload(source: BinaryIO, dest: Path) -> None:
    """Write a whole upload to `dest` in chunks. An in-memory upload (Streamlit's UploadedFile, a
    BytesIO) is read through its buffer, without moving its read position, so two threads (the
    template check and a submit) can copy the same upload at once; other files are read from the start."""
    with open(dest, "wb") as out:
        if hasattr(source, "getbuffer"):
            with source.getbuffer() as view:
                for start in range(0, len(view), CHUNK):
                    out.write(view[start:start + CHUNK])
            return
        if hasattr(source, "seek"):
            source.seek(0)
        while chunk := source.read(CHUNK):
            out.write(chunk)


@dataclass(frozen=True)
class Checked:
    """A usable input: its path and duration (0 for a still image)."""

    path: Path
    duration_s: float


def _probe(path: Path, kind: str):  # noqa: ANN202 - engine.media.probe.MediaInfo
    """The engine's probe of a file, its error turned into UploadRejected."""
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
