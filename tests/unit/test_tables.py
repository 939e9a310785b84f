"""The dashboard's tables as DataFrames (webui.tables): typed columns, filtering by state and by
literal text in any case, sorting, paging bounds, empty input, and what the page shows (labels in
both languages, states named, user text made visible, thumbnails as data URIs)."""
from __future__ import annotations

import pandas as pd
import pytest

from spooler.protocol import WorkerHealth
from spooler.records import ItemState, ItemStatus, JobStatus, WorkerInfo, WorkerRef, WorkerState
from webui import tables
from webui.history import NO_THUMBNAIL, HistoryRow
from webui.i18n import LANGUAGES, TEXT


def _row(job_id: str, index: int, presenter: str, *, name: str = "", state: str = "done",
         created: str = "2026-01-01T00:00:00.000+00:00", audio: str = "a.wav", output: str = "",
         thumbnail: str = "", duration_s: float = 2.0) -> HistoryRow:
    return HistoryRow(job_id=job_id, job_name=name, index=index, presenter=presenter, audio=audio, state=state,
                      error="", duration_s=duration_s, created=created, output=output, thumbnail=thumbnail)


@pytest.fixture()
def rows() -> list[HistoryRow]:
    """Three jobs, given oldest first and out of item order."""
    return [
        _row("20260101-a", 1, "讲师 二.mp4", name="周一课程", created="2026-01-01T08:00:00.000+00:00"),
        _row("20260101-a", 0, "讲师 一.mp4", name="周一课程", created="2026-01-01T08:00:00.000+00:00",
             state="failed"),
        _row("20260201-b", 0, "a.*[(b.mp4", name="Lecture", created="2026-02-01T09:30:00.000+00:00",
             audio="Speech.WAV", duration_s=12.345),
        _row("20260301-c", 0, "anna.mp4", created="2026-03-01T10:00:00.000+01:00", state="running"),
        _row("20260301-c", 1, "bob.mp4", created="2026-03-01T10:00:00.000+01:00", state="queued"),
    ]


def test_history_frame_has_typed_columns(rows) -> None:
    frame = tables.history_frame(rows)
    assert list(frame.columns) == ["job_id", "job_name", "index", "presenter", "audio", "state", "error",
                                   "duration_s", "created", "output", "thumbnail"]
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    assert frame["index"].dtype == "int64" and frame["duration_s"].dtype == "float64"
    assert all(pd.api.types.is_string_dtype(frame[c]) for c in ("job_id", "presenter", "state", "output"))
    assert frame["created"].iloc[0] == pd.Timestamp("2026-03-01T09:00:00Z")  # +01:00 read as the instant it is


def test_history_is_newest_first_with_items_in_order_and_sorts_on_any_column(rows) -> None:
    frame = tables.history_frame(rows)
    assert list(zip(frame["job_id"], frame["index"])) == [
        ("20260301-c", 0), ("20260301-c", 1), ("20260201-b", 0), ("20260101-a", 0), ("20260101-a", 1)]
    oldest = tables.sort_history(frame, descending=False)
    assert list(oldest["job_id"])[:2] == ["20260101-a"] * 2 and list(oldest["index"])[:2] == [0, 1]
    longest = tables.sort_history(frame, "duration_s")
    assert longest["presenter"].iloc[0] == "a.*[(b.mp4"


def test_an_unreadable_creation_time_is_empty_and_sorts_last(rows) -> None:
    frame = tables.history_frame([*rows, _row("20250101-z", 0, "x.mp4", created="not a time"),
                                  _row("20250101-y", 0, "y.mp4", created="")])
    assert frame["created"].iloc[-2:].isna().all() and set(frame["job_id"].iloc[-2:]) == {"20250101-z", "20250101-y"}


@pytest.mark.parametrize(("states", "query", "expected"), [
    ((), "", 5),
    (("failed",), "", 1),
    (("queued", "running"), "", 2),
    ((), "LECT", 1),  # the job name, in any case
    ((), "speech.wav", 1),  # the audio
    ((), "讲师", 2),  # Chinese presenter names
    ((), "  讲师 一 ", 1),  # surrounding spaces do not count
    ((), ".*[(", 1),  # regex metacharacters are plain text: only the name holding them
    ((), ".*", 1),
    ((), "(", 1),
    ((), "\\d", 0),
    ((), "20260301", 2),  # the job id
    (("failed",), "讲师 二", 0),  # both must hold
    (("cancelled",), "", 0),
])
def test_filter_by_state_and_literal_text_in_any_case(rows, states, query, expected) -> None:
    shown = tables.filter_history(tables.history_frame(rows), states, query)
    assert len(shown) == expected
    assert list(shown.columns) == list(tables.history_frame(rows).columns)


def test_paging_is_clamped_to_the_pages_there_are(rows) -> None:
    frame = tables.history_frame(rows)
    first, pages = tables.page_of(frame, 1, size=2)
    assert pages == 3 and list(first["presenter"]) == ["anna.mp4", "bob.mp4"]
    assert list(tables.page_of(frame, 0, size=2)[0]["presenter"]) == ["anna.mp4", "bob.mp4"]
    assert list(tables.page_of(frame, 99, size=2)[0]["presenter"]) == ["讲师 二.mp4"]
    whole, pages = tables.page_of(frame, 2, size=5)  # exactly one full page
    assert pages == 1 and whole.equals(frame)
    assert [tables.page_count(n, 50) for n in (0, 1, 50, 51, 2000)] == [1, 1, 1, 2, 40]


