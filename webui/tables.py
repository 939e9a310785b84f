"""The dashboard's tables as pandas DataFrames: the history, one job's items, the live workers.

Each `*_frame` turns status records into a frame with typed columns (raw values, English column
names) that filtering, sorting and paging work on; each `*_table` turns such a frame into what the
page shows: user text made `visible`, states named in the page's language, columns labelled
through webui.i18n. No Streamlit here: the column configuration lives in dashboard.py.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

import pandas as pd

from spooler.protocol import WorkerHealth
from spooler.records import ItemState, JobStatus

from .history import HistoryRow, thumbnail_uri
from .i18n import state_name, text
from .plain import visible

PAGE_SIZE = 50
UNFINISHED = (ItemState.QUEUED.value, ItemState.RUNNING.value)
SEARCHED = ("job_name", "presenter", "audio", "job_id")  # the columns the free-text query looks in

LinkOf = Callable[[str], "str | None"]  # a result file's path -> a URL serving it (None: not served)


# --- history -------------------------------------------------------------------------------------

def history_frame(rows: Sequence[HistoryRow]) -> pd.DataFrame:
    """The history rows as a typed frame, newest job first (then item order)."""
    frame = pd.DataFrame({
        "job_id": pd.Series([r.job_id for r in rows], dtype=str),
        "job_name": pd.Series([r.job_name for r in rows], dtype=str),
        "index": pd.Series([r.index for r in rows], dtype="int64"),
        "presenter": pd.Series([r.presenter for r in rows], dtype=str),
        "audio": pd.Series([r.audio for r in rows], dtype=str),
        "state": pd.Series([r.state for r in rows], dtype=str),
        "error": pd.Series([r.error for r in rows], dtype=str),
        "duration_s": pd.Series([r.duration_s for r in rows], dtype="float64"),
        "created": to_datetimes([r.created for r in rows]),
        "output": pd.Series([r.output for r in rows], dtype=str),
        "thumbnail": pd.Series([r.thumbnail for r in rows], dtype=str),
    })
    return sort_history(frame)


def to_datetimes(values: Sequence[str]) -> pd.Series:
    """ISO 8601 timestamps as UTC datetimes; a missing or unreadable one is NaT."""
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601", errors="coerce"),
                     dtype="datetime64[ns, UTC]")


def sort_history(frame: pd.DataFrame, by: str = "created", descending: bool = True) -> pd.DataFrame:
    """`frame` sorted on `by` (newest first by default); ties keep jobs together, items in order."""
    keys = [by] + [k for k in ("job_id", "index") if k != by]
    ascending = [not descending] + [k == "index" or not descending for k in keys[1:]]
    return frame.sort_values(keys, ascending=ascending, kind="mergesort", na_position="last", ignore_index=True)


def filter_history(frame: pd.DataFrame, states: Sequence[str] = (), query: str = "") -> pd.DataFrame:
    """Rows in one of `states` (all when empty) whose names, audio or job id contain `query` literally, any case."""
    keep = frame["state"].isin(list(states)) if states else pd.Series(True, index=frame.index)
    needle = query.strip().casefold()
    if needle:
        found = pd.Series(False, index=frame.index)
        for column in SEARCHED:
            found |= frame[column].str.casefold().str.contains(needle, regex=False)
        keep &= found
    return frame[keep]


def page_count(rows: int, size: int = PAGE_SIZE) -> int:
    """How many pages `rows` rows fill (at least one)."""
    return max(1, -(-rows // size))


def page_of(frame: pd.DataFrame, page: int, size: int = PAGE_SIZE) -> tuple[pd.DataFrame, int]:
    """(the rows of 1-based `page`, number of pages); an out-of-range page is clamped."""
    pages = page_count(len(frame), size)
    page = min(max(1, page), pages)
    return frame.iloc[(page - 1) * size: page * size], pages


def has_unfinished(frame: pd.DataFrame) -> bool:
    """Whether any row is still queued or running."""
    return bool(frame["state"].isin(UNFINISHED).any())


def history_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """What the history table shows of `frame` (one page: each thumbnail is read from disk)."""
    names = [job_name or job_id for job_name, job_id in zip(frame["job_name"], frame["job_id"])]
    shown = pd.DataFrame({
        "thumbnail": pd.Series([thumbnail_uri(p) for p in frame["thumbnail"]], dtype=str),
        "name": pd.Series([visible(n) for n in names], dtype=str),
        "presenter": _visible(frame["presenter"]),
        "audio": _visible(frame["audio"]),
        "duration": frame["duration_s"].reset_index(drop=True),
        "state": _states(frame["state"], lang),
        "created": frame["created"].reset_index(drop=True),
        "output": pd.Series([visible(os.path.basename(p)) for p in frame["output"]], dtype=str),
    })
    return labelled(shown, lang)


# --- one job's items -------------------------------------------------------------------------------

def progress_frame(status: JobStatus) -> pd.DataFrame:
    """One row per item of a job: 1-based item, presenter, state, stage, progress 0..1, worker, output."""
    items = status.items
    return pd.DataFrame({
        "item": pd.Series([it.index + 1 for it in items], dtype="int64"),
        "presenter": pd.Series([it.name for it in items], dtype=str),
        "state": pd.Series([it.state.value for it in items], dtype=str),
        "stage": pd.Series([it.stage if it.state == ItemState.RUNNING else "" for it in items], dtype=str),
        "progress": pd.Series([_item_progress(it.state, it.progress) for it in items], dtype="float64"),
        "worker": pd.Series([it.worker.worker_id if it.worker else "" for it in items], dtype=str),
        "output": pd.Series([it.output if it.state == ItemState.DONE else "" for it in items], dtype=str),
    })


def _item_progress(state: ItemState, progress: float) -> float:
    """An item's share done, 0..1: a finished item is whole, a queued one empty."""
    if state == ItemState.DONE:
        return 1.0
    if state == ItemState.QUEUED:
        return 0.0
    return min(1.0, max(0.0, float(progress or 0.0)))


