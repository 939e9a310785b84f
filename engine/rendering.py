"""render(): one audio onto one video -> an H.264/AAC MP4, the engine's single entry point."""
from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av

from .backends import Backend, RenderContext, backend_options, get_backend
from .errors import EngineError
from .limits import limits_for, limits_in_effect
from .media.audio import aac_output_format, iter_audio_frames
from .media.color import BT709
from .media.errors import media_error
from .media.limits import check_audio_seconds
from .media.probe import audio_duration, probe
from .media.write import VideoWriter
from .options import RenderOptions

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, float], None]
STAGES = ("decode", "faces", "mouths", "audio", "synthesis", "encode")


@dataclass
class RenderResult:
    """What a finished render produced and how long each stage took."""

    out: Path
    duration_s: float
    n_frames: int
    fps: float
    width: int
    height: int
    backend: str
    audio_duration_s: float = 0.0
    padded: bool = False  # True when an odd source size was padded by one pixel to be even
    passed_through: int = 0  # frames that went from decoder to encoder with no pixel conversion
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, plus "total"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        data = asdict(self)
        data["out"] = str(self.out)
        return data


def output_frames(audio_seconds: float, fps: float) -> int:
    """How many frames an output of audio_seconds at fps has (at least one)."""
    return max(1, int(audio_seconds * fps + 0.5))


def _noop(stage: str, fraction: float) -> None:
    return None


def render(audio: str | os.PathLike[str], video: str | os.PathLike[str], out: str | os.PathLike[str],
           options: RenderOptions | dict[str, Any] | None = None,
           progress: ProgressFn | None = None) -> RenderResult:
    """Render `audio` onto `video` into the MP4 `out` (written at exactly that path).

    The output lasts as long as the audio. progress(stage, fraction) is called at each stage's
    start and end and after every frame; any exception it raises (e.g. RenderCancelled) aborts
    the render, propagates, and leaves no output file. A presenter over the picture size limit or
    an audio over the length limit (engine.limits) is refused before it is decoded (InputTooLarge).
    """
    opts = options if isinstance(options, RenderOptions) else RenderOptions.from_dict(options)
    with limits_in_effect(limits_for(opts.max_pixels, opts.max_side, opts.max_audio_s)):
        return _render(Path(audio), Path(video), Path(out), opts, progress or _noop)


def _render(audio: Path, video: Path, out: Path, opts: RenderOptions, report: ProgressFn) -> RenderResult:
    """render() under its input limits."""
    backend = get_backend(opts.backend)
    settings = backend_options(opts)  # the backend's own options, checked before any work
    timings: dict[str, float] = {}
    t_start = time.monotonic()

    report("decode", 0.0)
    t = time.monotonic()
    vinfo = probe(video, "video")
    if not vinfo.has_video:
        raise media_error("video", video, "no video stream (is it an audio file?)")
    ainfo = probe(audio, "audio")
    if not ainfo.has_audio:
        raise media_error("audio", audio, "no audio stream")
    timings["decode"] = time.monotonic() - t
    report("decode", 1.0)

    report("audio", 0.0)
    t = time.monotonic()
    seconds = audio_duration(audio)
    check_audio_seconds(audio, seconds)  # exact now; the header may have had no duration
    n_frames = output_frames(seconds, vinfo.fps)
    rate, layout = aac_output_format(ainfo.audio_rate, ainfo.audio_channels)
    timings["audio"] = time.monotonic() - t
    report("audio", 1.0)

    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(opts.scratch_dir or out.parent)
    ctx = RenderContext(audio=audio, video=video, video_info=vinfo, audio_duration_s=seconds,
                        fps=vinfo.fps, n_frames=n_frames, width=vinfo.width, height=vinfo.height,
                        options=opts, scratch_dir=scratch, settings=settings)
    log.info("render %s + %s -> %s: %d frames at %.3f fps, %dx%d, backend %s", video.name, audio.name,
             out.name, n_frames, vinfo.fps, vinfo.width, vinfo.height, backend.name)

    t = time.monotonic()
    writer = VideoWriter(out, vinfo.width, vinfo.height, vinfo.fps, crf=opts.crf, preset=opts.preset,
                         audio_rate=rate, audio_layout=layout, matrix=vinfo.matrix or BT709)
    try:
        report("encode", 0.0)
        _encode(writer, _frames_of(backend, ctx, report), iter_audio_frames(audio, rate, layout), n_frames, report)
        timings["encode"] = time.monotonic() - t
        report("encode", 1.0)
    except BaseException:
        writer.abort()
        raise
    timings["total"] = time.monotonic() - t_start
    width, height = writer.size
    return RenderResult(out=out, duration_s=max(writer.video_time, writer.audio_time), n_frames=n_frames,
                        fps=vinfo.fps, width=width, height=height, backend=backend.name,
                        audio_duration_s=seconds, padded=writer.padded, passed_through=writer.passed_through,
                        timings=timings)


def _frames_of(backend: Backend, ctx: RenderContext, report: ProgressFn) -> Iterator[Any]:
    """The backend's video_frames() if it has its own, else its frames() (RGB arrays).

    video_frames() is an optional, faster form of frames(): it may yield av.VideoFrames (as
    media.read.iter_video_frames makes) for frames it leaves unchanged, which the writer passes
    to the encoder without any conversion, and RGB arrays for the frames it changes. It is only
    used when defined by the same class as frames() or a subclass of it, so a subclass that
    overrides only frames() is never bypassed.
    """
    def owner(name: str) -> type | None:
        return next((k for k in type(backend).__mro__ if name in k.__dict__), None)

    video_owner, frames_owner = owner("video_frames"), owner("frames")
    if video_owner is not None and frames_owner is not None and issubclass(video_owner, frames_owner):
        return backend.video_frames(ctx, report)  # type: ignore[attr-defined]
    return backend.frames(ctx, report)


def _encode(writer: VideoWriter, frames: Iterator[Any], sound: Iterator[av.AudioFrame], n_frames: int,
            report: ProgressFn) -> None:
    """Write n_frames frames with the sound interleaved (audio kept up to one frame ahead)."""
    frame_s = 1.0 / float(writer.rate)

    def pump(until: float | None) -> None:
        while until is None or writer.audio_time < until:
            chunk = next(sound, None)
            if chunk is None:
                return
            writer.write_audio(chunk)

    try:
        for k, frame in enumerate(frames):
            if k >= n_frames:
                break
            pump((k + 1) * frame_s)
            writer.write_frame(frame)
            report("encode", (k + 1) / n_frames)
        if writer.frames_written < n_frames:
            raise EngineError(f"the backend produced {writer.frames_written} of {n_frames} frames")
        pump(None)
        writer.close()
    finally:
        for gen in (frames, sound):
            with contextlib.suppress(Exception):
                gen.close()  # type: ignore[union-attr]
