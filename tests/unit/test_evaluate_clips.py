"""Cutting a clip into template and target: frame-exact, sound kept in sync, even when audio starts late."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.media.audio import load_audio
from engine.media.probe import audio_duration
from engine.media.read import iter_frames
from engine.testing.media import make_test_video, numbered_frame, read_frame_number
from measure.evaluate import UnusableClipError
from measure.evaluate.clips import _start_times, iter_clip_frames, plan_cut, split_clip

FPS, RATE, N, BEEP_EVERY = 25, 16000, 61, 10


def beep_clip(path: Path, audio_delay_s: float) -> Path:
    """Numbered frames; a 20 ms 1 kHz beep at every 10th frame's time; the audio stream starts late."""
    c = av.open(str(path), "w")
    v = c.add_stream("libx264", rate=FPS)
    v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
    v.options = {"crf": "10", "preset": "ultrafast"}
    a = c.add_stream("aac", rate=RATE, layout="mono")
    for i in range(N):
        frame = av.VideoFrame.from_ndarray(numbered_frame(i), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, FPS)
        for p in v.encode(frame):
            c.mux(p)
    for p in v.encode(None):
        c.mux(p)
    sound = np.zeros(int((N / FPS - audio_delay_s) * RATE) + RATE // 10, np.float32)
    for k in range(0, N, BEEP_EVERY):
        s = int(round((k / FPS - audio_delay_s) * RATE))
        if s >= 0:
            sound[s:s + 320] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(320) / RATE)
    pts = int(audio_delay_s * RATE)
    for s in range(0, len(sound), 1024):
        chunk = av.AudioFrame.from_ndarray(sound[None, s:s + 1024].copy(), format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts, chunk.time_base = RATE, pts, Fraction(1, RATE)
        pts += chunk.samples
        for p in a.encode(chunk):
            c.mux(p)
    for p in a.encode(None):
        c.mux(p)
    c.close()
    return path


def beep_times(path: Path) -> np.ndarray:
    """Onsets (s after the first video frame) of the beeps in a file's sound."""
    x = load_audio(path, RATE)
    v0, a0 = _start_times(path) if path.suffix == ".mp4" else (0.0, 0.0)
    loud = np.abs(x) > 0.2
    onsets = np.nonzero(loud & ~np.concatenate([[False], loud[:-1]]))[0]
    onsets = onsets[np.concatenate([[True], np.diff(onsets) > RATE // 20])] if onsets.size else onsets
    return onsets / RATE + a0 - v0


@pytest.mark.parametrize("delay", [0.0, 0.2])
def test_split_is_frame_exact_and_in_sync(tmp_path: Path, delay: float) -> None:
    clip = beep_clip(tmp_path / "beeps.mp4", delay)
    cut = plan_cut(clip)
    assert cut.n_frames == N and cut.template_frames == N // 2 and cut.target_frames == N - N // 2
    split = split_clip(clip, tmp_path / "work", cut)
    k, m = cut.template_frames, cut.target_frames

    template = [read_frame_number(f) for f in iter_frames(split.template)]
    assert template == list(range(k))
    assert [read_frame_number(f) for f in iter_clip_frames(cut, k)] == list(range(k, N))

    assert audio_duration(split.target_audio) == pytest.approx(m / FPS, abs=1e-4)
    want_target = [(j / FPS) for j in range(m) if (k + j) % BEEP_EVERY == 0]
    assert np.allclose(beep_times(split.target_audio), want_target, atol=0.002)
    want_template = [j / FPS for j in range(k) if j % BEEP_EVERY == 0 and j / FPS >= delay]
    assert np.allclose(beep_times(split.template), want_template, atol=0.003)


def test_clip_without_sound_or_too_short_is_refused(tmp_path: Path) -> None:
    silent = make_test_video(tmp_path / "silent.mp4", seconds=2.0, with_audio=False)
    with pytest.raises(UnusableClipError, match="no audio"):
        plan_cut(silent)
    short = make_test_video(tmp_path / "short.mp4", seconds=0.5)
    with pytest.raises(UnusableClipError, match="frames"):
        plan_cut(short)
