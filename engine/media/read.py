"""Streamed frame reading at a constant rate, display-oriented, threaded decode: RGB arrays or YUV frames."""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ..prefetch import prefetch
from .color import RANGE_JPEG, RANGE_MPEG, is_full_range, matches_output, output_matrix, source_colorspace, sws_name
from .errors import media_error
from .limits import check_video_stream
from .probe import DEFAULT_FPS, _is_image, decoded_frames, first_stream, reading, rotation_of, sane_fps

log = logging.getLogger(__name__)

# swscale threads per conversion: 1, since decoding runs beside the encoder already; more threads only
# added synchronisation cost on a busy 2-core machine (a 4K conversion: 36 ms with 1, up to 460 ms with 2)
SWS_THREADS = 1
T = TypeVar("T")
Frame = np.ndarray | av.VideoFrame  # what a frame reader yields and VideoWriter.write_frame accepts


def to_rgb(frame: av.VideoFrame, rotation: int = 0, reformatter: VideoReformatter | None = None) -> np.ndarray:
    """Convert a decoded frame to an RGB uint8 (H, W, 3) array turned `rotation` degrees clockwise.

    Untagged YUV is read the way players guess it: BT.709 for HD sizes, BT.601 otherwise.
    Pass the same `reformatter` for every frame of a stream to reuse one swscale context.
    """
    if frame.format.name != "rgb24":
        frame = (reformatter or VideoReformatter()).reformat(frame, format="rgb24", threads=SWS_THREADS,
                                                             src_colorspace=source_colorspace(frame))
    arr = frame.to_ndarray()
    return turn(arr, rotation) if rotation % 360 else arr


def turn(image: np.ndarray, rotation: int) -> np.ndarray:
    """A contiguous copy of an (H, W) or (H, W, C) image turned `rotation` degrees clockwise."""
    k = -(rotation // 90) % 4  # counter-clockwise quarter turns, as np.rot90 counts
    if k == 0:
        return image
    try:
        import cv2  # several times faster than numpy here; a dependency of the engine anyway
    except ImportError:
        return np.ascontiguousarray(np.rot90(image, k))
    codes = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}
    return cv2.rotate(np.ascontiguousarray(image), codes[k])


def to_yuv420p(frame: av.VideoFrame, matrix: str, rotation: int = 0,
               reformatter: VideoReformatter | None = None) -> av.VideoFrame:
    """The frame as 8-bit limited-range yuv420p in `matrix` (see media.color), turned `rotation` clockwise.

    Returns the frame itself when it already is so (the common case: no pixel is touched).
    The frame's size (after rotation) must be even.
    """
    if not matches_output(frame, matrix):
        frame = (reformatter or VideoReformatter()).reformat(
            frame, format="yuv420p", threads=SWS_THREADS, src_colorspace=source_colorspace(frame),
            dst_colorspace=sws_name(matrix),
            src_color_range=RANGE_JPEG if is_full_range(frame) else RANGE_MPEG, dst_color_range=RANGE_MPEG)
    if rotation % 360:
        frame = rotate_yuv420p(frame, rotation)
    return frame


