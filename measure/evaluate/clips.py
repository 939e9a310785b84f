"""Cut a talking clip into a template (first half) and a target (second half) at a frame boundary.

Frame k of a clip is frame k of `iter_frames(clip)` (constant rate, display-oriented). It is shown
at container time v0 + k / fps, where v0 is the video stream's start time; the audio sample shown
with it is the one at that same container time (the audio stream's own start time a0 is taken
into account, so a stream that starts later or earlier stays in sync). Only whole frames covered
by both picture and sound are used: N = min(decoded frames, frames the audio covers), the template
has K = N // 2 frames and the target M = N - K. The template MP4 gets frames 0..K-1 with the audio
of [v0, v0 + K/fps); the target WAV holds exactly [v0 + K/fps, v0 + N/fps), M / fps seconds long,
so a render of it has exactly M frames that line up with the true frames K..N-1.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from engine.media.audio import AAC_RATES, load_audio, write_wav
from engine.media.probe import first_stream, probe, reading
from engine.media.read import iter_frames
from engine.media.write import VideoWriter

from .errors import UnusableClipError

log = logging.getLogger(__name__)

TEMPLATE_CRF = 14  # near-transparent: the template should lose as little as possible
SHORT_HALF_S = 4.0
MIN_HALF_FRAMES = 12


@dataclass(frozen=True)
class ClipCut:
    """Where a clip is cut and how its sound lines up with its frames."""

    source: Path
    fps: float
    width: int
    height: int
    n_frames: int  # N: usable frames (picture and sound)
    template_frames: int  # K
    audio_rate: int  # rate of the written audio (the source's when AAC can carry it)
    channels: int  # 1 or 2
    audio_offset_s: float  # container time of audio sample 0 minus that of frame 0 (a0 - v0)

    @property
    def target_frames(self) -> int:
        """M = N - K frames in the second half."""
        return self.n_frames - self.template_frames

    @property
    def template_s(self) -> float:
        """Template duration in seconds."""
        return self.template_frames / self.fps

    @property
    def target_s(self) -> float:
        """Target duration in seconds."""
        return self.target_frames / self.fps

    @property
    def short(self) -> bool:
        """True when either half is under 4 s (a noisy figure)."""
        return min(self.template_s, self.target_s) < SHORT_HALF_S


@dataclass(frozen=True)
class ClipSplit:
    """A cut clip on disk: the template MP4 and target WAV a renderer may use."""

    cut: ClipCut
    template: Path
    target_audio: Path


def _start_times(path: Path) -> tuple[float, float]:
    """(v0, a0): start times in seconds of the first video and audio streams (0 when unknown)."""
    with reading(path, "video") as container:
        v = first_stream(container, path, "video")
        a = first_stream(container, path, "audio")
        v0 = float(v.start_time * v.time_base) if v.start_time is not None and v.time_base else 0.0
        a0 = float(a.start_time * a.time_base) if a.start_time is not None and a.time_base else 0.0
    return v0, a0


def count_frames(path: str | os.PathLike[str], fps: float) -> int:
    """Frames `iter_frames(path, fps)` yields (decodes the whole video)."""
    return sum(1 for _ in iter_frames(path, fps))


def plan_cut(clip: str | os.PathLike[str], n_decoded: int | None = None) -> ClipCut:
    """Decide the cut of `clip`; `n_decoded` (frames iter_frames yields) is counted when not given."""
    clip = Path(clip)
    info = probe(clip, "video")
    if not info.has_video or info.is_image:
        raise UnusableClipError(f"'{clip.name}' is not a video; evaluation needs a talking clip with its own speech")
    if not info.has_audio:
        raise UnusableClipError(f"'{clip.name}' has no audio track; evaluation needs the clip's own speech")
    v0, a0 = _start_times(clip)
    rate = info.audio_rate if info.audio_rate in AAC_RATES else 48000
    channels = 1 if info.audio_channels == 1 else 2
    n_samples = load_audio(clip, rate, mono=True).shape[0]
    audio_end = a0 - v0 + n_samples / rate  # in seconds after frame 0
    n_video = count_frames(clip, info.fps) if n_decoded is None else n_decoded
    n = min(n_video, int(np.floor(audio_end * info.fps + 1e-6)))
    if n < 2 * MIN_HALF_FRAMES:
        raise UnusableClipError(f"'{clip.name}' has only {n} frames with sound; use a clip of a few seconds or more")
    return ClipCut(source=clip, fps=info.fps, width=info.width, height=info.height, n_frames=n,
                   template_frames=n // 2, audio_rate=rate, channels=channels, audio_offset_s=a0 - v0)


def clip_audio(cut: ClipCut, start_frame: int, end_frame: int) -> np.ndarray:
    """The source sound under frames [start_frame, end_frame) as float32 (channels, samples), zero-padded."""
    data = load_audio(cut.source, cut.audio_rate, mono=cut.channels == 1)
    data = data[None, :] if data.ndim == 1 else data
    n0 = int(round(start_frame / cut.fps * cut.audio_rate))
    n1 = int(round(end_frame / cut.fps * cut.audio_rate))
    shift = int(round(cut.audio_offset_s * cut.audio_rate))  # sample index of frame time t is t*rate - shift
    out = np.zeros((data.shape[0], n1 - n0), np.float32)
    lo, hi = max(n0 - shift, 0), min(n1 - shift, data.shape[1])
    if hi > lo:
        out[:, lo - (n0 - shift):hi - (n0 - shift)] = data[:, lo:hi]
    return out


def iter_clip_frames(cut: ClipCut, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Frames start..stop-1 of the clip (default: to N), as iter_frames yields them."""
    stop = cut.n_frames if stop is None else min(stop, cut.n_frames)
    for k, frame in enumerate(iter_frames(cut.source, cut.fps, max_frames=stop)):
        if k >= start:
            yield frame


