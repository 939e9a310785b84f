"""Dashboard timings in real Chromium (Debian's chromium via Playwright), medians of repeated runs:

- submit latency: from clicking Generate (single mode) to the job card showing "running",
  with a real daemon idle and waiting;
- history load: from clicking the History page to its table showing, with 2,000 items
  (200 finished jobs of 10 presenters, thumbnails on disk);
- responsiveness during a big upload: a second browser switches between two pages over and over,
  idle and then while a first browser uploads a 2 GB presenter video and submits it (the upload
  travels into Streamlit's memory, then the submit copies it to disk); page switches are timed.

Usage: .venv/bin/python bench/dashboard_bench.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spooler.config import Layout, layout_for
from spooler.testing import write_finished_job

if TYPE_CHECKING:
    from playwright.sync_api import Page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the dashboard did not start")


def thumbnail_bytes(video: Path) -> bytes:
    """A real 320 px JPEG thumbnail (what the daemon writes) of the presenter clip."""
    import io

    from PIL import Image

    from engine.media.read import iter_frames

    frame = next(iter(iter_frames(video)))
    img = Image.fromarray(frame)
    img.thumbnail((320, 320))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def fill_history(layout: Layout, jobs: int, items: int, thumb: bytes) -> None:
    """`jobs` finished jobs of `items` items each, straight through the protocol."""
    for j in range(jobs):
        write_finished_job(layout, [f"presenter{i}.mp4" for i in range(items)], name=f"job {j}", thumbnail=thumb)


def padded_video(clip: Path, dest: Path, size_bytes: int) -> Path:
    """`clip` grown to `size_bytes` by a trailing MP4 `free` box (sparse on disk): still a valid video."""
    shutil.copyfile(clip, dest)
    pad = size_bytes - dest.stat().st_size
    if not 8 <= pad < 2**32:
        raise ValueError("the padding must fit one 32-bit MP4 box")
    with open(dest, "ab") as f:
        f.write(pad.to_bytes(4, "big") + b"free")
        f.truncate(size_bytes)
    return dest


def switch_times(page: Page, until: Callable[[], bool], expect: Callable[..., Any], limit: int = 400) -> list[float]:
    """Switch `page` between Progress and Logs until `until()` is true (at least twice); each switch's seconds."""
    times: list[float] = []
    targets = (("Logs", "Log file:"), ("Progress", "No jobs yet."))
    while len(times) < 2 or (not until() and len(times) < limit):
        label, shows = targets[len(times) % 2]
        start = time.perf_counter()
        page.get_by_text(label, exact=True).first.click()
        expect(page.get_by_text(shows).first).to_be_visible(timeout=120_000)
        times.append(time.perf_counter() - start)
    return times


