"""Side-by-side comparison of the audio front ends (engine.speech) on real clips, without rendering.

For each clip, cut as in the self-reenactment protocol: every front end predicts the mouth
opening of the target half from the target audio alone (a presenter-fitted one also gets the
template half's own sound and tracked mouth), in the speaker's own voice and in another voice
(`voice`). The figure is the evaluator's aperture_r: the best-shift correlation of the prediction
with the true opening; `loudness_r` is beside it. This chooses the front end; the rendered
output is then judged by `python -m engine evaluate`.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..speech import FRONT_ENDS, PresenterSample, predict_mouth
from ..speech.features import ANALYSIS_RATE
from . import loudness, metrics
from ..faces.canonical import to_canonical_series
from .clips import clip_audio, plan_cut
from .report import JsonLine
from .tracking import cached_track_video
from ..media_probe import probe


@dataclass
class FrontEndScore(JsonLine):
    """One front end on one clip: aperture_r (and lag) in the own voice and in another voice."""

    clip: str
    front_end: str
    target_s: float
    aperture_r: float
    lag: int | None
    aperture_r_voice: float
    lag_voice: int | None
    loudness_r: float
    short_clip: bool
    schema: int = 1
    extra: dict = field(default_factory=dict)


def mouth_width(canonical: np.ndarray) -> np.ndarray:
    """Per frame: distance between the mouth corners (48, 54), canonical units."""
    c = np.asarray(canonical, np.float64)
    return np.linalg.norm(c[:, 48] - c[:, 54], axis=-1)


def compare_clip(clip: str | os.PathLike[str], front_ends: Sequence[str], landmark_cache: str | None,
                 workers: int = 1, voice: bool = True) -> list[FrontEndScore]:
    """Score each front end on one clip (own voice, and another voice when `voice`)."""
    from .voice import other_voice

    info = probe(clip, "video")
    pts = cached_track_video(clip, info.fps, landmark_cache, workers)
    cut = plan_cut(clip, n_decoded=len(pts))
    k, n, m = cut.template_frames, cut.n_frames, cut.target_frames
    cut16 = dataclasses.replace(cut, audio_rate=ANALYSIS_RATE, channels=1)
    canon = to_canonical_series(pts[:n])
    opening = metrics.smoothed_opening(canon)
    width = mouth_width(canon)
    template_audio = clip_audio(cut16, 0, k)[0].astype(np.float64)
    target_audio = clip_audio(cut16, k, n)[0].astype(np.float64)
    presenter = PresenterSample(template_audio, ANALYSIS_RATE, cut.fps, opening[:k], width[:k])
    true_open = opening[k:n]
    voices: dict[str, np.ndarray] = {"own": target_audio}
    if voice:
        voices["other"] = other_voice(target_audio, ANALYSIS_RATE)
    lo = metrics.best_shift_corr(true_open, loudness.frame_loudness(target_audio, ANALYSIS_RATE, cut.fps, m))
    out = []
    for name in front_ends:
        r: dict[str, metrics.ShiftCorr] = {}
        for v, audio in voices.items():
            curves = predict_mouth(audio, cut.fps, m, name, presenter)
            r[v] = metrics.best_shift_corr(curves.open, true_open)
        nan = metrics.ShiftCorr(float("nan"), None, float("nan"))
        own, other = r["own"], r.get("other", nan)
        out.append(FrontEndScore(clip=os.path.basename(clip), front_end=name, target_s=cut.target_s,
                                 aperture_r=own.r, lag=own.lag, aperture_r_voice=other.r, lag_voice=other.lag,
                                 loudness_r=lo.r, short_clip=cut.short))
    return out


def compare(clips: Sequence[str], front_ends: Sequence[str] | None = None, landmark_cache: str | None = None,
            workers: int = 1, voice: bool = True,
            on_score: Callable[[FrontEndScore], None] | None = None) -> list[FrontEndScore]:
    """Score every front end on every clip."""
    names = list(front_ends or FRONT_ENDS)
    scores: list[FrontEndScore] = []
    for clip in clips:
        for s in compare_clip(clip, names, landmark_cache, workers, voice):
            scores.append(s)
            if on_score is not None:
                on_score(s)
    return scores


def table(scores: Sequence[FrontEndScore]) -> str:
    """A markdown table: per front end, the median aperture_r, aperture_r_voice, and per clip."""
    names = list(dict.fromkeys(s.front_end for s in scores))
    clips = list(dict.fromkeys(s.clip for s in scores))
    by = {(s.front_end, s.clip): s for s in scores}
    head = "| front end | median r | median r (other voice) | " + " | ".join(clips) + " |"
    rows = [head, "|" + "---|" * (3 + len(clips))]
    for name in names:
        own = [by[name, c].aperture_r for c in clips if (name, c) in by]
        oth = [by[name, c].aperture_r_voice for c in clips if (name, c) in by]
        cells = [f"{by[name, c].aperture_r:.2f} / {by[name, c].aperture_r_voice:.2f}" if (name, c) in by else "-"
                 for c in clips]
        rows.append(f"| {name} | {np.nanmedian(own):.3f} | {np.nanmedian(oth):.3f} | " + " | ".join(cells) + " |")
    lo = [next(s.loudness_r for s in scores if s.clip == c) for c in clips]
    rows.append(f"| (loudness_r) | {np.nanmedian(lo):.3f} | | " + " | ".join(f"{v:.2f}" for v in lo) + " |")
    return "\n".join(rows)
