"""Benchmark of the HTTP API: a big upload's memory and throughput, and submit-to-running latency.

    .venv/bin/python bench/api_bench.py [--upload-gb 2] [--runs 10] [--keep] [--json out.json]

On a fresh temporary root it starts a real server (`python -m api serve`, another process) and
makes a token. Memory: one small upload warms the server up (its media check loads PyAV), then
its peak resident size is reset (/proc/<pid>/clear_refs) and its idle RSS read; a WAV of
--upload-gb GB (96 kHz, stereo, 24-bit silence, about an hour: it passes the media check; made
sparse, so it costs no time to write) is uploaded with httpx (streamed from disk) beside a small
video, and the server's peak RSS (VmHWM, and RSS polled every 20 ms) is compared with idle.
Throughput is the file's size over the wall time of the whole POST (receiving, writing, the
media check, queueing). Latency: with a real daemon (`python -m spooler run`, `none` backend),
each run POSTs a JSON job naming a 20 s audio and a small video under the root, then polls
GET /v1/jobs/{id} every 10 ms until the state is no longer "queued"; the job is then cancelled.
Every file made is removed at the end (--keep leaves the root).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx

from api.settings import api_dir
from api.tokens import TokenStore
from engine.testing.media import make_test_audio, make_test_video
from spooler.config import layout_for


def kib(pid: int, field: str) -> int:
    """A /proc/<pid>/status field in KiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False where the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def big_wav(path: Path, size: int, rate: int = 96000, channels: int = 2, width: int = 3) -> Path:
    """A valid PCM WAV of `size` bytes in all: a header and silence (a sparse file)."""
    data = size - 44
    data -= data % (channels * width)
    header = (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, channels, rate, rate * channels * width, channels * width, width * 8)
              + b"data" + struct.pack("<I", data))
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(44 + data)
    return path


