"""The history: every item of every job, newest first, read from the status files (the file
system is the database), with filtering and paging for thousands of rows."""
from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from spooler import protocol
from spooler.config import Layout
from spooler.records import JobStatus

PAGE_SIZE = 50


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

    def to_dict(self) -> dict:
        """Plain dict (for a DataFrame)."""
        return asdict(self)


def rows_of(status: JobStatus) -> list[HistoryRow]:
    """The rows of one job, in item order."""
    return [HistoryRow(job_id=status.job_id, job_name=status.name, index=item.index, presenter=item.name,
                       audio=Path(status.audio).name, state=item.state.value, error=item.error,
                       duration_s=float(item.duration_s or 0.0), created=status.created,
                       output=item.output if item.output and Path(item.output).is_file() else "",
                       thumbnail=item.thumbnail if item.thumbnail and Path(item.thumbnail).is_file() else "")
            for item in status.items]


def history(layout: Layout) -> list[HistoryRow]:
    """Every item of every job, newest job first."""
    statuses = sorted(protocol.iter_statuses(layout), key=lambda s: (s.created, s.job_id), reverse=True)
    return [row for s in statuses for row in rows_of(s)]


def filter_rows(rows: Iterable[HistoryRow], states: Sequence[str] = (), query: str = "") -> list[HistoryRow]:
    """Rows in one of `states` (all when empty) whose names, audio or job id contain `query`."""
    q = query.strip().lower()
    wanted = set(states)
    return [r for r in rows
            if (not wanted or r.state in wanted)
            and (not q or any(q in field.lower() for field in (r.presenter, r.job_name, r.audio, r.job_id)))]


def page_of(rows: Sequence[HistoryRow], page: int, size: int = PAGE_SIZE) -> tuple[list[HistoryRow], int]:
    """(the rows of 1-based `page`, number of pages); an out-of-range page is clamped."""
    pages = max(1, -(-len(rows) // size))
    page = min(max(1, page), pages)
    return list(rows[(page - 1) * size: page * size]), pages


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
