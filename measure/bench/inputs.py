"""Benchmark inputs: a real clip scaled to 480p/720p/1080p and speech trimmed to N seconds, in a temp folder."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from engine.errors import EngineError
from engine.media.audio import load_audio, write_wav
from engine.media.probe import probe, reading
from engine.media.read import iter_frames

log = logging.getLogger(__name__)

# The project's shared media folder sits beside the repository (or where LIPSPOOL_SHARED_MEDIA says).
SHARED_MEDIA = Path(os.environ.get("LIPSPOOL_SHARED_MEDIA") or Path(__file__).resolve().parents[3] / "shared" / "media")
PORTRAIT_CLIP = SHARED_MEDIA / "latentsync_demo3_video.mp4"  # a full-length presenter, face small in the frame
LANDSCAPE_CLIP = SHARED_MEDIA / "w2lgfpgan_kim_7s_raw.mp4"  # a medium shot; also cropped for the close-ups
SPEECH = SHARED_MEDIA / "musetalk_eng.wav"
CLOSEUP_FACE_SHARE = 0.5  # a close-up's face (brows to chin) is at least this share of the frame's height


@dataclass(frozen=True)
class BenchInput:
    """One scaled video for the benchmark."""

    label: str  # e.g. "portrait 720p", "close-up landscape 1080p"
    path: Path
    width: int
    height: int
    fps: float
    seconds: float
    face_share: float = 0.0  # the face's height (brows to chin) over the frame's, where measured


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(w, h) with the shorter side = short_side, aspect kept, both even."""
    scale = short_side / min(width, height)
    w, h = round(width * scale / 2) * 2, round(height * scale / 2) * 2
    return (short_side if width <= height else w, short_side if height < width else h)


def scale_clip(src: Path, out: Path, short_side: int, max_seconds: float,
               crop: tuple[int, int, int, int] | None = None) -> BenchInput:
    """Re-encode the first max_seconds of `src` (display-oriented, cut to `crop` = x0, y0, x1, y1
    if given) with its short side = short_side."""
    info = probe(src, "video")
    x0, y0, x1, y1 = crop or (0, 0, info.width, info.height)
    w, h = scaled_size(x1 - x0, y1 - y0, short_side)
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
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[y0:y1, x0:x1]), format="rgb24")
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


def face_box(video: Path) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the largest face's landmarks in the first of the video's opening frames that has one."""
    from engine.faces import detect_faces

    info = probe(video, "video")
    for rgb in iter_frames(video, info.fps, max_frames=25):
        faces = detect_faces(rgb)
        if faces:
            points = max(faces, key=lambda f: float(np.ptp(f.points[:, 1]))).points
            return (*points.min(axis=0), *points.max(axis=0))
    raise EngineError(f"no face in the first second of '{video.name}': it cannot make a close-up")


def closeup_crop(width: int, height: int, box: tuple[float, float, float, float], portrait: bool,
                 face_share: float = CLOSEUP_FACE_SHARE) -> tuple[int, int, int, int]:
    """The 16:9 (or 9:16) crop of a width x height frame, centred on the face `box`, in which the
    face's height is `face_share` of the crop's (more where the frame is too small), even-sized."""
    aspect = 9 / 16 if portrait else 16 / 9
    bx0, by0, bx1, by1 = box
    ch = (by1 - by0) / face_share
    cw = ch * aspect
    if cw > width:
        cw, ch = width, width / aspect
    if ch > height:
        cw, ch = height * aspect, height
    cw, ch = min(width, round(cw / 2) * 2), min(height, round(ch / 2) * 2)
    x0 = int(np.clip((bx0 + bx1) / 2 - cw / 2, 0, width - cw)) // 2 * 2
    y0 = int(np.clip((by0 + by1) / 2 - ch / 2, 0, height - ch)) // 2 * 2
    return x0, y0, x0 + cw, y0 + ch


def prepare_closeups(video: Path, sizes: list[int], folder: Path, clip_seconds: float,
                     face_share: float = CLOSEUP_FACE_SHARE) -> list[BenchInput]:
    """Close-ups cut from `video` around its face, landscape and portrait, at every size (smallest first)."""
    info = probe(video, "video")
    box = face_box(video)
    inputs = []
    for size in sorted(sizes):
        for portrait in (False, True):
            crop = closeup_crop(info.width, info.height, box, portrait, face_share)
            orientation = "portrait" if portrait else "landscape"
            log.info("preparing a %s close-up of %s at %dp", orientation, video.name, size)
            item = scale_clip(video, folder / f"closeup_{orientation}_{size}p.mp4", size, clip_seconds, crop)
            share = (box[3] - box[1]) / (crop[3] - crop[1])
            inputs.append(replace(item, label=f"close-up {item.label}", face_share=round(float(share), 2)))
    return inputs


def default_videos() -> list[Path]:
    """The shared portrait and landscape talking clips, when present."""
    return [p for p in (PORTRAIT_CLIP, LANDSCAPE_CLIP) if p.exists()]