def test_empty_input_gives_empty_frames_with_their_columns() -> None:
    frame = tables.history_frame([])
    assert frame.empty and str(frame["created"].dtype) == "datetime64[ns, UTC]"
    assert tables.filter_history(frame, ["done"], "x").empty and not tables.has_unfinished(frame)
    page, pages = tables.page_of(frame, 3)
    assert page.empty and pages == 1
    assert tables.history_table(frame, "en").empty
    assert tables.progress_frame(JobStatus(job_id="j")).empty
    assert list(tables.workers_frame([]).columns) == ["host", "worker", "device", "state", "job", "item",
                                                      "heartbeat_age"]


def test_the_history_table_shows_labels_states_thumbnails_and_visible_text(tmp_path, rows) -> None:
    thumb = tmp_path / "t.jpg"
    thumb.write_bytes(b"\xff\xd8\xff\xe0jpeg")
    rows.append(_row("20260401-d", 0, "evil\u202e\n.mp4", name="", created="2026-04-01T00:00:00.000+00:00",
                     output=str(tmp_path / "01_evil.mp4"), thumbnail=str(thumb)))
    frame = tables.history_frame(rows)
    assert tables.has_unfinished(frame)
    shown = tables.history_table(tables.page_of(frame, 1, size=3)[0], "zh")
    assert list(shown.columns) == [TEXT["zh"][k] for k in ("thumbnail", "name", "presenter", "audio", "duration",
                                                            "state", "created", "output")]
    top = shown.iloc[0]
    assert top[TEXT["zh"]["thumbnail"]].startswith("data:image/jpeg;base64,")
    assert shown[TEXT["zh"]["thumbnail"]].iloc[1] == NO_THUMBNAIL
    assert top[TEXT["zh"]["name"]] == "20260401-d"  # no name: the job id
    assert top[TEXT["zh"]["presenter"]] == "evil\\u202e\\n.mp4" and top[TEXT["zh"]["output"]] == "01_evil.mp4"
    assert list(shown[TEXT["zh"]["state"]]) == ["完成", "处理中", "排队中"]
    assert str(shown[TEXT["zh"]["created"]].dtype) == "datetime64[ns, UTC]"
    assert shown[TEXT["zh"]["duration"]].dtype == "float64"
    assert list(tables.history_table(frame.iloc[:1], "en").columns)[4:6] == ["Duration", "State"]


def _status() -> JobStatus:
    items = [ItemStatus(0, "/v/a.mp4", "a.mp4", state=ItemState.DONE, progress=0.3, output="/r/01_a.mp4",
                        worker=WorkerRef(worker_id="gpu1")),
             ItemStatus(1, "/v/b.mp4", "b\x1b.mp4", state=ItemState.RUNNING, stage="tracking", progress=1.7,
                        worker=WorkerRef(worker_id="gpu2")),
             ItemStatus(2, "/v/c.mp4", "c.mp4", state=ItemState.FAILED, progress=-0.2, error="bad"),
             ItemStatus(3, "/v/d.mp4", "d.mp4", state=ItemState.QUEUED, progress=0.5)]
    return JobStatus(job_id="j1", items=items)


def test_the_progress_frame_has_one_bounded_row_per_item() -> None:
    frame = tables.progress_frame(_status())
    assert list(frame["item"]) == [1, 2, 3, 4] and frame["item"].dtype == "int64"
    assert frame["progress"].dtype == "float64" and list(frame["progress"]) == [1.0, 1.0, 0.0, 0.0]
    assert list(frame["state"]) == ["done", "running", "failed", "queued"]
    assert list(frame["stage"]) == ["", "tracking", "", ""] and list(frame["worker"]) == ["gpu1", "gpu2", "", ""]
    assert list(frame["output"]) == ["/r/01_a.mp4", "", "", ""]


def test_the_progress_table_links_results_only_when_asked() -> None:
    frame = tables.progress_frame(_status())
    plain = tables.progress_table(frame, "en")
    assert "Result file" not in plain.columns and plain["Presenter video"].iloc[1] == "b\\x1b.mp4"
    assert list(plain["State"]) == ["done", "running", "failed", "queued"]
    linked = tables.progress_table(frame, "zh", link_of=lambda p: f"http://h/{p.rsplit('/', 1)[-1]}")
    links = linked[TEXT["zh"]["output"]]
    assert links.iloc[0] == "http://h/01_a.mp4" and links.iloc[1:].isna().all()
    assert linked[TEXT["zh"]["progress"]].dtype == "float64"


def test_the_workers_frame_and_table() -> None:
    busy = WorkerInfo(worker_id="w2", host="b-host", device="cuda:0", state=WorkerState.BUSY, current_job="j1",
                      item_number=3)
    idle = WorkerInfo(worker_id="w1", host="a-host", device="cpu")
    frame = tables.workers_frame([WorkerHealth(busy, True, 0.4), WorkerHealth(idle, True, 2.25)])
    assert list(frame["host"]) == ["a-host", "b-host"] and str(frame["item"].dtype) == "Int64"
    assert frame["item"].isna().tolist() == [True, False] and frame["item"].iloc[1] == 3
    assert list(frame["heartbeat_age"]) == [2.25, 0.4] and frame["heartbeat_age"].dtype == "float64"
    assert list(tables.workers_table(frame, "zh")[TEXT["zh"]["state"]]) == ["空闲", "处理中"]
    assert list(tables.workers_table(frame, "en")["State"]) == ["idle", "running"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_column_and_worker_state_has_a_name_in_each_language(lang) -> None:
    columns = {"thumbnail", "name", "presenter", "audio", "duration", "state", "created", "output", "item",
               "stage", "progress", "worker", "host", "device", "job", "heartbeat_age"}
    assert all(k in TEXT[lang] for k in columns) and all(f"ws_{s.value}" in TEXT[lang] for s in WorkerState)
