"""The history: every item of every job, newest first, read from the status files (the file
system is the database). webui.tables turns these rows into the history's DataFrame and filters,
sorts and pages it."""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from spooler import protocol
from spooler.config import Layout
from spooler.records import JobStatus


@dataclass(frozen=True)
class HistoryRow:
    """One item of one job, as the history table shows it."""

    job_id: str
    job_name: str
    index: int
    presenter: str
    audio: str
    state: str
    error: str
    duration_s: float
    created: str
    output: str
    thumbnail: str


def rows_of(status: JobStatus) -> list[HistoryRow]:
    """The rows of one job, in item order; an output or thumbnail no longer on disk is left empty."""
    audio = os.path.basename(status.audio)
    return [HistoryRow(job_id=status.job_id, job_name=status.name, index=item.index, presenter=item.name,
                       audio=audio, state=item.state.value, error=item.error,
                       duration_s=float(item.duration_s or 0.0), created=status.created,
                       output=_existing(item.output), thumbnail=_existing(item.thumbnail))
            for item in status.items]


def _existing(path: str) -> str:
    """`path` when it names a file, else ""."""
    return path if path and os.path.isfile(path) else ""


def history(layout: Layout) -> list[HistoryRow]:
    """Every item of every job, newest job first."""
    statuses = sorted(protocol.iter_statuses(layout), key=lambda s: (s.created, s.job_id), reverse=True)
    return [row for s in statuses for row in rows_of(s)]


NO_THUMBNAIL = ("data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="#ddd"/>'
    b'<path d="M8 24 L24 8" stroke="#999" stroke-width="2"/></svg>').decode("ascii"))


def thumbnail_uri(path: str) -> str:
    """A data: URI of a JPEG thumbnail (small: the runner writes them at 320 px), or a grey placeholder."""
    if not path:
        return NO_THUMBNAIL
    try:
        data = Path(path).read_bytes()
    except OSError:
        return NO_THUMBNAIL
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
