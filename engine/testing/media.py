"""Real test media made with PyAV for tests: numbered videos, speech-like audio, corrupt files.

A numbered video's frame i shows i in binary as 16 black/white blocks (two rows of eight) over
the top half, and red/green/blue stripes (left to right) in the bottom half, so frame order,
colours and orientation can all be read back from a decoded frame with `read_frame_number`.
"""
from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..media.audio import write_wav

BITS, COLS = 16, 8
WHITE, BLACK = 235, 16
STRIPES = ((200, 30, 30), (30, 200, 30), (30, 30, 200))
_AUDIO_CODECS = {".wav": "pcm_s16le", ".flac": "flac", ".mp3": "libmp3lame", ".m4a": "aac",
                 ".aac": "aac", ".ogg": "libopus", ".opus": "libopus"}
_AUDIO_FORMATS = {".aac": "adts", ".ogg": "ogg", ".opus": "ogg", ".m4a": "mp4"}


def numbered_frame(i: int, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """The RGB frame that shows number i (see module doc)."""
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    bw, bh = w // COLS, (h // 2) // 2
    img[: h // 2] = 128
    for bit in range(BITS):
        r, c = divmod(bit, COLS)
        img[r * bh:(r + 1) * bh, c * bw:(c + 1) * bw] = WHITE if (i >> bit) & 1 else BLACK
    sw = w // 3
    for k, colour in enumerate(STRIPES):
        img[h // 2:, k * sw:(k + 1) * sw if k < 2 else w] = colour
    return img


def read_frame_number(rgb: np.ndarray) -> int:
    """Decode the number shown by a (decoded, possibly lossy) numbered frame."""
    h, w = rgb.shape[:2]
    bw, bh = w // COLS, (h // 2) // 2
    n = 0
    for bit in range(BITS):  # only the centre of each block is looked at (fast even on 4K frames)
        r, c = divmod(bit, COLS)
        y0, x0 = r * bh + bh // 4, c * bw + bw // 4
        if rgb[y0:y0 + bh // 2, x0:x0 + bw // 2].mean() > 128:
            n |= 1 << bit
    return n


def speech_like(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Float32 mono in [-1, 1]: a 140 Hz voiced buzz with a ~4 Hz syllable envelope plus noise."""
    n = max(1, int(round(seconds * rate)))
    t = np.arange(n, dtype=np.float64) / rate
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
    envelope = np.abs(np.sin(2 * np.pi * 2.1 * t)) ** 0.7
    noise = np.random.default_rng(seed).standard_normal(n) * 0.05
    return (0.3 * voice * envelope + noise * envelope).clip(-1, 1).astype(np.float32)


def _encode_audio(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
                  samples: np.ndarray, rate: int, channels: int) -> None:
    layout = "mono" if channels == 1 else "stereo"
    data = np.repeat(samples[None, :], channels, axis=0)
    step, pts = 1024, 0
    for start in range(0, data.shape[1], step):
        chunk = np.ascontiguousarray(data[:, start:start + step])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
        pts += chunk.shape[1]
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def make_test_audio(path: str | os.PathLike[str], seconds: float = 2.0, rate: int = 16000,
                    channels: int = 1, codec: str | None = None) -> Path:
    """Write speech-like audio; the codec follows the extension (.wav s16 via `wave`, .flac, .mp3, .m4a, .aac, .ogg)."""
    path = Path(path)
    ext = path.suffix.lower()
    codec = codec or _AUDIO_CODECS.get(ext, "pcm_s16le")
    samples = speech_like(seconds, rate)
    if codec == "pcm_s16le" and ext == ".wav":
        return write_wav(path, np.repeat(samples[None, :], channels, axis=0), rate)
    container = av.open(str(path), "w", format=_AUDIO_FORMATS.get(ext, ext.lstrip(".") or "wav"))
    try:
        stream = container.add_stream(codec, rate=rate, layout="mono" if channels == 1 else "stereo")
        _encode_audio(container, stream, samples, rate, channels)
    finally:
        container.close()
    return path


def make_test_video(path: str | os.PathLike[str], seconds: float = 1.0, fps: float = 25,
                    size: tuple[int, int] = (160, 120), with_audio: bool = True, numbered: bool = True,
                    codec: str = "libx264", rotation: int = 0,
                    frame_times: Sequence[float] | None = None, pix_fmt: str | None = None) -> Path:
    """Write a video whose frame i shows i (see module doc); H.264 MP4 by default, container by extension.

    codec="mpeg4" suits .avi, "libvpx-vp9" .webm, "libx265" with pix_fmt="yuv420p10le" makes
    10-bit HEVC; an odd size is written as yuv444p (libx264 only); rotation (clockwise, like a
    phone's 'rotate' tag) is stored as a display matrix; frame_times (seconds) makes a
    variable-frame-rate video. The sound is AAC (PCM in .avi, Opus in .webm).
    """
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    times = list(frame_times) if frame_times is not None else [
        i / float(rate) for i in range(max(1, int(round(seconds * float(rate)))))]
    w, h = size
    container = av.open(str(path), "w")
    try:
        v = container.add_stream(codec, rate=rate)
        # an odd size cannot be 4:2:0; libx264 stores it as 4:4:4 (as some real sources do)
        v.width, v.height = w, h
        v.pix_fmt = pix_fmt or ("yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p")
        tb = Fraction(1, 1000) if frame_times is not None else 1 / rate
        v.time_base = tb
        v.codec_context.time_base = tb
        if codec == "libx264":
            v.options = {"preset": "ultrafast", "crf": "18"}
        elif codec == "libx265":
            v.options = {"preset": "ultrafast", "crf": "18", "x265-params": "log-level=error"}
        elif codec == "libvpx-vp9":
            v.options = {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}
        else:
            v.bit_rate = 2_000_000
        if rotation:
            v.set_display_rotation(-rotation)
        a = None
        if with_audio:
            # AAC's priming delay makes the AVI muxer shift video timestamps; AVI gets PCM.
            audio_codec = {".avi": "pcm_s16le", ".webm": "libopus"}.get(path.suffix.lower(), "aac")
            a = container.add_stream(audio_codec, rate=16000, layout="mono")
        for i, t in enumerate(times):
            img = numbered_frame(i, size) if numbered else np.full((h, w, 3), (i * 7) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = int(round(t / tb)), tb
            for packet in v.encode(frame):
                container.mux(packet)
        for packet in v.encode(None):
            container.mux(packet)
        if a is not None:
            duration = times[-1] + 1 / float(rate) if times else seconds
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(duration * 16000)) / 16000)).astype(np.float32)
            _encode_audio(container, a, tone, 16000, 1)
    finally:
        container.close()
    return path


def make_empty_wav(path: str | os.PathLike[str], rate: int = 16000) -> Path:
    """Write a valid WAV header with no samples at all."""
    return write_wav(path, np.zeros((1, 0), np.float32), rate)


def damage_payload(path: str | os.PathLike[str], keep_head: int = 4096, seed: int = 2) -> Path:
    """Overwrite a media file's bytes after the first keep_head with noise (container index kept at the end)."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    end = len(data) - 4096 if len(data) > keep_head + 8192 else len(data)
    data[keep_head:end] = np.random.default_rng(seed).bytes(end - keep_head)
    path.write_bytes(bytes(data))
    return path


def make_corrupt_file(path: str | os.PathLike[str]) -> Path:
    """Write bytes that start like an MP4 (an ftyp box) but cannot be decoded."""
    path = Path(path)
    rng = np.random.default_rng(1)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + rng.bytes(4096))
    return path


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def black_png(width: int, height: int, rows: int | None = None) -> bytes:
    """An RGB PNG of black: all `height` rows (a real picture, compressed row by row, never held
    whole: 10000x10000 is about 300 KB), or only `rows` of them (a header that claims more)."""
    raw = b"\x00" * (1 + 3 * width)
    comp = zlib.compressobj(9)
    data = b"".join(comp.compress(raw) for _ in range(height if rows is None else rows)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")
