"""A multipart/form-data body streamed straight into files, with memory flat in the files' sizes.

The body is read as it arrives (`Request.stream()`), gathered into pieces of about 1 MB and
handed to python-multipart's streaming parser in a worker thread, whose callbacks write each
file part into `<folder>/.<name>.part` and rename it when the part ends; nothing is buffered
beyond one piece, and nothing goes through a temporary folder. Names are made safe and unique
(spooler.uploads). The whole body is limited (413 when it grows past the limit), and a body that
ends before the multipart's closing boundary is refused as truncated. The caller removes the
folder when anything fails.
"""
from __future__ import annotations

import email.message
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from spooler.uploads import safe_name, unique_path

from .errors import BadRequest, TruncatedUpload, UploadTooLarge

PIECE = 1 << 20  # bytes gathered before the parser (and the disk) sees them
FILE_FIELDS = {"audio": "audio", "videos": "videos", "video": "videos", "videos[]": "videos"}
TEXT_FIELDS = ("name", "options", "callback_url")
MAX_TEXT_BYTES = 64 * 1024  # one text field
MAX_FILES = 1000  # file parts in one request
MAX_BOUNDARY = 200


@dataclass
class SavedFile:
    """A file part written to disk: the form field, the name the client gave, where it is, its size."""

    field: str
    filename: str
    path: Path
    size: int = 0


@dataclass
class Form:
    """What a multipart body held: its text fields and its files (in order)."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[SavedFile] = field(default_factory=list)
    size: int = 0


def boundary_of(content_type: str) -> bytes:
    """The boundary of a multipart/form-data Content-Type; BadRequest when there is none."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not boundary or len(boundary) > MAX_BOUNDARY:
        raise BadRequest("a multipart body needs Content-Type: multipart/form-data; boundary=... "
                         f"(at most {MAX_BOUNDARY} characters)")
    return boundary


def disposition(value: str) -> tuple[str, str | None]:
    """(field name, file name or None) of a part's Content-Disposition; RFC 2231 `filename*` understood."""
    msg = email.message.Message()
    msg["content-disposition"] = value
    if msg.get_content_disposition() != "form-data":
        raise BadRequest("every part needs Content-Disposition: form-data")
    name = msg.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise BadRequest("a part has no field name")
    filename = msg.get_filename()
    return name, filename


class FormWriter:
    """The parser's callbacks: text fields kept (bounded), file parts written into `folder`."""

    def __init__(self, folder: Path, max_files: int = MAX_FILES) -> None:
        self.folder = folder
        self.max_files = max_files
        self.form = Form()
        self.ended = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, str] = {}
        self._text: tuple[str, bytearray] | None = None
        self._file: tuple[SavedFile, Path, BinaryIO] | None = None

    def callbacks(self) -> Any:  # python-multipart's MultipartCallbacks (a TypedDict)
        """The callbacks for MultipartParser."""
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._grow(self._header_field, data[start:end]),
            "on_header_value": lambda data, start, end: self._grow(self._header_value, data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    @staticmethod
    def _grow(buffer: bytearray, data: bytes) -> None:
        if len(buffer) + len(data) > 8192:
            raise BadRequest("a part's header is longer than 8 KB")
        buffer += data

    def _part_begin(self) -> None:
        self._headers.clear()

    def _header_end(self) -> None:
        name = self._header_field.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("utf-8", "replace").strip()
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        name, filename = disposition(self._headers.get("content-disposition", ""))
        if filename is None:
            if name in FILE_FIELDS:
                raise BadRequest(f'field "{name[:40]}" must be a file (a part with a filename); '
                                 "to name files on the server, send a JSON body instead")
            if name not in TEXT_FIELDS:
                raise BadRequest(f"unknown field {name[:40]!r}; the fields are audio, videos, "
                                 + ", ".join(TEXT_FIELDS))
            if name in self.form.fields:
                raise BadRequest(f'field "{name}" is given twice')
            self._text = (name, bytearray())
            return
        if name not in FILE_FIELDS:
            raise BadRequest(f"unknown file field {name[:40]!r}; files go in audio (one) and videos (one or more)")
        if len(self.form.files) >= self.max_files:
            raise BadRequest(f"too many files in one request (at most {self.max_files})")
        self.folder.mkdir(parents=True, exist_ok=True)
        dest = unique_path(self.folder, safe_name(filename or "upload"))
        part = dest.with_name(f".{dest.name}.part")
        saved = SavedFile(FILE_FIELDS[name], filename or "upload", dest)
        part.unlink(missing_ok=True)  # a stale one (never a link's target: 'x' below refuses to follow it)
        self._file = (saved, part, open(part, "xb", buffering=PIECE))  # noqa: SIM115 - closed at the part's end

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            saved, _, fh = self._file
            fh.write(data[start:end])
            saved.size += end - start
        elif self._text is not None:
            name, buffer = self._text
            if len(buffer) + end - start > MAX_TEXT_BYTES:
                raise BadRequest(f'field "{name}" is longer than {MAX_TEXT_BYTES // 1024} KB')
            buffer += data[start:end]

    def _part_end(self) -> None:
        if self._file is not None:
            saved, part, fh = self._file
            self._file = None
            fh.close()
            os.replace(part, saved.path)
            self.form.files.append(saved)
        elif self._text is not None:
            name, buffer = self._text
            self._text = None
            try:
                self.form.fields[name] = buffer.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f'field "{name}" is not UTF-8 text') from None

    def _end(self) -> None:
        self.ended = True

    def close(self) -> None:
        """Close a file part left open (the body broke off); its .part file is the caller's to remove."""
        if self._file is not None:
            self._file[2].close()
            self._file = None


async def receive_form(chunks: AsyncIterator[bytes], content_type: str, folder: Path, max_bytes: int,
                       max_files: int = MAX_FILES) -> Form:
    """Parse a multipart body from `chunks` into text fields and files written under `folder`.

    BadRequest for a malformed body, UploadTooLarge once it passes `max_bytes`, TruncatedUpload when
    it ends early; a disconnecting client's error (starlette's ClientDisconnect) passes through.
    """
    writer = FormWriter(folder, max_files)
    parser = MultipartParser(boundary_of(content_type), writer.callbacks())

    def feed(data: bytes) -> None:
        try:
            parser.write(data)
        except MultipartParseError as exc:
            raise BadRequest(f"malformed multipart body: {exc}") from None

    piece = bytearray()
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(f"the upload is larger than this server accepts ({max_bytes} bytes)")
            piece += chunk
            if len(piece) >= PIECE:
                data = bytes(piece)
                piece.clear()
                await anyio.to_thread.run_sync(feed, data)
        if piece:
            await anyio.to_thread.run_sync(feed, bytes(piece))
    finally:
        writer.close()
    if not writer.ended:
        raise TruncatedUpload("the upload ended before its last part did (no closing boundary); send it again")
    writer.form.size = size
    return writer.form
