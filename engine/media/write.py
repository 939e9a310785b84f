"""VideoWriter: RGB arrays or YUV frames + audio frames -> H.264 (yuv420p) + AAC in an MP4 at an exact path."""
from __future__ import annotations

import contextlib
import logging
import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from .color import BT709, RANGE_JPEG, RANGE_MPEG, TAGS, is_full_range, matches_output, source_colorspace, sws_name
from .probe import fps_fraction
from .read import SWS_THREADS, to_rgb

log = logging.getLogger(__name__)


def encoder_threads() -> dict[str, str]:
    """x264's thread count from LIPSPOOL_RENDER_THREADS (set per worker by `spooler run --workers`);
    empty (x264 chooses, about 1.5 per core) when unset."""
    value = os.environ.get("LIPSPOOL_RENDER_THREADS", "").strip()
    return {"threads": value} if value.isdigit() and int(value) > 0 else {}


class VideoWriter:
    """Encode frames to `path` exactly (format forced to mp4, so `x.mp4.part` works), +faststart.

    The picture is written in the YUV `matrix` given ("bt709" or "bt601", see media.color; a
    render passes the source's, so its unmodified frames need no conversion) and tagged so.
    yuv420p needs even sizes: an odd width/height is padded by one column/row repeating the edge
    (nothing of the picture is cropped) and a log line says so. Use as a context manager: an
    exception inside the block aborts and deletes the partial file.
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float, *,
                 crf: int = 20, preset: str = "veryfast", audio_rate: int | None = None,
                 audio_layout: str = "stereo", matrix: str = BT709) -> None:
        self.path = Path(path)
        self.matrix = matrix
        self.passed_through = 0  # frames that reached the encoder without any pixel conversion
        self.source_size = (width, height)
        self.size = (width + width % 2, height + height % 2)
        if self.size != self.source_size:
            log.info("%s: padding %dx%d to %dx%d (yuv420p needs even sizes; edge repeated)",
                     self.path.name, width, height, *self.size)
        self.rate = fps_fraction(fps)
        self._tb = 1 / self.rate
        self.frames_written = 0
        self.audio_samples = 0
        self._closed = False
        self._reformatter = VideoReformatter()  # one swscale context for all frames
        self._container = av.open(str(self.path), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            v = self._container.add_stream("libx264", rate=self.rate)
            v.width, v.height = self.size
            v.pix_fmt = "yuv420p"
            v.time_base = self._tb
            v.options = {"crf": str(int(crf)), "preset": str(preset), **encoder_threads()}
            cc = v.codec_context
            cc.colorspace, cc.color_primaries, cc.color_trc = TAGS[matrix]
            cc.color_range = RANGE_MPEG
            self._video = v
            self._audio = None
            if audio_rate:
                a = self._container.add_stream("aac", rate=int(audio_rate), layout=audio_layout)
                a.bit_rate = 128_000 if audio_layout != "mono" else 96_000
                a.time_base = Fraction(1, int(audio_rate))
                self._audio = a
        except Exception:
            self.abort()
            raise

    @property
    def padded(self) -> bool:
        """True when the output is one pixel wider/taller than the frames given."""
        return self.size != self.source_size

    def write_frame(self, frame: np.ndarray | av.VideoFrame) -> None:
        """Encode the next frame: an RGB uint8 (H, W, 3) array of the source size, or an av.VideoFrame.

        A yuv420p VideoFrame of the output size in the writer's matrix (as iter_video_frames
        yields) goes to the encoder untouched; its pts is overwritten. Other frames are converted.
        """
        if isinstance(frame, av.VideoFrame):
            yuv = self._from_video_frame(frame)
        else:
            yuv = self._from_rgb(frame)
        yuv.pts, yuv.time_base = self.frames_written, self._tb
        yuv.pict_type = av.video.frame.PictureType.NONE  # a decoder's keyframe flags must not force IDRs
        for packet in self._video.encode(yuv):
            self._container.mux(packet)
        self.frames_written += 1

    def _from_rgb(self, rgb: np.ndarray) -> av.VideoFrame:
        w, h = self.source_size
        if rgb.shape != (h, w, 3):
            raise ValueError(f"frame shape {rgb.shape} != expected {(h, w, 3)}")
        if self.padded:
            rgb = np.pad(rgb, ((0, self.size[1] - h), (0, self.size[0] - w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        return self._reformatter.reformat(frame, format="yuv420p", dst_colorspace=sws_name(self.matrix),
                                          dst_color_range=RANGE_MPEG, threads=SWS_THREADS)

    def _from_video_frame(self, frame: av.VideoFrame) -> av.VideoFrame:
        size = (frame.width, frame.height)
        if size == self.size:
            if matches_output(frame, self.matrix):
                self.passed_through += 1
                return frame
            return self._reformatter.reformat(
                frame, format="yuv420p", threads=SWS_THREADS, src_colorspace=source_colorspace(frame),
                dst_colorspace=sws_name(self.matrix), dst_color_range=RANGE_MPEG,
                src_color_range=RANGE_JPEG if is_full_range(frame) else RANGE_MPEG)
        if size != self.source_size:
            raise ValueError(f"frame size {size} != expected {self.source_size}")
        # odd source size: padded through RGB (rare)
        return self._from_rgb(to_rgb(frame, 0, self._reformatter))

    @property
    def video_time(self) -> float:
        """Seconds of picture written so far."""
        return float(self.frames_written * self._tb)

    @property
    def audio_time(self) -> float:
        """Seconds of sound written so far."""
        return self.audio_samples / self._audio.rate if self._audio is not None else 0.0

    def write_audio(self, frame: av.AudioFrame) -> None:
        """Encode one audio frame (already at the writer's rate/layout); re-chunked for AAC."""
        if self._audio is None:
            raise ValueError("this writer was opened without an audio stream")
        frame.pts, frame.time_base = self.audio_samples, Fraction(1, self._audio.rate)
        for packet in self._audio.encode(frame):
            self._container.mux(packet)
        self.audio_samples += frame.samples

    def close(self) -> None:
        """Flush the encoders and finish the file (moov moved to the front)."""
        if self._closed:
            return
        try:
            for stream in (self._video, self._audio):
                if stream is not None:
                    for packet in stream.encode(None):
                        self._container.mux(packet)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._container.close()

    def abort(self) -> None:
        """Stop without finishing and delete the partial file."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self._container.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
