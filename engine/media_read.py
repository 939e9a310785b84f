"""Streamed frame reading: RGB uint8 frames at a constant rate, display-oriented, threaded decode."""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from .media_errors import media_error
from .media_probe import DEFAULT_FPS, _is_image, first_stream, reading, rotation_of, sane_fps
from .prefetch import prefetch

log = logging.getLogger(__name__)

MAX_BAD_PACKETS = 50
_UNTAGGED = (2, 3)  # AVCOL_SPC_UNSPECIFIED, AVCOL_SPC_RESERVED


def to_rgb(frame: av.VideoFrame, rotation: int = 0, reformatter: VideoReformatter | None = None) -> np.ndarray:
    """Convert a decoded frame to an RGB uint8 (H, W, 3) array turned `rotation` degrees clockwise.

    Untagged YUV is read the way players guess it: BT.709 for HD sizes, BT.601 otherwise.
    Pass the same `reformatter` for every frame of a stream to reuse one swscale context.
    """
    kwargs = {}
    fmt = frame.format.name
    if frame.colorspace in _UNTAGGED and fmt.startswith(("yuv", "nv", "p0", "p2")):
        hd = frame.width >= 1280 or frame.height > 576
        kwargs["src_colorspace"] = "ITU709" if hd else "ITU601"
    if fmt != "rgb24":
        frame = (reformatter or VideoReformatter()).reformat(frame, format="rgb24", **kwargs)
    arr = frame.to_ndarray()
    if rotation % 360:
        arr = np.ascontiguousarray(np.rot90(arr, k=-(rotation // 90)))
    return arr


def _decoded(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
             path: Path) -> Iterator[av.VideoFrame]:
    """Decoded frames in order; skips a few bad packets, stops early on a truncated file."""
    bad, produced = 0, 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except Exception as exc:  # demuxer failure: truncated or damaged container
            if produced:
                log.warning("%s: stopped reading after %d frames: %s", path.name, produced, exc)
                return
            raise media_error("video", path, exc) from exc
        try:
            frames = packet.decode()
        except Exception as exc:
            bad += 1
            log.warning("%s: skipped an undecodable packet: %s", path.name, exc)
            if bad > MAX_BAD_PACKETS:
                raise media_error("video", path, f"too many decoding errors ({exc})") from exc
            continue
        for frame in frames:
            produced += 1
            yield frame


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def _constant_rate(frames: Iterator[av.VideoFrame], fps: float, rotation: int) -> Iterator[np.ndarray]:
    """Map timestamped frames onto slots k/fps: a frame fills the slots up to the next frame's.

    Frames that fall into an already filled slot are dropped; gaps repeat the previous frame.
    A repeated frame is yielded as the same (read-only) array object.
    """
    next_k, t0, pending, pending_t = 0, None, None, 0.0
    reformatter = VideoReformatter()
    for frame in frames:
        t = frame.time
        if t is None:
            t = pending_t + 1.0 / fps if pending is not None else 0.0
        if t0 is None:
            t0 = t
        slot = _round((t - t0) * fps)
        if pending is not None and slot > next_k:
            arr = to_rgb(pending, rotation, reformatter)
            arr.flags.writeable = False
            for _ in range(slot - next_k):
                yield arr
            next_k = slot
        pending, pending_t = frame, t
    if pending is None:
        return
    dur = float(pending.duration * pending.time_base) if pending.duration and pending.time_base else 0.0
    end = max(next_k + 1, _round((pending_t + (dur or 1.0 / fps) - t0) * fps))
    arr = to_rgb(pending, rotation, reformatter)
    arr.flags.writeable = False
    for _ in range(end - next_k):
        yield arr


def _frames(path: Path, fps: float | None, max_frames: int | None) -> Iterator[np.ndarray]:
    with reading(path, "video") as container:
        stream = first_stream(container, path, "video")
        stream.thread_type = "AUTO"
        if _is_image(container, stream):
            frame = next(iter(_decoded(container, stream, path)), None)
            if frame is None:
                raise media_error("video", path, "no decodable image")
            arr = to_rgb(frame, rotation_of(frame, stream))
            arr.flags.writeable = False
            for _ in range(1 if max_frames is None else max_frames):
                yield arr
            return
        rate = fps or sane_fps(stream)[0] or DEFAULT_FPS
        decoded = _decoded(container, stream, path)
        first = next(decoded, None)
        if first is None:
            raise media_error("video", path, "no decodable video frames")
        rotation = rotation_of(first, stream)

        def with_first() -> Iterator[av.VideoFrame]:
            yield first
            yield from decoded

        for n, arr in enumerate(_constant_rate(with_first(), rate, rotation)):
            if max_frames is not None and n >= max_frames:
                return
            yield arr


def iter_frames(path: str | os.PathLike[str], fps: float | None = None,
                max_frames: int | None = None, prefetch_depth: int = 4) -> Iterator[np.ndarray]:
    """Yield read-only RGB uint8 (H, W, 3) frames at a constant `fps` (default: the probed rate).

    VFR input is dropped/duplicated by timestamp; rotation metadata is applied. A still image
    yields its one frame `max_frames` times (once when None). Decoding runs in a worker thread.
    """
    return prefetch(_frames(Path(path), fps, max_frames), depth=prefetch_depth, name="frame-reader")


def read_frame_at(path: str | os.PathLike[str], seconds: float) -> np.ndarray:
    """One display-oriented RGB frame at about `seconds` (the last frame if past the end)."""
    path = Path(path)
    with reading(path, "video") as container:
        stream = first_stream(container, path, "video")
        stream.thread_type = "AUTO"
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        target = start + seconds
        if seconds <= 0 or _is_image(container, stream) or not stream.time_base:
            return _frame_from(container, stream, path, target)
        try:
            container.seek(int(target / stream.time_base), stream=stream, backward=True)
        except Exception as exc:  # unseekable: decode from the start instead (below)
            log.info("%s: seek failed (%s); decoding from the start", path.name, exc)
        else:
            return _frame_from(container, stream, path, target)
    with reading(path, "video") as container:
        return _frame_from(container, first_stream(container, path, "video"), path, target)


def _frame_from(container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path,
                target: float) -> np.ndarray:
    """Decode from the current position to the first frame at or after `target` seconds."""
    last = None
    for frame in _decoded(container, stream, path):
        last = frame
        if frame.time is None or frame.time >= target:
            break
    if last is None:
        raise media_error("video", path, "no decodable video frames")
    return to_rgb(last, rotation_of(last, stream))
