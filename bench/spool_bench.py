"""Benchmark of the spool itself (not of lip-sync): claim latency and the daemons' own overhead.

    .venv/bin/python bench/spool_bench.py [--jobs 200] [--latency-runs 30]

1. submit -> claim latency with watchdog, and with watchdog off (rescan only, every 2 s): one
   idle daemon, one job at a time, latency = status.claimed_at - job.submitted_at.
2. N small jobs submitted at once to two daemons: each must run exactly once (counted in the
   shared log), none lost; per-job overhead = the workers' time on the job's items minus
   engine.render (claim, records, renames), as each item's record keeps it (status.overhead_s
   sums them; opening the job, a few ms, is not counted).

Every figure comes from real daemon processes rendering real (tiny) videos through `none`.
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.testing.media import make_test_audio, make_test_video
from spooler import protocol
from spooler.config import Layout


def start_daemon(root: Path, *args: str) -> subprocess.Popen:
    log = open(root / "logs" / f"bench-{time.monotonic_ns()}.out", "wb")  # noqa: SIM115 - the daemon's output file, open while it runs
    return subprocess.Popen([sys.executable, "-m", "spooler", "run", "--root-path", str(root), *args],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(layout: Layout, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(list(layout.spool_dir("workers").glob("*.json"))) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("daemons did not start")
        time.sleep(0.05)
    time.sleep(0.5)  # let the observer settle


def finished(layout: Layout, job_id: str) -> bool:
    path = protocol.find_job_file(layout, job_id)
    return path is not None and path.parent.name in ("done", "failed", "rejected")


def make_inputs(root: Path) -> tuple[str, str]:
    media = root / "media"
    media.mkdir(parents=True, exist_ok=True)
    video = make_test_video(media / "v.mp4", seconds=0.4, fps=25, size=(64, 48))
    audio = make_test_audio(media / "a.wav", seconds=0.4)
    return str(audio), str(video)


def latency(runs: int, watch: bool) -> list[float]:
    """submit -> claim latencies (ms) for `runs` jobs submitted one at a time to an idle daemon."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = Layout(Path(tmp)).ensure()
        audio, video = make_inputs(layout.root)
        daemon = start_daemon(layout.root, *([] if watch else ["--no-watch"]), "--rescan", "2")
        try:
            wait_ready(layout, 1)
            out = []
            for i in range(runs):
                job = protocol.make_job(audio, [video], options={"backend": "none"})
                protocol.submit(layout, job)
                while not finished(layout, job.id):
                    time.sleep(0.01)
                status = protocol.read_status(layout, job.id)
                out.append((status.claimed_at - job.submitted_at) * 1000)
                time.sleep(0.05 + (i % 7) * 0.13)  # submit at varied phases of the rescan cycle
            return out
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)


def throughput(n_jobs: int) -> dict:
    """N jobs at once through two daemons: exactly-once check and overhead figures."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = Layout(Path(tmp)).ensure()
        audio, video = make_inputs(layout.root)
        daemons = [start_daemon(layout.root), start_daemon(layout.root)]
        try:
            wait_ready(layout, 2)
            t0 = time.monotonic()
            ids = []
            for _ in range(n_jobs):
                job = protocol.make_job(audio, [video], options={"backend": "none"})
                protocol.submit(layout, job)
                ids.append(job.id)
            submit_s = time.monotonic() - t0
            while not all(finished(layout, j) for j in ids):
                time.sleep(0.1)
            wall = time.monotonic() - t0
        finally:
            for d in daemons:
                d.send_signal(signal.SIGTERM)
            for d in daemons:
                d.wait(30)
        log = (layout.logs / "lipspool.log").read_text()
        runs = {j: len(re.findall(rf"running job {j} ", log)) for j in ids}
        statuses = [protocol.read_status(layout, j) for j in ids]
        overhead = [s.overhead_s * 1000 for s in statuses]
        render = [sum(it.render_s for it in s.items) * 1000 for s in statuses]
        pids = {s.worker.pid for s in statuses}
        return {
            "jobs": n_jobs,
            "ran_exactly_once": sum(1 for c in runs.values() if c == 1),
            "ran_twice_or_more": sum(1 for c in runs.values() if c > 1),
            "lost": sum(1 for c in runs.values() if c == 0),
            "all_done": sum(1 for s in statuses if s.state.value == "done"),
            "daemons_used": len(pids),
            "submit_all_s": round(submit_s, 2),
            "wall_s": round(wall, 1),
            "overhead_ms_median": round(statistics.median(overhead), 2),
            "overhead_ms_p90": round(statistics.quantiles(overhead, n=10)[-1], 2),
            "render_ms_median": round(statistics.median(render), 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency-runs", type=int, default=30)
    args = parser.parse_args()
    report = {}
    for watch in (True, False):
        lat = latency(args.latency_runs if watch else max(10, args.latency_runs // 2), watch)
        key = "latency_watchdog_ms" if watch else "latency_rescan_only_ms"
        print(key, "all:", " ".join(f"{x:.0f}" for x in lat), flush=True)
        report[key] = {"n": len(lat), "median": round(statistics.median(lat), 1),
                       "min": round(min(lat), 1), "max": round(max(lat), 1)}
        print(key, json.dumps(report[key]), flush=True)
    report["two_daemons"] = throughput(args.jobs)
    print("two_daemons", json.dumps(report["two_daemons"]), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
