"""Uploaded files: a streamed copy onto disk; the safe names and the media check are shared with
the HTTP API (spooler.uploads).

Uploads are written in 1 MB chunks (a 2 GB presenter video never sits in memory twice); names
lose any folder part and control characters, and never overwrite an earlier file. The original
name is kept for display by the job's status (the file keeps its readable stem).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from spooler.uploads import (
    AUDIO_EXT,
    MAX_AUDIO_S,
    MAX_NAME,
    MIN_AUDIO_S,
    NAME_RESERVE,
    VIDEO_EXT,
    Checked,
    UploadRejected,
    check_audio,
    check_video,
    safe_name,
    unique_path,
)

CHUNK = 1 << 20

__all__ = ["AUDIO_EXT", "CHUNK", "MAX_AUDIO_S", "MAX_NAME", "MIN_AUDIO_S", "NAME_RESERVE", "VIDEO_EXT", "Checked",
           "UploadRejected", "check_audio", "check_video", "safe_name", "save_upload", "unique_path", "write_upload"]


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
