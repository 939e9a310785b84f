"""A synthetic talking clip with a known mouth opening, for testing the evaluator without real media.

The face is scikit-image's astronaut photo (public domain). Frame k opens the mouth by
`envelope[k]` times `max_open_px` pixels: everything below the lip line, within a tapered
window across the mouth and down to the chin, is pushed down by that amount, and the gap that
opens between the lips is painted as a dark mouth interior. The sound is a 140 Hz voiced buzz
whose amplitude follows the same envelope (silent where it is 0), so the opening, the loudness
and the audio all agree by construction.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

AUDIO_RATE = 16000
FACE_CROP = (113, 13, 337, 237)  # x0, y0, x1, y1 of the astronaut's head in the 512x512 photo
FRAME_SIZE = 400


@dataclass(frozen=True)
class SyntheticClip:
    """A written synthetic clip and the truth it was made from."""

    path: Path
    fps: float
    envelope: np.ndarray  # per frame, 0 (closed) .. 1 (fully open)
    max_open_px: float


def syllable_envelope(n_frames: int, fps: float, seed: int = 0,
                      pause_s: tuple[float, float] | None = None) -> np.ndarray:
    """A speech-like 0..1 opening per frame: random syllables of 120-320 ms, with a silent pause."""
    rng = np.random.default_rng(seed)
    env = np.zeros(n_frames)
    t = 0.1
    while t < n_frames / fps:
        length = rng.uniform(0.12, 0.32)
        k0, k1 = int(t * fps), int((t + length) * fps) + 1
        k1 = min(k1, n_frames)
        if k1 > k0:
            bump = np.sin(np.linspace(0, np.pi, k1 - k0 + 2)[1:-1])
            env[k0:k1] = np.maximum(env[k0:k1], rng.uniform(0.4, 1.0) * bump)
        t += length + rng.uniform(0.03, 0.2)
    if pause_s is not None:
        env[int(pause_s[0] * fps):int(pause_s[1] * fps)] = 0.0
    return env


def base_face() -> np.ndarray:
    """The astronaut's head, cropped and enlarged to FRAME_SIZE square (RGB uint8)."""
    from skimage import data

    x0, y0, x1, y1 = FACE_CROP
    return cv2.resize(data.astronaut()[y0:y1, x0:x1], (FRAME_SIZE, FRAME_SIZE), interpolation=cv2.INTER_CUBIC)


def open_mouth(face: np.ndarray, points: np.ndarray, amount_px: float) -> np.ndarray:
    """`face` with its mouth opened by amount_px pixels (see module doc); points are its 68 landmarks."""
    if amount_px <= 0:
        return face.copy()
    h, w = face.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    left, right = points[48, 0], points[54, 0]
    lip_y = float(points[[65, 66, 67], 1].mean())  # top of the lower lip
    chin_y = float(points[8, 1])
    half = (right - left) / 2.0
    cx = (left + right) / 2.0
    # full across the mouth, tapering off past its corners
    wx = np.clip(1.0 - np.abs(xx - cx) / (half * 1.25), 0.0, 1.0) ** 0.6
    depth = chin_y - lip_y
    wy = np.where(yy < lip_y, 0.0, np.clip(1.0 - (yy - lip_y) / (depth * 1.6), 0.0, 1.0))
    shift = amount_px * wx * wy
    map_y = yy - shift
    out = cv2.remap(face, xx, map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    gap = (yy >= lip_y) & (map_y < lip_y)
    inside = np.clip((lip_y - map_y) / 2.0, 0.0, 1.0) * gap  # soft edge of the opening
    interior = np.array([60, 20, 25], np.float32)
    blended = out.astype(np.float32) * (1 - inside[..., None]) + interior * inside[..., None]
    return blended.round().astype(np.uint8)


def buzz(envelope: np.ndarray, fps: float, rate: int = AUDIO_RATE, seed: int = 0) -> np.ndarray:
    """Float32 mono: a voiced 140 Hz buzz (plus a little breath noise) whose amplitude follows the envelope."""
    n = int(round(len(envelope) / fps * rate))
    t = np.arange(n) / rate
    amp = np.interp(t, (np.arange(len(envelope)) + 0.5) / fps, envelope)
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    noise = np.random.default_rng(seed).standard_normal(n) * 0.1
    return (0.3 * amp * (voice + noise)).astype(np.float32)


def make_talking_clip(path: str | os.PathLike[str], seconds: float = 4.0, fps: float = 25.0,
                      max_open_px: float = 14.0, seed: int = 0,
                      pause_s: tuple[float, float] | None = None) -> SyntheticClip:
    """Write an H.264/AAC MP4 of the astronaut saying buzzes, its mouth opening with their loudness.

    pause_s is a silent stretch (start, end) in seconds; by default 72-82 % of the clip, in its
    second half.
    """
    from engine.faces import detect_faces

    from .clips import ClipCut, write_av

    face = base_face()
    found = detect_faces(face)
    if not found:
        raise RuntimeError("no face found in the synthetic base image; the landmark model may be damaged")
    points = found[0].points
    n = int(round(seconds * fps))
    pause = pause_s if pause_s is not None else (0.72 * seconds, 0.82 * seconds)
    env = syllable_envelope(n, fps, seed, pause)
    cut = ClipCut(source=Path(path), fps=fps, width=FRAME_SIZE, height=FRAME_SIZE, n_frames=n,
                  template_frames=n // 2, audio_rate=AUDIO_RATE, channels=1, audio_offset_s=0.0)
    frames = (open_mouth(face, points, max_open_px * e) for e in env)
    write_av(Path(path), frames, buzz(env, fps, AUDIO_RATE, seed)[None, :], cut, crf=12)
    return SyntheticClip(path=Path(path), fps=fps, envelope=env, max_open_px=max_open_px)


__all__ = ["SyntheticClip", "base_face", "buzz", "make_talking_clip", "open_mouth",
           "syllable_envelope"]