def write_av(path: Path, frames: Iterator[np.ndarray], sound: np.ndarray, cut: ClipCut, crf: int,
             preset: str = "veryfast") -> Path:
    """Encode frames with their sound (float (channels, n) at cut.audio_rate) into an H.264/AAC MP4."""
    layout = "mono" if sound.shape[0] == 1 else "stereo"
    step = 1024
    with VideoWriter(path, cut.width, cut.height, cut.fps, crf=crf, preset=preset,
                     audio_rate=cut.audio_rate, audio_layout=layout) as writer:
        pos = 0
        for k, frame in enumerate(frames):
            writer.write_frame(frame)
            until = int(round((k + 1) / cut.fps * cut.audio_rate))
            while pos < min(until, sound.shape[1]):
                pos = _write_chunk(writer, sound, pos, min(pos + step, sound.shape[1]), cut.audio_rate, layout)
        while pos < sound.shape[1]:
            pos = _write_chunk(writer, sound, pos, min(pos + step, sound.shape[1]), cut.audio_rate, layout)
    return path


def _write_chunk(writer: VideoWriter, sound: np.ndarray, lo: int, hi: int, rate: int, layout: str) -> int:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(sound[:, lo:hi], np.float32), format="fltp",
                                       layout=layout)
    frame.sample_rate = rate
    writer.write_audio(frame)
    return hi


def split_clip(clip: str | os.PathLike[str], workdir: str | os.PathLike[str],
               cut: ClipCut | None = None) -> ClipSplit:
    """Write `<stem>.template.mp4` (first half with its sound) and `<stem>.target.wav` into workdir."""
    cut = cut or plan_cut(clip)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    stem = cut.source.stem
    k, n = cut.template_frames, cut.n_frames
    template = workdir / f"{stem}.template.mp4"
    target = workdir / f"{stem}.target.wav"
    write_av(template, iter_clip_frames(cut, 0, k), clip_audio(cut, 0, k), cut, TEMPLATE_CRF)
    write_wav(target, clip_audio(cut, k, n), cut.audio_rate)
    log.info("%s: %d frames at %.3f fps -> template %d frames (%.2f s), target %d frames (%.2f s)",
             cut.source.name, n, cut.fps, k, cut.template_s, cut.target_frames, cut.target_s)
    return ClipSplit(cut=cut, template=template, target_audio=target)
