"""The dashboard end to end in real headless Chromium (Debian's `chromium`, driven by Playwright):
a real daemon and a real `streamlit run` on free loopback ports. Upload an audio and three
presenter videos, generate, watch progress reach the end, see three rows with thumbnails in the
history, play one, download the ZIP and check it holds three playable MP4s, cancel a job, reload
and see nothing lost. Screenshots of each step go to test-artifacts/dashboard/."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import av
import pytest
from spool_helpers import REPO, copy_into, wait_for

from spooler import protocol
from spooler.records import JobState

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/test.sh "
                                                          "installs it where apt-get can)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def start_dashboard(root: Path):
    """Start real `streamlit run dashboard.py` processes on free loopback ports; each call returns a URL."""
    procs = []

    def start(password: str = "") -> str:
        port = _free_port()
        log = open(root.parent / f"streamlit-{port}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--", "--root-path", str(root)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LIPSPOOL_PASSWORD": password})
        procs.append((proc, log))
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(url), timeout=60, what="the dashboard")
        return url

    yield start
    for proc, log in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def dashboard(start_dashboard) -> str:
    """A dashboard with no password; its URL."""
    return start_dashboard()


def _up(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A page in a browser that prefers Chinese."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    return context.new_page()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _go(page, label: str) -> None:
    page.get_by_text(label, exact=True).first.click()


def _history_table(page):
    """The history's table: the one with thumbnails (the live workers' table is a DataFrame too)."""
    return page.locator("[data-testid='stDataFrame']").filter(has_text="缩略图")


def test_batch_upload_progress_history_zip_cancel_reload(root, layout, media, daemons, dashboard, page, tmp_path):
    from playwright.sync_api import expect

    from measure.evaluate.synthetic import make_talking_clip

    presenters = [make_talking_clip(tmp_path / f"讲师{i}.mp4", seconds=2.0, seed=i).path for i in range(3)]
    daemons()
    page.goto(dashboard)
    expect(page.get_by_text("LipSpool 批量口型同步")).to_be_visible(timeout=30_000)
    _shot(page, "01-start-zh")

    _go(page, "批量处理")
    expect(page.get_by_text("人物视频（可多选）")).to_be_visible(timeout=15_000)
    inputs = page.locator("input[type=file]")
    expect(inputs).to_have_count(2, timeout=15_000)
    inputs.nth(0).set_input_files(str(media["audio_short"]))
    inputs.nth(1).set_input_files([str(p) for p in presenters])
    expect(page.get_by_text("讲师2.mp4").first).to_be_visible(timeout=30_000)
    for i in range(3):  # each presenter's template check, in Chinese, once the server has checked it
        expect(page.get_by_text(re.compile(rf"讲师{i}\.mp4 · 模板检查: \W*(良好|可用|较差) — ")).first).to_be_visible(
            timeout=90_000)
    _shot(page, "02-batch-uploaded")
    page.get_by_role("button", name="全部生成").click()
    expect(page.get_by_text("已提交任务")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("讲师2.mp4 (0.1 MB)")).to_have_count(0)  # the uploader was cleared
    job_id = next(s.job_id for s in protocol.iter_statuses(layout))
    expect(page.get_by_text("3 / 3").first).to_be_visible(timeout=120_000)
    _shot(page, "03-batch-done")
    status = protocol.read_status(layout, job_id)
    assert status.state == JobState.DONE and status.done == 3

    _go(page, "历史记录")
    table = _history_table(page)
    expect(table).to_be_visible(timeout=30_000)
    for name in ("讲师0.mp4", "讲师1.mp4", "讲师2.mp4"):
        expect(table).to_contain_text(name, timeout=30_000)
    video = page.locator("video").first
    expect(video).to_be_visible(timeout=30_000)
    assert "app/static/dl/" in (video.get_attribute("src") or "")  # streamed from disk, not from memory
    page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=30_000)  # it loads
    _shot(page, "04-history")
    page.get_by_role("button", name="打包 ZIP").click()
    zip_link = page.get_by_role("link", name=f"下载 {job_id}.zip")
    expect(zip_link).to_be_visible(timeout=30_000)
    href = zip_link.get_attribute("href")
    assert "/app/static/dl/" in href or href.startswith("app/static")
    with page.expect_download(timeout=60_000) as dl:
        zip_link.click()
    saved = tmp_path / "export.zip"
    dl.value.save_as(saved)
    with zipfile.ZipFile(saved) as zf:
        names = sorted(zf.namelist())
        assert len(names) == 3 and all(n.endswith(".mp4") for n in names)
        zf.extractall(tmp_path / "unzipped")
    for name in names:
        with av.open(str(tmp_path / "unzipped" / name)) as c:
            assert sum(1 for _ in c.decode(video=0)) > 10

    # a long job (3 minutes of speech), cancelled from the progress page while it runs
    from engine.testing.media import make_test_audio

    long_audio = copy_into(root, make_test_audio(tmp_path / "long.wav", seconds=180.0))
    long_job = protocol.make_job(str(long_audio), [str(copy_into(root, presenters[0]))], name="要取消的任务")
    protocol.submit(layout, long_job)
    _go(page, "任务进度")
    expect(page.get_by_text("要取消的任务").first).to_be_visible(timeout=30_000)
    wait_for(lambda: protocol.read_status(layout, long_job.id).state == JobState.RUNNING, timeout=60,
             what="the long job to start")
    _shot(page, "05-progress-running")
    page.get_by_role("button", name="取消").first.click()
    wait_for(lambda: protocol.read_status(layout, long_job.id).state == JobState.CANCELLED, timeout=60,
             what="the cancel")

    page.reload()
    _go(page, "历史记录")
    table = _history_table(page)
    for name in ("讲师0.mp4", "讲师2.mp4"):
        expect(table).to_contain_text(name, timeout=30_000)
    expect(table).to_contain_text("已取消", timeout=30_000)
    _shot(page, "06-after-reload")


def test_password_english_single_mode_play_and_download(root, layout, media, daemons, start_dashboard, browser,
                                                        tmp_path):
    from playwright.sync_api import expect

    from measure.evaluate.synthetic import make_talking_clip

    presenter = make_talking_clip(tmp_path / "presenter one.mp4", seconds=2.0, seed=7).path
    url = start_dashboard(password="lan 口令 42")
    daemons()
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_text("LipSpool batch lip-sync")).to_be_visible(timeout=30_000)  # English, as asked
    password = page.get_by_label("Password", exact=True)
    expect(password).to_be_visible(timeout=15_000)
    expect(page.get_by_text("Presenter video", exact=True)).to_have_count(0)  # nothing behind the gate shows
    password.fill("lan 口令 41")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Wrong password.")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("Presenter video", exact=True)).to_have_count(0)
    _shot(page, "07-password-wrong-en")
    page.get_by_label("Password", exact=True).fill("lan 口令 42")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Presenter video", exact=True)).to_be_visible(timeout=15_000)

    inputs = page.locator("input[type=file]")
    expect(inputs).to_have_count(2, timeout=15_000)
    inputs.nth(0).set_input_files(str(media["audio_short"]))
    inputs.nth(1).set_input_files(str(presenter))
    expect(page.get_by_text("Received: presenter one.mp4")).to_be_visible(timeout=30_000)  # the server has it
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_text("Submitted job")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("1 / 1").first).to_be_visible(timeout=120_000)
    video = page.locator("video").first
    expect(video).to_be_visible(timeout=30_000)
    assert "app/static/dl/" in (video.get_attribute("src") or "")
    page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=30_000)
    _shot(page, "08-single-done-en")
    link = page.get_by_role("link", name=re.compile(r"^Download .*\.mp4$"))
    with page.expect_download(timeout=60_000) as dl:
        link.click()
    saved = tmp_path / "single.mp4"
    dl.value.save_as(saved)
    with av.open(str(saved)) as c:
        assert c.streams.audio and sum(1 for _ in c.decode(video=0)) > 10

    page.get_by_text("中文", exact=True).click()  # the switch keeps the session (and its login)
    expect(page.get_by_text("LipSpool 批量口型同步")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("单个处理", exact=True).first).to_be_visible()
    expect(page.get_by_label("密码", exact=True)).to_have_count(0)
    _shot(page, "09-switched-zh")

    other = browser.new_context(locale="en-US").new_page()  # another browser: asked again
    other.goto(url)
    expect(other.get_by_label("Password", exact=True)).to_be_visible(timeout=30_000)


MARKUP_NAME = "![x](http://127.0.0.1:9/x.png)\n"  # an outside image and a newline, as a job name


def test_markup_in_a_job_name_shows_as_plain_text(root, layout, start_dashboard, page):
    """A job name that is Markdown for an outside image shows as its literal text, loads nothing."""
    from playwright.sync_api import expect

    from spooler.testing import write_finished_job

    write_finished_job(layout, ["v0.mp4"], name=MARKUP_NAME)
    protocol.submit(layout, protocol.make_job(str(root / "a.wav"), [str(root / "v1.mp4")], name=MARKUP_NAME))
    url = start_dashboard()  # no daemon: the second job stays queued
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if "127.0.0.1:9/" in request.url else None)
    shown = "![x](http://127.0.0.1:9/x.png)\\n"  # the newline made visible
    page.goto(url)
    _go(page, "任务进度")
    expect(page.get_by_text(shown, exact=False).first).to_be_visible(timeout=30_000)
    _go(page, "历史记录")
    table = _history_table(page)
    expect(table).to_contain_text(shown, timeout=30_000)
    _shot(page, "10-markup-name-as-text")
    assert page.locator("img[src*='127.0.0.1:9']").count() == 0 and outside == []


def test_three_wrong_passwords_make_the_page_wait(start_dashboard, browser):
    from playwright.sync_api import expect

    url = start_dashboard(password="right")
    page = browser.new_context(locale="en-US").new_page()
    page.goto(url)
    for _ in range(3):
        page.get_by_label("Password", exact=True).fill("wrong")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("Wrong password.")).to_be_visible(timeout=15_000)
    # .first: while Streamlit reruns, the warning of the run before can still show beside the new one
    expect(page.get_by_text(re.compile(r"Too many wrong passwords: wait 10 s")).first).to_be_visible(timeout=15_000)
    page.get_by_label("Password", exact=True).fill("right")  # refused unchecked while the wait lasts
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(re.compile(r"Too many wrong passwords: wait \d+ s")).first).to_be_visible(timeout=15_000)
    expect(page.get_by_text("Presenter video", exact=True)).to_have_count(0)
    _shot(page, "11-password-wait-en")


def test_history_updates_by_itself_when_an_item_finishes(root, layout, start_dashboard, page):
    """The history table of a job still being rendered redraws itself: no navigation, no reload."""
    from playwright.sync_api import expect

    from spooler.states import end_job, finish_item

    job = protocol.make_job(str(root / "a.wav"), [str(root / "lecture.mp4")], name="auto-refresh")
    protocol.submit(layout, job)
    url = start_dashboard()  # no daemon: the job waits until this test finishes it by hand
    page.goto(url)
    _go(page, "历史记录")
    table = _history_table(page)
    expect(table).to_contain_text("排队中", timeout=30_000)
    path = protocol.claim(protocol.find_job_file(layout, job.id), layout, "by-hand")
    status = protocol.read_status(layout, job.id)
    finish_item(status.items[0], protocol.ItemState.FAILED, "finished by the test")
    end_job(status)
    protocol.write_status(layout, status)
    protocol.finish(path, layout, status.state)
    expect(table).to_contain_text("失败", timeout=30_000)