def rotate_yuv420p(frame: av.VideoFrame, rotation: int) -> av.VideoFrame:
    """A new yuv420p frame turned `rotation` degrees clockwise, plane by plane (no colour conversion)."""
    w, h = frame.width, frame.height
    data = frame.to_ndarray()
    chroma = data[h:].reshape(2, h // 2, w // 2)
    planes = [turn(data[:h], rotation), turn(chroma[0], rotation), turn(chroma[1], rotation)]
    out_w = planes[0].shape[1]
    packed = np.concatenate([p.ravel() for p in planes]).reshape(-1, out_w)
    turned = av.VideoFrame.from_ndarray(packed, format="yuv420p")
    turned.colorspace, turned.color_range = frame.colorspace, frame.color_range
    return turned


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def _constant_rate(frames: Iterator[av.VideoFrame], fps: float,
                   convert: Callable[[av.VideoFrame], T]) -> Iterator[T]:
    """Map timestamped frames onto slots k/fps: a frame fills the slots up to the next frame's.

    Frames that fall into an already filled slot are dropped (never converted); gaps repeat the
    previous frame, yielded as the same object.
    """
    next_k, t0, pending, pending_t = 0, None, None, 0.0
    for frame in frames:
        t = frame.time
        if t is None:
            t = pending_t + 1.0 / fps if pending is not None else 0.0
        if t0 is None:
            t0 = t
        slot = _round((t - t0) * fps)
        if pending is not None and slot > next_k:
            item = convert(pending)
            for _ in range(slot - next_k):
                yield item
            next_k = slot
        pending, pending_t = frame, t
    if pending is None:
        return
    dur = float(pending.duration * pending.time_base) if pending.duration and pending.time_base else 0.0
    end = max(next_k + 1, _round((pending_t + (dur or 1.0 / fps) - t0) * fps))
    item = convert(pending)
    for _ in range(end - next_k):
        yield item


def _rgb_converter(first: av.VideoFrame, rotation: int) -> Callable[[av.VideoFrame], np.ndarray]:
    """Decoded frame -> read-only display-oriented RGB array."""
    reformatter = VideoReformatter()

    def convert(frame: av.VideoFrame) -> np.ndarray:
        arr = to_rgb(frame, rotation, reformatter)
        arr.flags.writeable = False
        return arr

    return convert


def _yuv_converter(first: av.VideoFrame, rotation: int) -> Callable[[av.VideoFrame], Frame]:
    """Decoded frame -> display-oriented yuv420p frame in the output's matrix (RGB if the size is odd)."""
    if first.width % 2 or first.height % 2:
        return _rgb_converter(first, rotation)
    matrix, reformatter = output_matrix(first), VideoReformatter()

    def convert(frame: av.VideoFrame) -> av.VideoFrame:
        return to_yuv420p(frame, matrix, rotation, reformatter)

    return convert


Converter = Callable[[av.VideoFrame, int], Callable[[av.VideoFrame], Frame]]


def _frames(path: Path, fps: float | None, max_frames: int | None, converter: Converter) -> Iterator[Frame]:
    with reading(path, "video") as container:
        stream = first_stream(container, path, "video")
        stream.thread_type = "AUTO"
        check_video_stream(stream, path)
        if _is_image(container, stream):
            frame = next(iter(decoded_frames(container, stream, path, "video")), None)
            if frame is None:
                raise media_error("video", path, "no decodable image")
            item = converter(frame, rotation_of(frame, stream))(frame)
            for _ in range(1 if max_frames is None else max_frames):
                yield item
            return
        rate = fps or sane_fps(stream)[0] or DEFAULT_FPS
        decoded = decoded_frames(container, stream, path, "video")
        first = next(decoded, None)
        if first is None:
            raise media_error("video", path, "no decodable video frames")
        convert = converter(first, rotation_of(first, stream))

        def with_first() -> Iterator[av.VideoFrame]:
            yield first
            yield from decoded

        for n, item in enumerate(_constant_rate(with_first(), rate, convert)):
            if max_frames is not None and n >= max_frames:
                return
            yield item


def iter_frames(path: str | os.PathLike[str], fps: float | None = None,
                max_frames: int | None = None, prefetch_depth: int = 4) -> Iterator[np.ndarray]:
    """Yield read-only RGB uint8 (H, W, 3) frames at a constant `fps` (default: the probed rate).

    VFR input is dropped/duplicated by timestamp; rotation metadata is applied. A still image
    yields its one frame `max_frames` times (once when None). Decoding runs in a worker thread.
    """
    return prefetch(_frames(Path(path), fps, max_frames, _rgb_converter),  # type: ignore[arg-type]
                    depth=prefetch_depth, name="frame-reader")


def iter_video_frames(path: str | os.PathLike[str], fps: float | None = None,
                      max_frames: int | None = None, prefetch_depth: int = 4) -> Iterator[Frame]:
    """Like iter_frames, but yields av.VideoFrame in yuv420p ready for VideoWriter (no RGB round trip).

    Frames are display-oriented, limited range, in the matrix media.color.output_matrix picks
    (the one probe() reports as `matrix`), and are left unconverted when already so. A source
    of odd width or height yields RGB arrays instead (the writer pads those). Use to_rgb() on a
    frame a backend wants to modify.
    """
    return prefetch(_frames(Path(path), fps, max_frames, _yuv_converter), depth=prefetch_depth,
                    name="frame-reader")


def read_frame_at(path: str | os.PathLike[str], seconds: float) -> np.ndarray:
    """One display-oriented RGB frame at about `seconds` (the last frame if past the end)."""
    path = Path(path)
    with reading(path, "video") as container:
        stream = first_stream(container, path, "video")
        stream.thread_type = "AUTO"
        check_video_stream(stream, path)
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        target = start + seconds
        if seconds <= 0 or _is_image(container, stream) or not stream.time_base:
            return _frame_from(container, stream, path, target)
        try:
            container.seek(int(target / stream.time_base), stream=stream, backward=True)
        except Exception as exc:  # noqa: BLE001 - unseekable: decode from the start instead (below)
            log.info("%s: seek failed (%s); decoding from the start", path.name, exc)
        else:
            return _frame_from(container, stream, path, target)
    with reading(path, "video") as container:
        stream = first_stream(container, path, "video")
        check_video_stream(stream, path)
        return _frame_from(container, stream, path, target)


def _frame_from(container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path,
                target: float) -> np.ndarray:
    """Decode from the current position to the first frame at or after `target` seconds."""
    last = None
    for frame in decoded_frames(container, stream, path, "video"):
        last = frame
        if frame.time is None or frame.time >= target:
            break
    if last is None:
        raise media_error("video", path, "no decodable video frames")
    return to_rgb(last, rotation_of(last, stream))
