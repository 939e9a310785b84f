"""ZIP archives of results: unique names inside the archive, and a ZIP streamed while it is written.

The dashboard writes its exports to disk (webui.export); the HTTP API streams them to the client
(`stream_zip`): each file is copied in 1 MB chunks into a stored (uncompressed: MP4s do not
compress) entry, and the bytes are handed on as they are produced, so neither the archive nor a
file is ever held whole in memory or written anywhere first. Sizes and CRCs follow each entry
(data descriptors), with ZIP64 records where needed.
"""
from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

CHUNK = 1 << 20
ZIP_EPOCH = 315532800.0  # 1980-01-01: ZIP dates start there


def archive_names(names: Iterable[str]) -> list[str]:
    """The names made unique in order: a repeated 'a.mp4' becomes 'a-2.mp4', 'a-3.mp4', ..."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        arc, n = name, 2
        while arc in seen:
            stem, dot, ext = name.rpartition(".")
            arc = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
            n += 1
        seen.add(arc)
        out.append(arc)
    return out


class _Pipe:
    """A write-only, unseekable stream that keeps what was written until `take` hands it on."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: `take` hands the bytes on."""

    def take(self) -> bytes:
        """Everything written since the last call."""
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def stream_zip(files: Sequence[tuple[Path, str]], chunk: int = CHUNK) -> Iterator[bytes]:
    """The bytes of a ZIP of (path, name in the archive) pairs, yielded as they are written.

    Names are made unique (`archive_names`); a file is read in `chunk`-sized pieces, so memory
    stays flat in the files' sizes. A file that cannot be read raises OSError mid-stream.
    """
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:  # type: ignore[call-overload]
        for (path, _), arc in zip(files, archive_names(name for _, name in files)):
            with open(path, "rb") as src:
                st = os.fstat(src.fileno())
                info = zipfile.ZipInfo(arc, date_time=time.localtime(max(st.st_mtime, ZIP_EPOCH))[:6])
                info.compress_type = zipfile.ZIP_STORED
                info.file_size = st.st_size
                with zf.open(info, "w", force_zip64=st.st_size > zipfile.ZIP64_LIMIT) as dest:
                    while data := src.read(chunk):
                        dest.write(data)
                        if out := pipe.take():
                            yield out
    if out := pipe.take():
        yield out
