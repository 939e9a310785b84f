"""One timed benchmark job (floor or render) in a fresh Python process, reporting its own peak RSS.

The parent (runner.run_in_child) runs `python -m measure.bench.child '<json>'`; the child does the job, then prints one
JSON line: seconds (the job alone, imports excluded), CPU seconds of all its threads, peak RSS
in bytes (the child's own high-water mark, so runs never mix) and the frames written.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

from engine.errors import EngineError


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Do one job in this process: {"kind": "floor"|"render", "video", "audio", "out", ...}."""
    cpu0 = _cpu_seconds()
    if job["kind"] == "floor":
        from .floor import ffmpeg_floor

        t = time.perf_counter()
        frames = ffmpeg_floor(job["video"], job["audio"], job["out"], job["n_frames"], job["crf"], job["preset"])
        seconds = time.perf_counter() - t
    else:
        from engine.rendering import render

        t = time.perf_counter()
        result = render(job["audio"], job["video"], job["out"], job["options"])
        seconds = time.perf_counter() - t
        frames = result.n_frames
    return {"seconds": seconds, "cpu_seconds": _cpu_seconds() - cpu0, "peak_rss": peak_rss(), "frames": frames}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss() -> int:
    """This process's peak resident memory in bytes (VmHWM; ru_maxrss would include the parent's, kept across exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> int:
    """Child entry point: run the job given as JSON in argv[1] and print the result as JSON."""
    job = json.loads(sys.argv[1])
    try:
        result = run_job(job)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
