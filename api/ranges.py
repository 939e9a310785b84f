"""Results served from disk with HTTP range requests (206, Content-Range; 416 for a bad range).

One range per request (what players and resumable downloads send): `bytes=a-b`, `bytes=a-` and
`bytes=-n`. A header in another unit is ignored (the whole file, 200), as HTTP says; a bytes
range that does not parse, asks for several ranges, or starts past the end is answered 416
with `Content-Range: bytes */<size>`. An `If-Range` that does not match the file's ETag or date
gets the whole file. The file is read through a descriptor opened before the answer starts, in
256 KB pieces off the event loop.
"""
from __future__ import annotations

import hashlib
import mimetypes
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import formatdate

import anyio
from starlette.responses import Response, StreamingResponse

from .errors import RangeNotSatisfiable

CHUNK = 256 * 1024
MAX_HEADER = 200  # characters of a Range header looked at; a longer one is refused
_SPEC = re.compile(r"(\d{0,19})-(\d{0,19})")


@dataclass(frozen=True)
class ByteRange:
    """Bytes start..end of a file, both included."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range a Range header asks of a file of `size` bytes; None for the whole file (no header,
    or another unit); RangeNotSatisfiable when it cannot be served."""
    if header is None:
        return None
    unit, eq, spec = header.strip().partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    refused = RangeNotSatisfiable(f"cannot serve range {header[:60]!r} of a {size}-byte file; ask for one range "
                                  f"within bytes 0-{max(size - 1, 0)}", headers={"Content-Range": f"bytes */{size}"})
    match = _SPEC.fullmatch(spec.strip()) if len(header) <= MAX_HEADER else None
    if match is None or match.group(0) == "-":
        raise refused
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if start >= size or (last and int(last) < start):
            raise refused
    else:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise refused
        start, end = max(size - suffix, 0), size - 1
    return ByteRange(start, end)


def etag_of(st: os.stat_result) -> str:
    """A strong validator of one version of a file (its inode, size and modification time)."""
    digest = hashlib.sha256(f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def content_type(name: str) -> str:
    """The MIME type of a result by its name (video/mp4, image/jpeg, ...)."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


async def _read(fd: int, start: int, length: int) -> AsyncIterator[bytes]:
    """`length` bytes of an open file from `start`, in pieces; closes the descriptor at the end."""
    try:
        offset, left = start, length
        while left > 0:
            data = await anyio.to_thread.run_sync(os.pread, fd, min(CHUNK, left), offset)
            if not data:
                break  # the file shrank meanwhile: the client sees a short body
            offset += len(data)
            left -= len(data)
            yield data
    finally:
        os.close(fd)


def file_response(fd: int, name: str, range_header: str | None, if_range: str | None,
                  head: bool = False) -> Response:
    """The answer serving an open file (whose descriptor it takes over): 200 whole, 206 one range, or
    RangeNotSatisfiable (the descriptor is then closed)."""
    try:
        st = os.fstat(fd)
        etag, modified = etag_of(st), formatdate(st.st_mtime, usegmt=True)
        wanted = parse_range(range_header, st.st_size)
        if wanted is not None and if_range is not None and if_range.strip() not in (etag, modified):
            wanted = None  # the file changed since the client's first piece: send it whole
    except BaseException:
        os.close(fd)
        raise
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Last-Modified": modified,
               "Content-Disposition": _disposition(name)}
    if wanted is None:
        start, length, status = 0, st.st_size, 200
    else:
        start, length, status = wanted.start, wanted.length, 206
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{st.st_size}"
    headers["Content-Length"] = str(length)
    if head:
        os.close(fd)
        return Response(status_code=status, headers=headers, media_type=content_type(name))
    return StreamingResponse(_read(fd, start, length), status_code=status, headers=headers,
                             media_type=content_type(name))


def _disposition(name: str) -> str:
    """Content-Disposition naming the download (RFC 6266; non-ASCII names in filename*)."""
    from urllib.parse import quote

    plain = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"inline; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
