"""The dashboard against a hostile user: wrong passwords cost time, user text shows as plain text
(never Markdown or HTML), deleted jobs' share links die at once, and uploads from sessions that
have not logged in are dropped. Logic with real files and an injected clock; pages through
Streamlit's AppTest."""
from __future__ import annotations

import os
import re
import string
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from spooler import protocol
from spooler.config import layout_for
from spooler.names import INVISIBLE_CATEGORIES
from spooler.testing import write_finished_job
from webui import export, history, jobs, share, throttle, upload_guard
from webui.i18n import TEXT
from webui.plain import code, md, unescape_md, visible

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
INJECTION = "![x](http://127.0.0.1:9/x.png)\n"


@pytest.fixture()
def layout(tmp_path, monkeypatch):
    monkeypatch.setenv("LIPSPOOL_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("LIPSPOOL_PASSWORD", raising=False)
    return layout_for(tmp_path / "root")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch) -> FakeClock:
    """The dashboard's login throttle, fresh and on a fake clock."""
    fake = FakeClock()
    monkeypatch.setattr(throttle, "LOGIN", throttle.Throttle(clock=fake))
    return fake


# --- wrong passwords cost time ---------------------------------------------------------------------

def test_throttle_lets_two_failures_pass_then_doubles_the_wait() -> None:
    clock = FakeClock()
    th = throttle.Throttle(clock=clock)
    assert [th.attempt("a"), th.attempt("a")] == [0.0, 0.0] and th.wait_left("a") == 0.0
    assert th.attempt("a") == 0.0 and th.wait_left("a") == 10.0  # the third try goes ahead, then costs 10 s
    assert th.attempt("a") == 10.0 and th.wait_left("a") == 10.0  # refused, and not counted
    assert th.wait_left("b") == 0.0 and th.attempt("b") == 0.0  # another client is not held up
    clock.now += 4
    assert th.wait_left("a") == 6.0 and th.attempt("a") == 6.0
    clock.now += 6
    assert th.attempt("a") == 0.0 and th.wait_left("a") == 20.0
    clock.now += 20
    assert th.attempt("a") == 0.0 and th.wait_left("a") == 40.0
    assert [th.delay_after(n) for n in (1, 2, 3, 4, 5, 9, 10, 500)] == [0, 0, 10, 20, 40, 600, 600, 600]
    th.success("a")
    assert th.wait_left("a") == 0.0 and th.attempt("a") == 0.0 == th.wait_left("a")  # counting starts again


def test_throttle_counts_tries_made_at_once_as_failures_until_they_succeed() -> None:
    th = throttle.Throttle(clock=FakeClock())
    let_through = [th.attempt("a") == 0.0 for _ in range(30)]  # 30 sessions submit at the same moment
    assert let_through.count(True) == 3


def test_throttle_forgets_a_client_that_stopped_failing() -> None:
    clock = FakeClock()
    th = throttle.Throttle(clock=clock, forget_s=3600)
    for _ in range(3):
        th.attempt("a")
    clock.now += 3601
    assert th.attempt("b") == 0.0  # any attempt tidies up the stale records
    assert th.attempt("a") == 0.0 and th.wait_left("a") == 0.0  # "a" starts from zero


def test_throttle_keys_clients_by_address_and_shares_one_key_without_one() -> None:
    from unittest.mock import MagicMock

    assert throttle.client_key("203.0.113.7") == "ip:203.0.113.7"
    assert throttle.client_key(None) == throttle.client_key("") == throttle.LOCAL
    assert throttle.client_key(MagicMock()) == throttle.LOCAL  # AppTest's stand-in for a connection


