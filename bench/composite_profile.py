"""Profile: where a `rewrite` render's per-frame time goes on a close-up, stage by stage.

    .venv/bin/python bench/composite_profile.py [--size 720] [--portrait] [--seconds 8] [--video CLIP]

Cuts a close-up (face at least half the frame's height) from the shared landscape clip, prepares
a render as `engine.render` does (face track and mouth library, timed), then, on one thread so
nothing overlaps, decodes every destination frame, composites each and encodes the results.
The compositing is run under cProfile and its time is grouped into stages by the functions that
do them: warp (warp map and remap), colour match, blend mask, blend, YUV (the crop's conversion
to RGB and back, and the new frame), other. Prints JSON: milliseconds per frame for each stage,
for decoding and for encoding, and the one-off setup seconds.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.backends.base import RenderContext
from engine.backends.none import NoneBackend
from engine.backends.rewrite.backend import _Job
from engine.media.color import BT709
from engine.media.probe import audio_duration, probe
from engine.media.write import VideoWriter
from engine.options import RenderOptions
from engine.rendering import output_frames
from measure.bench.inputs import LANDSCAPE_CLIP, SPEECH, prepare_closeups, trim_speech

# The stage of each of our functions; a library call (NumPy, OpenCV) counts in its own stage when
# named here, else in its caller's. Anything left is "other".
STAGES = {
    "warp_map": "warp", "remap": "warp", "warp_points": "warp", "similarity": "warp", "warp_step": "warp",
    "_triangle_affines": "warp", "_keep_mask": "colour",
    "adjust_opening": "warp", "adjust_shape": "warp", "_mouth": "warp",
    "_colour_offset": "colour", "mouth_polygons": "colour",
    "blend_mask": "mask", "lower_face_mask": "mask", "lower_face_polygon": "mask",
    "_composite_crop": "blend",
    "edit_region": "yuv", "_crop_rgb": "yuv", "_planes": "yuv", "_plane": "yuv", "cvtColor": "yuv",
    "align_region": "yuv", "edit": "yuv", "changed_pixels": "yuv", "_copy_frame": "yuv", "copyto": "yuv",
}


def _short(name: str) -> str:
    """A profiled function's bare name: 'warp_map', 'remap', 'astype'."""
    match = re.search(r"'(\w+)' of|method ([\w.]+)>|^<?([\w.]+)>?$", name)
    word = next((g for g in match.groups() if g), name) if match else name
    return word.split(".")[-1]


def stage_times(prof: cProfile.Profile, n: int) -> tuple[dict[str, float], dict[str, float]]:
    """Milliseconds per frame in each stage, and the biggest unattributed functions."""
    stages: dict[str, float] = {}
    others: dict[str, float] = {}
    for (_, _, name), (_, _, _, _, callers) in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        own = STAGES.get(_short(name))
        for (_, _, caller), (_, _, tottime, _) in callers.items():
            stage = own or STAGES.get(_short(caller), "other")
            stages[stage] = stages.get(stage, 0.0) + tottime * 1000 / n
            if stage == "other":
                key = f"{_short(name)} <- {_short(caller)}"
                others[key] = others.get(key, 0.0) + tottime * 1000 / n
    return stages, others


def _noop(stage: str, fraction: float) -> None:
    return None


def profile(size: int, portrait: bool, seconds: float, video: Path, work: Path) -> dict:
    """Set up one close-up render and measure its per-frame stages on one thread."""
    item = next(i for i in prepare_closeups(video, [size], work, clip_seconds=12.0)
                if ("portrait" in i.label) == portrait)
    audio = trim_speech(SPEECH, work / "speech.wav", 0.0, seconds)
    info = probe(item.path, "video")
    duration = audio_duration(audio)
    n = output_frames(duration, info.fps)
    ctx = RenderContext(audio=audio, video=item.path, video_info=info, audio_duration_s=duration, fps=info.fps,
                        n_frames=n, width=info.width, height=info.height,
                        options=RenderOptions.from_dict({"backend": "rewrite", "cache_dir": str(work / "cache")}),
                        scratch_dir=work)
    t = time.perf_counter()
    job = _Job(ctx, _noop)
    setup_s = time.perf_counter() - t

    t = time.perf_counter()
    frames = list(NoneBackend().video_frames(ctx, _noop))[:n]
    decode_ms = (time.perf_counter() - t) * 1000 / n

    composed = []
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    for k, frame in enumerate(frames):
        composed.append(job.compose_yuv(k, frame))
    prof.disable()
    composite_ms = (time.perf_counter() - t) * 1000 / n

    writer = VideoWriter(work / "out.mp4", info.width, info.height, info.fps, matrix=info.matrix or BT709)
    t = time.perf_counter()
    for frame in composed:
        writer.write_frame(frame)
    writer.close()
    encode_ms = (time.perf_counter() - t) * 1000 / n

    stages, others = stage_times(prof, n)
    profiled = sum(stages.values())
    scale = composite_ms / profiled if profiled else 1.0  # cProfile's own overhead taken back out
    return {"input": item.label, "size": f"{item.width}x{item.height}", "face_share": item.face_share,
            "frames": n, "setup_s": round(setup_s, 2), "decode_ms": round(decode_ms, 2),
            "composite_ms": round(composite_ms, 2),
            "composite_stages_ms": {k: round(v * scale, 2) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])},
            "encode_ms": round(encode_ms, 2), "library": "yes" if job.library is not None else "no",
            "other_top_ms": {k: round(v, 2) for k, v in sorted(others.items(), key=lambda kv: -kv[1])[:8]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=720, help="short side of the close-up")
    parser.add_argument("--portrait", action="store_true")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of speech (output length)")
    parser.add_argument("--video", type=Path, default=LANDSCAPE_CLIP, help="talking clip to cut the close-up from")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lipspool-profile-") as tmp:
        print(json.dumps(profile(args.size, args.portrait, args.seconds, args.video, Path(tmp)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
