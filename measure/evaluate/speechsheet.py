"""Contact sheets of a render against its own sound: mouth crops over a stretch of consecutive
frames (every `step`-th) that contains a pause, and under each crop the speech loudness at that
frame (a bar; grey where the audio is silent). For looking at renders with no ground truth, such
as Chinese speech on an English presenter: the mouth should open on syllables and close in pauses.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.media.audio import load_audio
from engine.media.probe import probe
from engine.media.read import iter_frames

from . import loudness
from .sheet import CROP_SIZE, SHEET_COLUMNS, SheetBlock, crops_at, draw_sheet
from .tracking import track_video


def loudness_tile(level: float, silent: bool, size: tuple[int, int] = CROP_SIZE) -> np.ndarray:
    """A tile with a bar as high as `level` (0..1): orange for speech, grey for silence."""
    w, h = size
    tile = np.full((h, w, 3), 24, np.uint8)
    top = int(round((1.0 - float(np.clip(level, 0, 1))) * (h - 4)))
    tile[top:h - 2, w // 2 - 10:w // 2 + 10] = (110, 110, 110) if silent else (240, 150, 40)
    return tile


def window_with_pause(silent: np.ndarray, span: int) -> int:
    """The first frame of a `span`-frame window starting a little before the first pause that
    follows speech (0 if there is none): the mouth should close there and open again after."""
    s = np.asarray(silent, bool)
    starts = np.flatnonzero(s[1:] & ~s[:-1]) + 1  # speech -> silence
    start = int(starts[0]) - span // 3 if len(starts) else 0
    return int(np.clip(start, 0, max(0, len(s) - span)))


def speech_block(video: str | os.PathLike[str], title: str, step: int = 2, columns: int = SHEET_COLUMNS,
                 workers: int = 1) -> SheetBlock:
    """One sheet block: the video's mouth over consecutive frames round its first pause, and its loudness."""
    info = probe(video, "video")
    fps = info.fps
    points = track_video(video, fps, workers=workers)
    n = len(points)
    samples = load_audio(video, loudness.ANALYSIS_RATE, mono=True)
    loud = loudness.frame_loudness(samples, loudness.ANALYSIS_RATE, fps, n)
    silent = loudness.silent_frames(samples, loudness.ANALYSIS_RATE, fps, n)
    level = (loud - loud.min()) / max(float(np.ptp(loud)), 1e-6) if n else loud
    span = step * columns
    start = window_with_pause(silent, span)
    indices = [k for k in range(start, min(n, start + span), step)]
    crops = crops_at(iter_frames(video, fps), points, indices)
    tiles: list[np.ndarray | None] = [loudness_tile(level[k], bool(silent[k])) for k in indices]
    return SheetBlock(title=f"{title}  frames {indices[0] if indices else 0}..{indices[-1] if indices else 0}"
                      f" every {step}", indices=indices, out_crops=crops, true_crops=tiles)


def speech_sheet(videos: Sequence[tuple[str | os.PathLike[str], str]], path: str | os.PathLike[str],
                 step: int = 2, workers: int = 1) -> Path:
    """Write a sheet with one block per (video, title)."""
    blocks = [speech_block(v, t, step, workers=workers) for v, t in videos]
    return draw_sheet(blocks, path, row_labels=("mouth", "sound"))