def _app() -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def _login(at: AppTest, password: str) -> AppTest:
    at.text_input[0].input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_the_gate_locks_out_after_three_wrong_passwords_and_says_so(layout, monkeypatch, clock) -> None:
    monkeypatch.setenv("LIPSPOOL_PASSWORD", "s3cret")
    at = _app()
    for _ in range(2):
        _login(at, "wrong")
        assert at.error[0].value == TEXT["zh"]["wrong_password"] and not at.warning
    _login(at, "wrong")
    wait_zh = TEXT["zh"]["login_wait"].format(s=10)
    assert [w.value for w in at.warning] == [wait_zh]
    _login(at, "s3cret")  # locked out: not even compared
    assert [w.value for w in at.warning] == [wait_zh] and len(at.sidebar.radio) == 1
    other = _app()  # a new session from the same client is held up too
    assert [w.value for w in other.warning] == [wait_zh]
    other.sidebar.radio(key="lang").set_value("en").run()
    assert [w.value for w in other.warning] == [TEXT["en"]["login_wait"].format(s=10)]
    clock.now += 10
    _login(at, "s3cret")
    assert at.sidebar.radio(key="page") is not None
    assert not [w for w in at.warning if w.value == wait_zh]  # only the no-daemon banner warns now


# --- user text is plain text ------------------------------------------------------------------------

def _unescaped_punctuation(escaped: str) -> list[str]:
    """ASCII punctuation in `escaped` that a backslash does not escape (Markdown would read it as markup)."""
    found, i = [], 0
    while i < len(escaped):
        if escaped[i] == "\\" and i + 1 < len(escaped) and escaped[i + 1] in string.punctuation:
            i += 2
            continue
        if escaped[i] in string.punctuation:
            found.append(escaped[i])
        i += 1
    return found


def test_plain_text_examples() -> None:
    assert md(INJECTION) == r"\!\[x\]\(http\:\/\/127\.0\.0\.1\:9\/x\.png\)\\n"
    assert unescape_md(md(INJECTION)) == "![x](http://127.0.0.1:9/x.png)\\n"
    assert visible("red \x1b[31m!\x1b[0m\r\n\t\x00\x7f\x85") == "red \\x1b[31m!\\x1b[0m\\r\\n\\t\\x00\\x7f\\x85"
    assert visible("evil\u202etxt.exe\u2028\u200b") == "evil\\u202etxt.exe\\u2028\\u200b"
    assert visible("讲师 一.mp4 ⚠️ é") == "讲师 一.mp4 ⚠️ é"  # ordinary text stays as it is
    assert md("<img src=x onerror=alert(1)>") == r"\<img src\=x onerror\=alert\(1\)\>"
    assert md("$x$ :red[y] **z** `w` # h") == r"\$x\$ \:red\[y\] \*\*z\*\* \`w\` \# h"
    assert code("job-1") == "`job-1`" and code("a``b") == "```a``b```" and code("`x") == "`` `x ``"
    assert code("") == ""


@given(st.text())
def test_visible_leaves_no_invisible_character_and_nothing_empty(s: str) -> None:
    shown = visible(s)
    assert not any(unicodedata.category(ch) in INVISIBLE_CATEGORIES for ch in shown)
    assert bool(shown) == bool(s)
    assert "\n" not in shown and "\r" not in shown


@given(st.text())
def test_markdown_escaping_is_total_and_reversible(s: str) -> None:
    escaped = md(s)
    assert _unescaped_punctuation(escaped) == []  # no link, image, HTML, emphasis, code or math syntax left
    assert not any(unicodedata.category(ch) in INVISIBLE_CATEGORIES for ch in escaped)
    assert unescape_md(escaped) == visible(s)  # a reader sees exactly the visible text
    assert bool(escaped) == bool(s)


@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("`"), min_size=1))
def test_a_code_span_cannot_be_closed_from_inside(s: str) -> None:
    span = code(s)
    fence = re.match(r"`+", span).group()
    inner = span[len(fence):-len(fence)]
    assert span.endswith(fence) and fence not in inner and "\n" not in span
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]  # what CommonMark does with a code span's content
    assert inner == visible(s)