def progress_table(frame: pd.DataFrame, lang: str, link_of: LinkOf | None = None) -> pd.DataFrame:
    """What a job card's item table shows of a `progress_frame`; with `link_of`, a link to each result."""
    shown = pd.DataFrame({
        "item": frame["item"].reset_index(drop=True),
        "presenter": _visible(frame["presenter"]),
        "state": _states(frame["state"], lang),
        "stage": _visible(frame["stage"]),
        "progress": frame["progress"].reset_index(drop=True),
        "worker": _visible(frame["worker"]),
    })
    if link_of is not None:  # sharing a file costs: only where the page serves the results anyway
        shown["output"] = pd.Series([link_of(p) if p else None for p in frame["output"]], dtype=str)  # None: NaN
    return labelled(shown, lang)


# --- live workers ------------------------------------------------------------------------------------

def workers_frame(workers: Iterable[WorkerHealth]) -> pd.DataFrame:
    """One row per worker: host, worker id, device, state, current job and 1-based item, heartbeat age (s)."""
    found = sorted(workers, key=lambda w: (w.info.host, w.info.worker_id))
    return pd.DataFrame({
        "host": pd.Series([w.info.host for w in found], dtype=str),
        "worker": pd.Series([w.info.worker_id for w in found], dtype=str),
        "device": pd.Series([w.info.device for w in found], dtype=str),
        "state": pd.Series([w.info.state.value for w in found], dtype=str),
        "job": pd.Series([w.info.current_job for w in found], dtype=str),
        "item": pd.Series([w.info.item_number or None for w in found], dtype="Int64"),
        "heartbeat_age": pd.Series([float(w.age_s) for w in found], dtype="float64"),
    })


def workers_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """What the live-workers table shows of a `workers_frame`."""
    shown = pd.DataFrame({
        "host": _visible(frame["host"]),
        "worker": _visible(frame["worker"]),
        "device": _visible(frame["device"]),
        "state": pd.Series([worker_state_name(lang, s) for s in frame["state"]], dtype=str),
        "job": _visible(frame["job"]),
        "item": frame["item"].reset_index(drop=True),
        "heartbeat_age": frame["heartbeat_age"].reset_index(drop=True),
    })
    return labelled(shown, lang)


def worker_state_name(lang: str, state: str) -> str:
    """A worker's state in `lang` (a busy worker is 'running')."""
    return text(lang, f"ws_{state}")


# --- shared -----------------------------------------------------------------------------------------

def label(lang: str, column: str) -> str:
    """A shown column's header in `lang` (its i18n key is the column's name)."""
    return text(lang, column)


def labelled(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """`frame` with its columns' headers in `lang`."""
    return frame.rename(columns={c: label(lang, c) for c in frame.columns})


def _visible(values: pd.Series) -> pd.Series:
    """Each text as `visible` text (one line, no invisible character)."""
    return pd.Series([visible(v) for v in values], dtype=str)


def _states(values: pd.Series, lang: str) -> pd.Series:
    """Each item state named in `lang`."""
    return pd.Series([state_name(lang, v) for v in values], dtype=str)
