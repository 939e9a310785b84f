"""`python -m measure bench`: real-time factor of a backend against the ffmpeg-only floor.

For each input (a real clip scaled to each size) the runs are interleaved (floor, render,
repeat, floor, render, repeat, ...) so machine noise hits all three, each in its own process
(for a clean peak RSS), and the median of each is reported. `render` uses a fresh cache folder
and the first speech segment; `repeat` renders the same video again with the next segment and
the cache the first render filled.
"""
from __future__ import annotations

import logging
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.media.probe import audio_duration
from engine.options import RenderOptions

from .inputs import LANDSCAPE_CLIP, SPEECH, BenchInput, default_videos, prepare, prepare_closeups, trim_speech
from .report import machine_info, markdown
from .runner import run_in_child

log = logging.getLogger(__name__)

__all__ = ["markdown", "run_bench"]


def _median(samples: list[dict[str, Any]], out_seconds: float) -> dict[str, Any]:
    seconds = statistics.median(s["seconds"] for s in samples)
    return {"seconds": seconds, "rtf": seconds / out_seconds, "all_seconds": [s["seconds"] for s in samples],
            "cpu_seconds": statistics.median(s["cpu_seconds"] for s in samples),
            "peak_rss": max(s["peak_rss"] for s in samples)}


def _bench_input(item: BenchInput, speech: tuple[Path, Path], work: Path, opts: RenderOptions, runs: int,
                 say: Callable[[str], None]) -> dict[str, Any]:
    """Measure one input: floor, first render and repeat render, `runs` times interleaved."""
    from engine.rendering import output_frames

    samples: dict[str, list[dict[str, Any]]] = {"floor": [], "render": [], "repeat": []}
    n_frames = output_frames(audio_duration(speech[0]), item.fps)  # the floor encodes as many as a render
    for run in range(runs):
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=work))
        options = {**opts.to_dict(), "cache_dir": str(cache), "scratch_dir": str(work)}
        jobs = {
            "floor": {"kind": "floor", "audio": str(speech[0]), "n_frames": n_frames, "crf": opts.crf,
                      "preset": opts.preset},
            "render": {"kind": "render", "audio": str(speech[0]), "options": options},  # fills the fresh cache
            "repeat": {"kind": "render", "audio": str(speech[1]), "options": options},  # other audio, cache hit
        }
        for name, job in jobs.items():
            got = run_in_child({**job, "video": str(item.path), "out": str(work / "out.mp4")})
            if got["frames"] != n_frames:
                raise EngineError(f"benchmark {name} wrote {got['frames']} frames, expected {n_frames}")
            samples[name].append(got)
            say(f"{item.label} run {run + 1}/{runs}: {name} {got['seconds']:.2f} s, "
                f"peak RSS {got['peak_rss'] / 2**20:.0f} MiB")
        (work / "out.mp4").unlink(missing_ok=True)
    out_seconds = n_frames / item.fps
    return {"label": item.label, "width": item.width, "height": item.height, "fps": item.fps,
            "face_share": item.face_share, "input_seconds": item.seconds, "frames": n_frames,
            "output_seconds": out_seconds,
            **{name: _median(got, out_seconds) for name, got in samples.items()}}


def run_bench(backend: str = "none", sizes: tuple[int, ...] = (480, 720, 1080), runs: int = 3,
              seconds: float = 20.0, videos: list[Path] | None = None, audio: Path | None = None,
              clip_seconds: float = 12.0, crf: int | None = None, preset: str | None = None,
              closeup_sizes: tuple[int, ...] = (), closeup_video: Path | None = None,
              say: Callable[[str], None] = log.info) -> dict[str, Any]:
    """Prepare inputs (clips scaled whole at `sizes`, close-ups cut from `closeup_video` at
    `closeup_sizes`), measure floor/render/repeat for each, and return everything as a dict."""
    given = {"crf": crf, "preset": preset}
    opts = RenderOptions.from_dict({"backend": backend, **{k: v for k, v in given.items() if v is not None}})
    from engine.backends import get_backend

    get_backend(backend)  # fail early, with the usual message, if it is not usable here
    videos = (videos or default_videos()) if sizes else []
    closeup_video = (closeup_video or LANDSCAPE_CLIP) if closeup_sizes else None
    audio = audio or SPEECH
    if sizes and not videos:
        raise EngineError("no benchmark video: pass --video (the shared media folder is not present)")
    if closeup_video is not None and not closeup_video.exists():
        raise EngineError(f"cannot read close-up video '{closeup_video.name}': file not found (pass --closeup-video)")
    if not sizes and not closeup_sizes:
        raise EngineError("nothing to measure: give --sizes or --closeup-sizes")
    if not audio.exists():
        raise EngineError(f"cannot read audio '{audio.name}': file not found (pass --audio)")
    with tempfile.TemporaryDirectory(prefix="lipspool-bench-") as tmp:
        work = Path(tmp)
        speech = (trim_speech(audio, work / "speech_a.wav", 0.0, seconds),
                  trim_speech(audio, work / "speech_b.wav", seconds, seconds))
        say(f"preparing inputs in {work}")
        inputs = prepare(videos, list(sizes), work, clip_seconds)
        if closeup_video is not None:
            inputs += prepare_closeups(closeup_video, list(closeup_sizes), work, clip_seconds)
        rows = [_bench_input(item, speech, work, opts, runs, say) for item in inputs]
    return {"machine": machine_info(backend),
            "settings": {"crf": opts.crf, "preset": opts.preset, "seconds": seconds, "runs": runs,
                         "clip_seconds": clip_seconds, "videos": [str(v) for v in videos], "audio": str(audio),
                         "closeup_video": str(closeup_video) if closeup_video else None},
            "rows": rows}
