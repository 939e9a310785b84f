"""Choosing and training the audio front end (engine.speech) on real clips, without rendering.

`compare`: for each clip, cut as in the self-reenactment protocol, every front end predicts the
mouth opening of the target half from the target audio alone (a presenter-fitted one also gets
the template half's own sound and tracked mouth), in the speaker's own voice and in another
voice (`voice`); the figure is the evaluator's aperture_r against the true opening. The trained
`mouth-model` is always scored held out: refitted without every clip of the scored speaker.

`train`: fits the shipped `mouth-model` on whole clips, and (with a folder) one held-out model
per speaker for honest end-to-end evaluation (`python -m measure evaluate --holdout-models`).
"""
from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.faces.canonical import MOUTH_POINTS, mouth_corner_width, to_canonical_series
from engine.media.probe import probe
from engine.speech import FRONT_ENDS, PresenterSample, predict_mouth
from engine.speech.features import ANALYSIS_RATE
from engine.speech.frontend import Analysis
from engine.speech.learned import MouthModel, hop_features

from . import loudness, metrics
from .clipdata import ClipData
from .clips import clip_audio, plan_cut
from .report import JsonLine
from .tracking import cached_track_video

log = logging.getLogger(__name__)


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


def load_clip(clip: str | os.PathLike[str], landmark_cache: str | os.PathLike[str] | None,
              workers: int = 1) -> ClipData:
    """Landmarks (cached), cut and sound of one clip."""
    info = probe(clip, "video")
    pts = cached_track_video(clip, info.fps, landmark_cache, workers)
    cut = plan_cut(clip, n_decoded=len(pts))
    n = cut.n_frames
    canon = to_canonical_series(pts[:n])
    audio = clip_audio(dataclasses.replace(cut, audio_rate=ANALYSIS_RATE, channels=1), 0, n)[0]
    return ClipData(name=Path(clip).name, fps=cut.fps, k=cut.template_frames, n=n, short=cut.short,
                    opening=metrics.smoothed_opening(canon), width=mouth_corner_width(canon),
                    audio=audio.astype(np.float64), mouth=canon[:, MOUTH_POINTS].astype(np.float32))


def _training_clips(clips: Sequence[ClipData]):  # noqa: ANN202 - list[training.TrainingClip]
    """Clips with their whole-sound features (no target-half features: enough to fit)."""
    from .training import TrainingClip

    return [TrainingClip(c, hop_features(Analysis(c.audio)), None, None, None) for c in clips]


def train(clips: Sequence[ClipData]) -> MouthModel:
    """Fit the mouth model on whole clips, its penalty chosen by speaker-grouped folds."""
    from .training import train_final

    return train_final(_training_clips(clips))


def held_out_models(clips: Sequence[ClipData]) -> dict[str, MouthModel]:
    """Per speaker: the model chosen and fitted on every other speaker's clips."""
    from .training import held_out_models as fit_held_out

    return fit_held_out(_training_clips(clips))


def compare_clip(data: ClipData, front_ends: Sequence[str], held_out: MouthModel | None,
                 voice: bool = True) -> list[FrontEndScore]:
    """Score each front end on one clip (own voice, and another voice when `voice`)."""
    from .voice import other_voice

    k, n, m = data.k, data.n, data.n - data.k
    template, target = data.samples(0, k), data.samples(k, n)
    presenter = PresenterSample(template, ANALYSIS_RATE, data.fps, data.opening[:k], data.width[:k])
    true_open = data.opening[k:n]
    voices = {"own": target}
    if voice:
        voices["other"] = other_voice(target, ANALYSIS_RATE)
    lo = metrics.best_shift_corr(true_open, loudness.frame_loudness(target, ANALYSIS_RATE, data.fps, m))
    nan = metrics.ShiftCorr(float("nan"), None, float("nan"))
    out = []
    for name in front_ends:
        r = {v: metrics.best_shift_corr(predict_mouth(a, data.fps, m, name, presenter, model=held_out).open,
                                        true_open) for v, a in voices.items()}
        own, other = r["own"], r.get("other", nan)
        out.append(FrontEndScore(clip=data.name, front_end=name, target_s=m / data.fps, aperture_r=own.r,
                                 lag=own.lag, aperture_r_voice=other.r, lag_voice=other.lag, loudness_r=lo.r,
                                 short_clip=data.short))
    return out


def compare(clips: Sequence[str], front_ends: Sequence[str] | None = None,
            landmark_cache: str | os.PathLike[str] | None = None, workers: int = 1, voice: bool = True,
            on_score: Callable[[FrontEndScore], None] | None = None) -> list[FrontEndScore]:
    """Score every front end on every clip (the mouth model held out by speaker)."""
    names = list(front_ends or FRONT_ENDS)
    data = [load_clip(c, landmark_cache, workers) for c in clips]
    models = held_out_models(data) if "mouth-model" in names and len({d.speaker for d in data}) > 1 else {}
    if "mouth-model" in names and not models:
        log.warning("only one speaker: the mouth-model is scored with the shipped model, which may have "
                    "been trained on this clip")
    scores: list[FrontEndScore] = []
    for d in data:
        for s in compare_clip(d, names, models.get(d.speaker), voice):
            scores.append(s)
            if on_score is not None:
                on_score(s)
    return scores


def table(scores: Sequence[FrontEndScore]) -> str:
    """A markdown table: per front end, median aperture_r in own and other voice, then per clip."""
    names = list(dict.fromkeys(s.front_end for s in scores))
    clips = list(dict.fromkeys(s.clip for s in scores))
    by = {(s.front_end, s.clip): s for s in scores}
    rows = ["| front end | median r | median r, other voice | " + " | ".join(Path(c).stem for c in clips) + " |",
            "|" + "---|" * (3 + len(clips))]
    for name in names:
        got = [by[name, c] for c in clips if (name, c) in by]
        cells = [f"{by[name, c].aperture_r:.2f} / {by[name, c].aperture_r_voice:.2f}" if (name, c) in by else "-"
                 for c in clips]
        rows.append(f"| {name} | {metrics.finite_median([s.aperture_r for s in got]):.3f} | "
                    f"{metrics.finite_median([s.aperture_r_voice for s in got]):.3f} | " + " | ".join(cells) + " |")
    lo = [next(s.loudness_r for s in scores if s.clip == c) for c in clips]
    rows.append(f"| (loudness_r) | {metrics.finite_median(lo):.3f} | | " + " | ".join(f"{v:.2f}" for v in lo) + " |")
    return "\n".join(rows)