def big_upload(page_a: Page, page_b: Page, audio: Path, big: Path, runs: int,
               expect: Callable[..., Any]) -> dict[str, object]:
    """Page switches in page_b idle, during page_a's upload of `big`, and during its submit; upload/copy seconds."""
    page_b.goto(page_b.url)
    expect(page_b.get_by_text("Presenter video", exact=True)).to_be_visible(timeout=30_000)
    idle = []
    for _ in range(runs):
        idle += switch_times(page_b, lambda: True, expect)
    page_a.goto(page_a.url)
    expect(page_a.get_by_text("Presenter video", exact=True)).to_be_visible(timeout=30_000)
    files = page_a.locator("input[type=file]")
    files.nth(0).set_input_files(str(audio))
    start = time.perf_counter()
    files.nth(1).set_input_files(str(big))
    print(f"idle switches {len(idle)}; uploading...", file=sys.stderr, flush=True)
    size_shown = page_a.get_by_text(f"Received: {big.name}")
    uploading = switch_times(page_b, lambda: size_shown.count() > 0, expect)
    expect(size_shown).to_be_visible(timeout=600_000)
    upload_s = time.perf_counter() - start
    print(f"uploaded in {upload_s:.1f} s; submitting", file=sys.stderr, flush=True)
    start = time.perf_counter()
    page_a.get_by_role("button", name="Generate").click()
    submitted = page_a.get_by_text("Submitted job")
    copying = switch_times(page_b, lambda: submitted.count() > 0, expect)
    expect(submitted).to_be_visible(timeout=600_000)
    copy_s = time.perf_counter() - start
    return {"idle": idle, "uploading": uploading, "copying": copying, "upload_s": upload_s, "copy_s": copy_s}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--upload-gb", type=float, default=2.0, help="size of the big upload (0 skips it)")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    from engine.testing.media import make_test_audio
    from measure.evaluate.synthetic import make_talking_clip

    chromium = shutil.which("chromium")
    work = Path(tempfile.mkdtemp(prefix="lipspool-dashbench-"))
    root = work / "root"
    layout = layout_for(root)
    audio = make_test_audio(work / "speech.wav", seconds=8.0)  # a job lasts long enough to be seen running
    clip = make_talking_clip(work / "presenter.mp4", seconds=2.0).path
    port = free_port()
    env = {**os.environ, "LIPSPOOL_PASSWORD": ""}
    daemon = subprocess.Popen([sys.executable, "-m", "spooler", "run", "--root-path", str(root)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ui = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard.py"), "--server.port",
                           str(port), "--server.address", "127.0.0.1", "--server.headless", "true", "--",
                           "--root-path", str(root)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    submit_s, history_s, upload = [], [], {}
    try:
        wait_up(url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000}).new_page()
            for _ in range(args.runs):
                page.goto(url)
                expect(page.get_by_text("Presenter video", exact=True)).to_be_visible(timeout=30_000)
                files = page.locator("input[type=file]")
                files.nth(0).set_input_files(str(audio))
                files.nth(1).set_input_files(str(clip))
                expect(page.get_by_text("presenter.mp4").first).to_be_visible(timeout=30_000)
                start = time.perf_counter()
                page.get_by_role("button", name="Generate").click()
                expect(page.get_by_text("· running").first).to_be_visible(timeout=60_000)
                submit_s.append(time.perf_counter() - start)
                expect(page.get_by_text("· done").first).to_be_visible(timeout=120_000)
            if args.upload_gb > 0:
                big = padded_video(clip, work / "presenter_big.mp4", int(args.upload_gb * 1e9))
                other = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000}).new_page()
                other.goto(url)
                page.goto(url)
                upload = big_upload(page, other, audio, big, args.runs, expect)
                expect(page.get_by_text("· done").first).to_be_visible(timeout=300_000)
                other.context.close()
            peak = Path(f"/proc/{ui.pid}/status").read_text().split("VmHWM:")[1].split()[0]
            upload["streamlit_peak_mb"] = int(peak) / 1024
            daemon.terminate()  # the history is written straight into the spool: no daemon may claim it
            daemon.wait(30)
            fill_history(layout, 200, 10, thumbnail_bytes(clip))
            for _ in range(args.runs):
                page.goto(url)
                expect(page.get_by_text("Presenter video", exact=True)).to_be_visible(timeout=30_000)
                start = time.perf_counter()
                page.get_by_text("History", exact=True).first.click()
                history = page.locator("[data-testid='stDataFrame']").filter(has_text="Thumbnail")  # not the workers'
                expect(history).to_contain_text("presenter0.mp4", timeout=60_000)
                history_s.append(time.perf_counter() - start)
            browser.close()
    finally:
        for proc in (ui, daemon):
            proc.terminate()
            proc.wait(15)
        shutil.rmtree(work, ignore_errors=True)
    print(f"submit -> running: median {statistics.median(submit_s):.2f} s of {[round(v, 2) for v in submit_s]}")
    for phase in ("idle", "uploading", "copying") if "idle" in upload else ():  # --upload-gb 0: none
        times = upload[phase]
        print(f"page switch in another browser, {phase}: median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s over {len(times)} switches")
    if "idle" in upload:
        print(f"upload of {args.upload_gb:g} GB: {upload['upload_s']:.1f} s; submit (copy + check) to "
              f"'submitted': {upload['copy_s']:.1f} s; Streamlit's peak memory {upload['streamlit_peak_mb']:.0f} MB")
    print(f"history, 2000 items: median {statistics.median(history_s):.2f} s of {[round(v, 2) for v in history_s]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
