"""Benchmark: one batch job of 8 presenters through the default backend, with 1, 2 and `auto` workers.

    .venv/bin/python bench/batch_bench.py [--presenters 8] [--seconds 3] [--repeats 3] [--workers 1 2 auto]

A real `python -m spooler run --workers N` serves a fresh spool for each run; the wall time is
from the submit to the job's end (its file in done/). Runs alternate between the worker counts
(1, 2, auto, 1, 2, auto, ...) so a busy machine weighs on each alike, after one warm-up run that
fills the face-track cache all runs share. Prints JSON: per count the median wall time, the
throughput relative to one worker, the CPU time over wall time of the whole process tree, and
the thread settings each worker got.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.testing.media import make_test_audio
from measure.evaluate.synthetic import make_talking_clip
from spooler import protocol
from spooler.config import Layout
from spooler.workers import plan_workers


def _children_cpu_s() -> float:
    t = os.times()
    return t.children_user + t.children_system


def run_batch(root: Path, cache: Path, audio: Path, videos: list[Path], workers: str) -> dict:
    """One batch job on a fresh spool served by `--workers workers`; wall and CPU seconds."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    os.symlink(cache, root / "cache", target_is_directory=True)  # one face-track cache for every run
    layout = Layout(root).ensure()
    cpu0 = _children_cpu_s()
    log = open(root / "logs" / "bench.out", "wb")  # noqa: SIM115 - the daemon's output file, open while it runs
    proc = subprocess.Popen([sys.executable, "-m", "spooler", "run", "--root-path", str(root), "--device", "cpu",
                             "--workers", workers, "--allow-root", str(audio.parent)],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        expected = len(plan_workers(workers, "cpu"))
        deadline = time.monotonic() + 60
        while len(list(layout.spool_dir("workers").glob("*.json"))) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{expected} workers did not start")
            time.sleep(0.05)
        job = protocol.make_job(str(audio), [str(v) for v in videos])
        t0 = time.monotonic()
        protocol.submit(layout, job)
        while not (layout.spool_dir("done") / f"{job.id}.json").exists():
            if (layout.spool_dir("failed") / f"{job.id}.json").exists():
                raise RuntimeError(f"the batch failed: {protocol.read_status(layout, job.id).message}")
            time.sleep(0.05)
        wall = time.monotonic() - t0
        status = protocol.read_status(layout, job.id)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        log.close()
    return {"wall_s": round(wall, 2), "cpu_s": round(_children_cpu_s() - cpu0, 2), "done": status.done,
            "workers_used": len({it.worker.worker_id for it in status.items if it.worker})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presenters", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the narration")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", nargs="+", default=["1", "2", "auto"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lipspool-batch-bench-") as tmp:
        tmp = Path(tmp)
        media, cache = tmp / "media", tmp / "cache"
        media.mkdir()
        cache.mkdir()
        audio = make_test_audio(media / "narration.wav", seconds=args.seconds)
        videos = [make_talking_clip(media / f"presenter{i}.mp4", seconds=2.0, seed=i).path
                  for i in range(args.presenters)]
        run_batch(tmp / "warm", cache, Path(audio), videos, "1")  # fills the face-track cache
        runs: dict[str, list[dict]] = {w: [] for w in args.workers}
        for r in range(args.repeats):
            for w in args.workers:
                runs[w].append(run_batch(tmp / f"run-{w}-{r}", cache, Path(audio), videos, w))
                print(json.dumps({"workers": w, "repeat": r, **runs[w][-1]}), file=sys.stderr, flush=True)
    base = statistics.median(x["wall_s"] for x in runs[args.workers[0]])
    report = {"presenters": args.presenters, "narration_s": args.seconds, "repeats": args.repeats,
              "cores": len(os.sched_getaffinity(0)),
              "peak_worker_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
              "results": []}
    for w, xs in runs.items():
        wall = statistics.median(x["wall_s"] for x in xs)
        plans = plan_workers(w, "cpu")
        report["results"].append({
            "workers": w, "processes": len(plans), "threads_each": plans[0].env["OMP_NUM_THREADS"],
            "wall_s_median": wall, "wall_s": [x["wall_s"] for x in xs],
            "throughput_vs_first": round(base / wall, 2),
            "cpu_over_wall": round(statistics.median(x["cpu_s"] / x["wall_s"] for x in xs), 2),
            "workers_used": max(x["workers_used"] for x in xs)})
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