def test_a_job_name_with_markup_shows_as_text_on_the_progress_page(layout) -> None:
    from spooler.records import ItemState, JobState

    job = protocol.make_job(str(layout.root / "a.wav"), [str(layout.root / "v.mp4")], name=INJECTION)
    protocol.submit(layout, job)
    status = protocol.read_status(layout, job.id)
    status.state = JobState.RUNNING  # as a daemon would write it: an item with markup in its error
    status.items[0].state, status.items[0].error = ItemState.FAILED, "bad \x1b[31m<b>x</b>"
    protocol.write_status(layout, status)
    at = _app()
    at.sidebar.radio(key="page").set_value("page_jobs").run()
    assert not at.exception, at.exception
    cards = [m.value for m in at.markdown if job.id in m.value]
    assert cards and cards[0].startswith(f"**{md(INJECTION)}** · `{job.id}`")
    assert "![x](" not in cards[0] and "\n" not in cards[0]
    assert [e.value for e in at.error] == [f"{md('v.mp4')}: {md('bad ' + chr(27) + '[31m<b>x</b>')}"]


def test_logs_page_shows_control_characters_as_escapes(layout) -> None:
    layout.log_file.write_text("plain line\njob \x1b[31mred\x1b[0m\r\nfeed\x0cformed\x1e\nlast\r\n", encoding="utf-8")
    at = _app()
    at.sidebar.radio(key="page").set_value("page_logs").run()
    assert at.code[0].value.split("\n") == ["plain line", "job \\x1b[31mred\\x1b[0m", "feed\\x0cformed\\x1e", "last"]


def test_a_download_link_label_cannot_carry_markup() -> None:
    link = share.download_link("app/static/dl/t/a.mp4", "下载 " + INJECTION, 'x".mp4\n')
    assert "![x](" not in link and md("下载 " + INJECTION) in link
    assert 'download="x&quot;.mp4\\n"' in link


# --- share links die with their job or their source ----------------------------------------------

def _share_folder(url: str) -> Path:
    return Path(url).parent


def test_deleting_a_job_revokes_its_share_links_at_once_even_after_a_restart(layout, tmp_path) -> None:
    shares = tmp_path / "dl"
    job_id = write_finished_job(layout, ["a.mp4", "b.mp4"], name="to delete")
    kept_job = write_finished_job(layout, ["c.mp4"], name="to keep")
    rows = history.history(layout)
    outputs = [r.output for r in rows if r.job_id == job_id]
    first = _share_folder(share.share(outputs[0], shares))
    share._shared.clear()  # the dashboard restarted: only the on-disk index knows the first share
    second = _share_folder(share.share(outputs[1], shares))
    zipped = export.write_zip([(Path(o), Path(o).name) for o in outputs],
                              export.export_folder(layout.root) / f"{job_id}.zip")
    third = _share_folder(share.share(zipped, shares))
    kept = _share_folder(share.share(next(r.output for r in rows if r.job_id == kept_job), shares))
    assert all(f.is_dir() for f in (first, second, third, kept))
    assert share.source_of(first) == Path(outputs[0]).resolve()

    jobs.delete(layout, job_id, share_dir=shares)
    assert not first.exists() and not second.exists() and not third.exists()
    assert not zipped.exists() and not (layout.results / job_id).exists()
    assert kept.is_dir() and share.is_live(kept)  # another job's share keeps serving
    assert share.share(outputs[0], shares) is None  # and nothing re-shares the deleted files


def test_a_share_whose_source_is_gone_or_replaced_stops_serving(tmp_path) -> None:
    shares = tmp_path / "dl"
    gone, replaced, living = (tmp_path / n for n in ("gone.mp4", "replaced.mp4", "living.mp4"))
    for f in (gone, replaced, living):
        f.write_bytes(b"video " + f.name.encode())
    folders = {f.name: _share_folder(share.share(f, shares)) for f in (gone, replaced, living)}
    legacy = shares / "made-before-the-index"  # a share from before this version: nothing says what it serves
    legacy.mkdir()
    (legacy / "old.mp4").write_bytes(b"old")
    stray = share.index_dir(shares) / "share-removed-by-hand.json"  # an index entry whose share is gone
    stray.write_text('{"source": "/nowhere"}', encoding="utf-8")
    os.utime(stray, (0, 0))
    gone.unlink()
    replaced.unlink()
    replaced.write_bytes(b"another video entirely")
    assert share.prune(shares) == 3
    assert sorted(p.name for p in shares.iterdir()) == [folders["living.mp4"].name]
    assert sorted(p.stem for p in share.index_dir(shares).iterdir()) == [folders["living.mp4"].name]
    assert (folders["living.mp4"] / "living.mp4").read_bytes() == b"video living.mp4"


