"""probe(): what is in a media file (streams, size after rotation, sane fps, duration).

probe() refuses a picture over the size limit and (for kind "audio") a sound over the length
limit from the headers, before decoding anything (`media.limits`, `limits`).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import EngineError
from .color import output_matrix
from .errors import media_error
from .limits import check_audio_seconds, check_video_stream, open_options

log = logging.getLogger(__name__)

MAX_BAD_PACKETS = 50  # undecodable packets tolerated in one stream before giving up

DEFAULT_FPS = 25.0
MIN_FPS, MAX_FPS = 1.0, 120.0
IMAGE_CODECS = {"png", "mjpeg", "jpeg2000", "bmp", "webp", "tiff", "ppm", "pgm", "jpegls", "qoi"}
# Codecs whose stream header gives an exact duration (no need to decode to count samples).
EXACT_DURATION_AUDIO = ("pcm_", "flac", "alac", "wavpack")


@dataclass(frozen=True)
class MediaInfo:
    """Facts about one media file; width/height are as displayed (rotation applied)."""

    path: str
    format_name: str
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    duration_s: float = 0.0
    n_frames: int = 0
    rotation: int = 0  # degrees clockwise a player turns the stored picture (0/90/180/270)
    is_image: bool = False
    is_vfr: bool = False
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_rate: int = 0
    audio_channels: int = 0
    matrix: str = ""  # YUV matrix an output of this video is written in ("bt709"/"bt601", see media.color)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


def open_input(path: str | os.PathLike[str], kind: str = "video") -> av.container.InputContainer:
    """Open a media file for reading, raising MediaError naming the file on any failure."""
    p = Path(path)
    if not p.exists():
        raise media_error(kind, p, "file not found")
    if p.is_dir():
        raise media_error(kind, p, "it is a folder, not a file")
    if p.stat().st_size == 0:
        raise media_error(kind, p, "the file is empty")
    try:
        return av.open(str(p), "r", metadata_errors="ignore", options=open_options())
    except Exception as exc:  # PyAV raises many error types; all mean "cannot read"
        raise media_error(kind, p, exc) from exc


@contextmanager
def reading(path: str | os.PathLike[str], kind: str = "video") -> Iterator[av.container.InputContainer]:
    """Open a media file for a block: errors inside become MediaError naming the file; always closed."""
    container = open_input(path, kind)
    try:
        yield container
    except EngineError:
        raise
    except Exception as exc:  # PyAV raises many error types; all mean "cannot read"
        raise media_error(kind, path, exc) from exc
    finally:
        container.close()


def first_stream(container: av.container.InputContainer, path: str | os.PathLike[str], kind: str) -> Any:
    """The first video or audio stream (by `kind`), or MediaError "no <kind> stream"."""
    streams = container.streams.video if kind == "video" else container.streams.audio
    if not streams:
        raise media_error(kind, path, f"no {kind} stream")
    return streams[0]


def decoded_frames(container: av.container.InputContainer, stream: Any, path: str | os.PathLike[str],
                   kind: str = "video") -> Iterator[Any]:
    """A stream's decoded frames in order; skips a few bad packets, stops early on a truncated file."""
    bad, produced = 0, 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except Exception as exc:  # demuxer failure: truncated or damaged container
            if produced:
                log.warning("%s: stopped reading after %d frames: %s", Path(path).name, produced, exc)
                return
            raise media_error(kind, path, exc) from exc
        try:
            frames = packet.decode()
        except Exception as exc:
            bad += 1
            log.warning("%s: skipped an undecodable %s packet: %s", Path(path).name, kind, exc)
            if bad > MAX_BAD_PACKETS:
                raise media_error(kind, path, f"too many decoding errors ({exc})") from exc
            continue
        for frame in frames:
            produced += 1
            yield frame


def fps_fraction(fps: float) -> Fraction:
    """A rational frame rate for an encoder (29.97 -> 2997/100, 1350/61 stays exact)."""
    return Fraction(fps).limit_denominator(1001)


