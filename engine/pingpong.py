"""Ping-pong extension of a video (0,1..n-1,n-2..1,0,1,...) with bounded memory.

Method: the first forward pass is decoded once and, while each frame is passed on, its raw RGB
bytes are appended to a temporary spill file on disk. Every later pass (backward, forward, ...)
reads frames back by index with os.pread. Memory stays at a few frames whatever the length; the
cost is disk space of n_frames * width * height * 3 bytes (checked up front), sequential
writes once and reads served mostly from the page cache. Compared with decoding backwards GOP
by GOP this needs no seeking (exact for VFR/odd containers, no keyframe-interval-sized buffers)
and decodes the video only once. The spill file is unlinked right after it is opened (POSIX),
so even a killed process leaves nothing behind.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .errors import EngineError, MediaError

log = logging.getLogger(__name__)

SPILL_MARGIN_BYTES = 256 * 1024 * 1024


def pingpong_index(k: int, n: int) -> int:
    """Source frame index for output frame k when n source frames play forward, backward, ..."""
    if n <= 1:
        return 0
    period = 2 * (n - 1)
    p = k % period
    return p if p < n else period - p


class FrameSpill:
    """Fixed-shape RGB frames appended to an anonymous temporary file, read back by index."""

    def __init__(self, directory: str | os.PathLike[str], shape: tuple[int, int, int]) -> None:
        self.shape = shape
        self.frame_bytes = int(np.prod(shape))
        self.count = 0
        fd, name = tempfile.mkstemp(prefix=".lipspool-frames-", suffix=".raw", dir=str(directory))
        self._fd = fd
        try:
            os.unlink(name)  # data stays reachable through fd; nothing is left on a crash
            self._name = None
        except OSError:  # e.g. Windows: remove on close instead
            self._name = name

    def append(self, frame: np.ndarray) -> None:
        """Store the next frame (must have the spill's shape)."""
        if frame.shape != self.shape:
            raise ValueError(f"frame shape {frame.shape} != spill shape {self.shape}")
        view = memoryview(np.ascontiguousarray(frame)).cast("B")
        while view:
            view = view[os.write(self._fd, view):]
        self.count += 1

    def read(self, index: int) -> np.ndarray:
        """Frame `index` as a new read-only array."""
        if not 0 <= index < self.count:
            raise IndexError(f"frame {index} not in spill of {self.count}")
        data = os.pread(self._fd, self.frame_bytes, index * self.frame_bytes)
        if len(data) != self.frame_bytes:
            raise EngineError("the temporary frame file was truncated; is the disk full?")
        return np.frombuffer(data, np.uint8).reshape(self.shape)

    def close(self) -> None:
        """Release the file (and its disk space)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            if self._name:
                Path(self._name).unlink(missing_ok=True)


def check_spill_space(directory: str | os.PathLike[str], n_frames: int, shape: tuple[int, int, int]) -> None:
    """Raise EngineError if `directory` lacks room for n_frames spilled frames."""
    need = n_frames * int(np.prod(shape))
    free = shutil.disk_usage(directory).free
    if free < need + SPILL_MARGIN_BYTES:
        raise EngineError(
            f"not enough free disk space in {directory} to extend the video by ping-pong: need about "
            f"{(need + SPILL_MARGIN_BYTES) // 2**20} MiB, have {free // 2**20} MiB; free some space "
            "or set options extra.scratch_dir to a bigger folder")


def pingpong_frames(open_source: Callable[[], Iterator[np.ndarray]], n_out: int,
                    scratch_dir: str | os.PathLike[str], expected_n: int,
                    frame_shape: tuple[int, int, int]) -> Iterator[np.ndarray]:
    """Yield exactly n_out frames: the source forward, then ping-pong from a disk spill if it is too short.

    `open_source()` starts a fresh forward pass; it is called once (twice only when the source
    turned out shorter than `expected_n` said and the first pass was not spilled).
    """
    spill_wanted = n_out > int(expected_n * 0.9)
    spill: FrameSpill | None = None
    try:
        if spill_wanted:
            check_spill_space(scratch_dir, expected_n, frame_shape)
            spill = FrameSpill(scratch_dir, frame_shape)
        produced, last = 0, None
        source = open_source()
        try:
            for frame in source:
                if produced >= n_out:
                    break
                if spill is not None:
                    spill.append(frame)
                last = frame
                produced += 1
                yield frame
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        if produced >= n_out:
            return
        if last is None:
            raise MediaError("cannot read video: it has no frames")
        if spill is None:
            log.info("video shorter than expected; decoding it again to extend it by ping-pong")
            check_spill_space(scratch_dir, produced, frame_shape)
            spill = FrameSpill(scratch_dir, frame_shape)
            for frame in open_source():
                spill.append(frame)
        n_src = spill.count
        log.debug("ping-pong: %d source frames -> %d output frames", n_src, n_out)
        if n_src == 1:
            for _ in range(produced, n_out):
                yield last
            return
        for k in range(produced, n_out):
            yield spill.read(pingpong_index(k, n_src))
    finally:
        if spill is not None:
            spill.close()
