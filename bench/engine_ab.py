"""Side-by-side speed of two checkouts of the engine: the same inputs, runs interleaved, one table.

    .venv/bin/python bench/engine_ab.py --before ../lipspool-old [--after .] [--sizes 720,1080]
                                        [--runs 3] [--seconds 20] [--backend rewrite]

`python -m measure bench` measures one version of the code; comparing two of its runs made at
different times mixes the change with the machine's mood. This prepares the close-up inputs
once (with the current checkout's measure.bench.inputs) and, for each input and run, times the
FFmpeg floor, then a first render and a repeat render with each checkout, alternating, every job
in its own process (`python -m measure.bench.child`, or `engine.bench.child` in a checkout from
before the tools moved out of the engine, with that checkout on PYTHONPATH). Prints
JSON: per input and checkout the medians and the ratios to the floor, and after/before.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.media.probe import audio_duration
from engine.rendering import output_frames
from measure.bench.inputs import LANDSCAPE_CLIP, SPEECH, prepare_closeups, trim_speech


def run_child(tree: Path, job: dict) -> dict:
    """One timed job in a fresh interpreter importing the engine from `tree`."""
    child = "measure.bench.child" if (tree / "measure" / "bench" / "child.py").exists() else "engine.bench.child"
    proc = subprocess.run([sys.executable, "-m", child, json.dumps(job)], cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{job['kind']} in {tree} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--after", type=Path, default=REPO, help="checkout of the new code (default: this one)")
    parser.add_argument("--sizes", default="720,1080", help="close-up short sides")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--backend", default="rewrite")
    parser.add_argument("--video", type=Path, default=LANDSCAPE_CLIP)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    sizes = [int(s) for s in args.sizes.split(",")]
    report = []
    with tempfile.TemporaryDirectory(prefix="lipspool-ab-") as tmp:
        work = Path(tmp)
        speech = (trim_speech(SPEECH, work / "a.wav", 0.0, args.seconds),
                  trim_speech(SPEECH, work / "b.wav", args.seconds, args.seconds))
        for item in prepare_closeups(args.video, sizes, work, 12.0):
            n = output_frames(audio_duration(speech[0]), item.fps)
            times: dict[str, list[dict]] = {}
            for run in range(args.runs):
                base = {"video": str(item.path), "out": str(work / "out.mp4")}
                times.setdefault("floor", []).append(run_child(trees["after"], {
                    **base, "kind": "floor", "audio": str(speech[0]), "n_frames": n, "crf": 20, "preset": "veryfast"}))
                for name, tree in trees.items():
                    cache = Path(tempfile.mkdtemp(prefix=f"cache-{name}-", dir=work))
                    options = {"backend": args.backend, "cache_dir": str(cache), "scratch_dir": str(work)}
                    for kind, audio in (("render", speech[0]), ("repeat", speech[1])):
                        got = run_child(tree, {**base, "kind": "render", "audio": str(audio), "options": options})
                        times.setdefault(f"{kind} {name}", []).append(got)
                print(f"{item.label} run {run + 1}: "
                      + ", ".join(f"{k} {v[-1]['seconds']:.2f}s" for k, v in times.items()),
                      file=sys.stderr, flush=True)
            med = {k: statistics.median(x["seconds"] for x in v) for k, v in times.items()}
            row = {"input": item.label, "size": f"{item.width}x{item.height}", "frames": n,
                   "seconds": {k: round(v, 2) for k, v in med.items()},
                   "all_seconds": {k: [round(x["seconds"], 2) for x in v] for k, v in times.items()},
                   "peak_rss_mb": {k: round(max(x["peak_rss"] for x in v) / 2**20) for k, v in times.items()}}
            for name in trees:
                row[f"render/floor {name}"] = round(med[f"render {name}"] / med["floor"], 2)
                row[f"repeat/render {name}"] = round(med[f"repeat {name}"] / med[f"render {name}"], 2)
            row["render after/before"] = round(med["render after"] / med["render before"], 2)
            row["repeat after/before"] = round(med["repeat after"] / med["repeat before"], 2)
            report.append(row)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
