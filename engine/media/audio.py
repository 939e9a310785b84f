"""Streamed audio decoding of any file's first audio track, resampled for muxing or analysis."""
from __future__ import annotations

import logging
import os
import wave
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .errors import media_error
from .probe import decoded_frames, first_stream, reading

log = logging.getLogger(__name__)

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def aac_output_format(rate: int, channels: int) -> tuple[int, str]:
    """(rate, layout) to encode AAC at: the source rate when AAC supports it, else 48 kHz; mono or stereo."""
    out_rate = rate if rate in AAC_RATES else 48000
    return out_rate, "mono" if channels == 1 else "stereo"


def iter_audio_frames(path: str | os.PathLike[str], rate: int, layout: str = "stereo",
                      fmt: str = "fltp") -> Iterator[av.AudioFrame]:
    """Yield the first audio stream's frames resampled to rate/layout/fmt, pts counted in samples from 0."""
    path = Path(path)
    with reading(path, "audio") as container:
        stream = first_stream(container, path, "audio")
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        time_base, done = Fraction(1, rate), 0
        for frame in decoded_frames(container, stream, path, "audio"):
            frame.pts = None
            for out in resampler.resample(frame):
                out.pts, out.time_base = done, time_base
                done += out.samples
                yield out
        for out in resampler.resample(None):
            out.pts, out.time_base = done, time_base
            done += out.samples
            yield out
        if done == 0:
            raise media_error("audio", path, "the audio stream has no decodable samples")


def load_audio(path: str | os.PathLike[str], rate: int = 16000, mono: bool = True) -> np.ndarray:
    """The whole audio track as float32 in [-1, 1]: shape (n,) when mono, else (channels, n)."""
    chunks = [f.to_ndarray() for f in iter_audio_frames(path, rate, "mono" if mono else "stereo", "fltp")]
    data = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return data[0] if mono else data


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, rate: int) -> Path:
    """Write float (channels, n) samples in [-1, 1] as 16-bit PCM WAV."""
    path = Path(path)
    pcm = (np.clip(samples, -1.0, 1.0).T * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(samples.shape[0])
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(np.ascontiguousarray(pcm).tobytes())
    return path
