"""Dashboard timings in real Chromium (Debian's chromium via Playwright), medians of repeated runs:

- submit latency: from clicking Generate (single mode) to the job card showing "running",
  with a real daemon idle and waiting;
- history load: from clicking the History page to its table showing, with 2,000 items
  (200 finished jobs of 10 presenters, thumbnails on disk).

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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spooler import protocol  # noqa: E402
from spooler.config import layout_for  # noqa: E402
from spooler.testjobs import write_finished_job  # noqa: E402


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

    from engine.media_read import iter_frames

    frame = next(iter(iter_frames(video)))
    img = Image.fromarray(frame)
    img.thumbnail((320, 320))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def fill_history(layout, jobs: int, items: int, thumb: bytes) -> None:
    """`jobs` finished jobs of `items` items each, straight through the protocol."""
    for j in range(jobs):
        write_finished_job(layout, [f"presenter{i}.mp4" for i in range(items)], name=f"job {j}", thumbnail=thumb)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    from engine.evaluate.synthetic import make_talking_clip
    from engine.testmedia import make_test_audio

    chromium = shutil.which("chromium")
    work = Path(tempfile.mkdtemp(prefix="lipspool-dashbench-"))
    root = work / "root"
    layout = layout_for(root)
    audio = make_test_audio(work / "speech.wav", seconds=1.0)
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
    submit_s, history_s = [], []
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
            daemon.terminate()  # the history is written straight into the spool: no daemon may claim it
            daemon.wait(30)
            fill_history(layout, 200, 10, thumbnail_bytes(clip))
            for _ in range(args.runs):
                page.goto(url)
                expect(page.get_by_text("Presenter video", exact=True)).to_be_visible(timeout=30_000)
                start = time.perf_counter()
                page.get_by_text("History", exact=True).first.click()
                expect(page.locator("[data-testid='stDataFrame']")).to_contain_text("presenter0.mp4", timeout=60_000)
                history_s.append(time.perf_counter() - start)
            browser.close()
    finally:
        for proc in (ui, daemon):
            proc.terminate()
            proc.wait(15)
        shutil.rmtree(work, ignore_errors=True)
    print(f"submit -> running: median {statistics.median(submit_s):.2f} s of {[round(v, 2) for v in submit_s]}")
    print(f"history, 2000 items: median {statistics.median(history_s):.2f} s of {[round(v, 2) for v in history_s]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