class Server:
    """`python -m api serve` on a free port."""

    def __init__(self, root: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(root / "logs" / "api-bench.stderr", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--root-path", str(root), "--port",
                                      str(port), "--max-upload", "8G"], cwd=REPO, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("the API did not start; see " + self.log.name)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upload(client: httpx.Client, audio: Path, video: Path) -> tuple[dict, float]:
    """POST one multipart job (files streamed from disk); its status record and the wall time."""
    start = time.perf_counter()
    with open(audio, "rb") as a, open(video, "rb") as v:
        answer = client.post("/v1/jobs", files=[("audio", (audio.name, a, "audio/wav")),
                                                ("videos", (video.name, v, "video/mp4"))],
                             data={"options": json.dumps({"backend": "none"})})
    elapsed = time.perf_counter() - start
    if answer.status_code != 201:
        raise SystemExit(f"upload refused: {answer.status_code} {answer.text[:300]}")
    return answer.json(), elapsed


def measure_upload(client: httpx.Client, server: Server, root: Path, media: dict[str, Path], gb: float) -> dict:
    """Peak server memory above idle and throughput of one big upload."""
    pid = server.proc.pid
    warm, _ = upload(client, media["short"], media["tiny"])  # loads the probe (PyAV) once
    client.post(f"/v1/jobs/{warm['job_id']}/cancel")
    time.sleep(1.0)
    idle = kib(pid, "VmRSS")
    resettable = reset_peak(pid)
    peak_polled, stop = [idle], threading.Event()

    def poll() -> None:
        while not stop.is_set():
            peak_polled.append(kib(pid, "VmRSS"))
            time.sleep(0.02)

    big = big_wav(root / "media" / "big.wav", int(gb * 1e9))
    size = big.stat().st_size
    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        job, elapsed = upload(client, big, media["tiny"])
    finally:
        stop.set()
        watcher.join()
        big.unlink()
    client.post(f"/v1/jobs/{job['job_id']}/cancel")
    shutil.rmtree(root / "results" / job["job_id"], ignore_errors=True)  # the 2 GB copy
    hwm = kib(pid, "VmHWM") if resettable else max(peak_polled)
    return {"upload_bytes": size, "idle_rss_mb": idle / 1024, "peak_rss_mb": hwm / 1024,
            "peak_above_idle_mb": (hwm - idle) / 1024, "peak_polled_above_idle_mb": (max(peak_polled) - idle) / 1024,
            "peak_from": "VmHWM after clear_refs" if resettable else "RSS polled every 20 ms",
            "upload_s": elapsed, "throughput_mb_s": size / elapsed / 1e6}


def measure_latency(client: httpx.Client, root: Path, runs: int) -> dict:
    """Submit-to-running latency through the API with a real daemon (medians of `runs`)."""
    log = open(root / "logs" / "daemon-bench.stderr", "wb")  # noqa: SIM115 - closed below
    daemon = subprocess.Popen([sys.executable, "-m", "spooler", "run", "--root-path", str(root), "--device", "cpu"],
                              cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not client.get("/v1/workers").json()["alive"]:
            if time.monotonic() > deadline:
                raise SystemExit("the daemon did not start")
            time.sleep(0.1)
        latencies, posts = [], []
        for _ in range(runs + 1):  # the first run warms the daemon up and is left out
            start = time.perf_counter()
            answer = client.post("/v1/jobs", json={"audio": "media/long.wav", "videos": ["media/small.mp4"],
                                                   "options": {"backend": "none"}})
            posted = time.perf_counter()
            job_id = answer.json()["job_id"]
            while client.get(f"/v1/jobs/{job_id}").json()["state"] == "queued":
                time.sleep(0.01)
            latencies.append(time.perf_counter() - start)
            posts.append(posted - start)
            client.post(f"/v1/jobs/{job_id}/cancel")
            while client.get(f"/v1/jobs/{job_id}").json()["state"] not in ("cancelled", "done", "failed"):
                time.sleep(0.05)
    finally:
        daemon.terminate()
        daemon.wait(30)
        log.close()
    kept = latencies[1:]
    return {"runs": len(kept), "submit_to_running_median_s": statistics.median(kept), "min_s": min(kept),
            "max_s": max(kept), "post_median_s": statistics.median(posts[1:])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upload-gb", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="leave the temporary root")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="api-bench-", dir=os.environ.get("TMPDIR")))
    layout = layout_for(root)
    _, token = TokenStore(api_dir(layout)).create("bench")
    folder = root / "media"
    folder.mkdir()
    media = {"tiny": Path(make_test_video(folder / "tiny.mp4", seconds=0.6, fps=25, size=(96, 64))),
             "small": Path(make_test_video(folder / "small.mp4", seconds=1.0, fps=25, size=(160, 120))),
             "short": Path(make_test_audio(folder / "short.wav", seconds=1.0)),
             "long": Path(make_test_audio(folder / "long.wav", seconds=20.0))}
    server = Server(root, free_port())
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
            figures = {"upload": measure_upload(client, server, root, media, args.upload_gb),
                       "latency": measure_latency(client, root, args.runs)}
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    up, lat = figures["upload"], figures["latency"]
    print(f"upload {up['upload_bytes'] / 1e9:.2f} GB: {up['upload_s']:.1f} s, {up['throughput_mb_s']:.0f} MB/s; "
          f"server RSS idle {up['idle_rss_mb']:.0f} MB, peak {up['peak_rss_mb']:.0f} MB "
          f"(+{up['peak_above_idle_mb']:.1f} MB, {up['peak_from']}; polled +{up['peak_polled_above_idle_mb']:.1f} MB)")
    print(f"submit to running through the API: median {lat['submit_to_running_median_s'] * 1000:.0f} ms "
          f"(min {lat['min_s'] * 1000:.0f}, max {lat['max_s'] * 1000:.0f}, {lat['runs']} runs); "
          f"the POST itself {lat['post_median_s'] * 1000:.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