def sane_fps(stream: av.video.stream.VideoStream) -> tuple[float, bool]:
    """(fps, is_vfr): the average rate when plausible, else the guessed/base rate, else 25."""
    def ok(rate: Fraction | None) -> bool:
        return rate is not None and MIN_FPS <= float(rate) <= MAX_FPS

    avg, guess = stream.average_rate, stream.guessed_rate or stream.base_rate
    vfr = ok(avg) and ok(guess) and abs(float(avg) - float(guess)) / float(guess) > 0.01
    for rate in (avg, guess, stream.base_rate):
        if ok(rate):
            return float(rate), vfr
    return DEFAULT_FPS, vfr


def rotation_of(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Clockwise display rotation (0/90/180/270) from the frame's display matrix or 'rotate' tag."""
    ccw = frame.rotation if frame is not None else 0
    if ccw:
        return int(-round(ccw / 90.0) * 90) % 360
    try:
        return int(round(float(stream.metadata.get("rotate", 0)) / 90.0) * 90) % 360
    except ValueError:
        return 0


def _first_frame(container: av.container.InputContainer, stream: av.stream.Stream) -> Any:
    """Decode the first frame of a stream, or None if it yields none (a few packets at most)."""
    for n, packet in enumerate(container.demux(stream)):
        for frame in packet.decode():
            return frame
        if n > 400:
            break
    return None


def _is_image(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> bool:
    fmt = container.format.name
    return stream.codec_context.name in IMAGE_CODECS and (fmt == "image2" or fmt.endswith("_pipe"))


def probe(path: str | os.PathLike[str], kind: str = "video") -> MediaInfo:
    """Inspect a media file; raises MediaError("cannot read <kind> 'name': reason")."""
    with reading(path, kind) as container:
        return _probe_open(container, Path(path), kind)


def _probe_open(container: av.container.InputContainer, path: Path, kind: str) -> MediaInfo:
    vstreams, astreams = container.streams.video, container.streams.audio
    info: dict[str, Any] = {"path": str(path), "format_name": container.format.name,
                            "has_video": bool(vstreams), "has_audio": bool(astreams)}
    if not vstreams and not astreams:
        raise media_error(kind, path, "no audio or video stream")
    if astreams:
        a = astreams[0]
        info.update(audio_codec=a.codec_context.name, audio_rate=int(a.rate or 0),
                    audio_channels=int(a.codec_context.layout.nb_channels))
        if kind == "audio":
            check_audio_seconds(path, _stream_duration(a, container), kind=kind)
        if not vstreams:
            info["duration_s"] = _stream_duration(a, container)
            if _first_frame(container, a) is None:
                raise media_error(kind, path, "the audio stream has no decodable samples")
    if vstreams:
        v = vstreams[0]
        v.thread_type = "AUTO"
        image = _is_image(container, v)
        check_video_stream(v, path, kind=kind)
        first = _first_frame(container, v)
        if first is None:
            raise media_error(kind, path, "no decodable video frames")
        rot = rotation_of(first, v)
        w, h = (first.width, first.height) if rot % 180 == 0 else (first.height, first.width)
        fps, vfr = (DEFAULT_FPS, False) if image else sane_fps(v)
        duration = 0.0 if image else _stream_duration(v, container)
        n_frames = 1 if image else (v.frames or max(1, round(duration * fps)))
        if not image and not duration:
            duration = n_frames / fps
        info.update(width=w, height=h, fps=fps, duration_s=duration, n_frames=int(n_frames),
                    rotation=rot, is_image=image, is_vfr=vfr, video_codec=v.codec_context.name,
                    matrix=output_matrix(first))
    return MediaInfo(**info)


def _stream_duration(stream: av.stream.Stream, container: av.container.InputContainer) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return 0.0


def audio_duration(path: str | os.PathLike[str], exact: bool = True) -> float:
    """Seconds of sound in the first audio stream (decodes lossy codecs to count samples when exact)."""
    with reading(path, "audio") as container:
        stream = first_stream(container, path, "audio")
        header = _stream_duration(stream, container)
        if header and (not exact or stream.codec_context.name.startswith(EXACT_DURATION_AUDIO)):
            return header
        samples = 0
        for packet in container.demux(stream):
            for frame in packet.decode():
                samples += frame.samples
        if samples == 0:
            raise media_error("audio", path, "the audio stream has no decodable samples")
        return samples / float(stream.rate)
