"""Benchmark inputs: a real clip scaled to 480p/720p/1080p and speech trimmed to N seconds, in a temp folder."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from ..errors import EngineError
from ..media_audio import load_audio, write_wav
from ..media_probe import probe, reading
from ..media_read import iter_frames

log = logging.getLogger(__name__)

PORTRAIT_CLIP = Path("/work/shared/media/latentsync_demo3_video.mp4")
LANDSCAPE_CLIP = Path("/work/shared/media/w2lgfpgan_kim_7s_raw.mp4")
SPEECH = Path("/work/shared/media/musetalk_eng.wav")


@dataclass(frozen=True)
class BenchInput:
    """One scaled video for the benchmark."""

    label: str  # e.g. "portrait 720p"
    path: Path
    width: int
    height: int
    fps: float
    seconds: float


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(w, h) with the shorter side = short_side, aspect kept, both even."""
    scale = short_side / min(width, height)
    w, h = round(width * scale / 2) * 2, round(height * scale / 2) * 2
    return (short_side if width <= height else w, short_side if height < width else h)


def scale_clip(src: Path, out: Path, short_side: int, max_seconds: float) -> BenchInput:
    """Re-encode the first max_seconds of `src` (display-oriented) with its short side = short_side."""
    info = probe(src, "video")
    w, h = scaled_size(info.width, info.height, short_side)
    rate = Fraction(info.fps).limit_denominator(1001)
    n_max = max(1, int(max_seconds * float(rate)))
    reformatter = VideoReformatter()
    n = 0
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        tb = stream.time_base = 1 / rate
        stream.options = {"crf": "18", "preset": "veryfast"}
        cc = stream.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1  # BT.709, limited
        for rgb in iter_frames(src, info.fps, max_frames=n_max):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            small = reformatter.reformat(frame, width=w, height=h, format="yuv420p", dst_colorspace="ITU709",
                                         dst_color_range="MPEG", interpolation=Interpolation.AREA)
            small.pts, small.time_base = n, tb
            for packet in stream.encode(small):
                container.mux(packet)
            n += 1
        for packet in stream.encode(None):
            container.mux(packet)
    orientation = "portrait" if h > w else "landscape" if w > h else "square"
    return BenchInput(f"{orientation} {short_side}p", out, w, h, info.fps, n / float(rate))


def trim_speech(src: Path, out: Path, start_s: float, seconds: float) -> Path:
    """Write `seconds` of `src` from start_s as 16-bit WAV (looping the file if it is too short)."""
    with reading(src, "audio") as container:
        stream = container.streams.audio[0] if container.streams.audio else None
        if stream is None:
            raise EngineError(f"cannot use '{src.name}' as benchmark speech: no audio stream")
        rate, channels = int(stream.rate), min(2, stream.codec_context.layout.nb_channels)
    data = load_audio(src, rate, mono=channels == 1)
    data = data[None, :] if data.ndim == 1 else data
    need, begin = int(round(seconds * rate)), int(round(start_s * rate))
    reps = (begin + need) // max(1, data.shape[1]) + 1
    looped = np.tile(data, (1, reps))[:, begin:begin + need]
    return write_wav(out, looped, rate)


def prepare(videos: list[Path], sizes: list[int], folder: Path, clip_seconds: float) -> list[BenchInput]:
    """Scale every video to every size in `folder` (smallest first)."""
    inputs = []
    for k, video in enumerate(videos):
        for size in sorted(sizes):
            out = folder / f"in{k}_{size}p.mp4"
            log.info("preparing %s at %dp", video.name, size)
            inputs.append(scale_clip(video, out, size, clip_seconds))
    return inputs


def default_videos() -> list[Path]:
    """The shared portrait and landscape talking clips, when present."""
    return [p for p in (PORTRAIT_CLIP, LANDSCAPE_CLIP) if p.exists()]