def test_the_index_is_never_served_and_static_holds_no_links(tmp_path) -> None:
    from streamlit.file_util import get_directory_size
    from streamlit.web.server.component_file_utils import build_safe_abspath

    assert not share.index_dir(share.SHARE_DIR).is_relative_to(share.STATIC_DIR)
    source = tmp_path / "result.mp4"
    source.write_bytes(b"x" * 10)
    url = share.share(source)  # a real share under static/dl
    folder = share.STATIC_DIR / url.removeprefix("app/static/").rsplit("/", 1)[0]
    try:
        assert build_safe_abspath(str(share.STATIC_DIR), f"dl/{folder.name}/result.mp4") is not None
        assert build_safe_abspath(str(share.STATIC_DIR), f"../cache/shares/dl/{folder.name}.json") is None
        assert (share.index_dir(share.SHARE_DIR) / f"{folder.name}.json").is_file()
        assert not any(p.is_symlink() for p in folder.iterdir())
        source.unlink()  # Streamlit sizes static/ at start-up: a share of a deleted file must not stop it
        assert get_directory_size(str(share.STATIC_DIR)) >= 0
    finally:
        assert share.revoke(source) == 1
    assert not (share.index_dir(share.SHARE_DIR) / f"{folder.name}.json").exists()


def test_deleting_a_job_from_the_history_page_revokes_its_links(layout) -> None:
    job_id = write_finished_job(layout, ["v0.mp4"], name="lecture")
    at = _app()
    at.sidebar.radio(key="page").set_value("page_history").run()
    link = next(m.value for m in at.markdown if 'download="01_v0.mp4"' in m.value)
    shared = Path(DASHBOARD).parent / link.split('href="')[1].split('"')[0].replace("app/static/", "static/", 1)
    assert shared.is_file()
    at.checkbox(key=f"hist-confirm-{job_id}").check().run()
    at.button(key="hist-delete").click().run()
    assert not at.exception, at.exception
    assert protocol.read_status(layout, job_id) is None
    assert not shared.exists() and not shared.parent.exists()


# --- uploads before login ---------------------------------------------------------------------------

def test_uploads_of_sessions_not_past_the_gate_are_dropped() -> None:
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    for session in ("logged-in", "stranger"):
        manager.add_file(session, UploadedFileRec(file_id="f1", name="a.mp4", type="video/mp4", data=b"x" * 1000))
    upload_guard.allow("logged-in")
    assert upload_guard.sweep(manager) == 1
    assert manager.get_files("stranger", ["f1"]) == [] and len(manager.get_files("logged-in", ["f1"])) == 1
    assert upload_guard.sweep(manager) == 0
    assert upload_guard.sweep(object()) == 0  # another kind of manager is left alone


def test_no_uploader_is_drawn_before_the_gate_and_a_login_allows_the_session(layout, monkeypatch, clock) -> None:
    monkeypatch.setenv("LIPSPOOL_PASSWORD", "s3cret")
    monkeypatch.setattr(upload_guard, "_allowed", set())
    at = _app()
    session = "test session id"  # AppTest's
    assert not at.get("file_uploader") and not upload_guard.is_allowed(session)
    _login(at, "s3cret")
    assert at.get("file_uploader") and upload_guard.is_allowed(session)


def test_the_streamlit_config_bounds_uploads() -> None:
    import tomllib

    config = tomllib.loads((Path(DASHBOARD).parent / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert 2000 <= config["server"]["maxUploadSize"] <= 2048  # a 2 GB presenter video fits, and no more
