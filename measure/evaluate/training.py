"""Training the mouth model and validating it honestly: nested leave-one-speaker-out.

Every figure this module reports comes from clips whose speaker the scored model never saw:
for each speaker, the model is fitted on every other speaker's clips, and even its one setting
(the ridge penalty) is chosen inside that training set, by grouped cross-validation over its own
speakers (`choose_penalty`), so the held-out speaker steers nothing. The shipped model is then
fitted on every clip, with its penalty chosen the same way over all speakers.

Per held-out clip (cut as in QUALITY.md: template = first half, target = second half) the model
predicts the target half from the target audio alone, in the speaker's own voice and in another
voice, and is scored against the true mouth: `aperture_r` (opening), `width_r`, and `shape_lmd`,
the mouth-landmark distance of the template's mean mouth moved by the predicted shape, beside
`mean_lmd` (the template's mean mouth, not moved) and `baseline_lmd` (the template frames as
they are: doing nothing).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.pingpong import pingpong_index
from engine.speech.features import ANALYSIS_RATE
from engine.speech.frontend import Analysis
from engine.speech.learned import MouthModel, fit_model, frame_inputs, hop_features, select_columns

from . import loudness, metrics
from .clipdata import ClipData
from .report import JsonLine
from .speakers import OPEN, UNKNOWN, clip_source

log = logging.getLogger(__name__)

PENALTIES = (1.0, 10.0, 100.0, 1000.0)
SHIPPED_FEATURE_SET = "no-phones"  # language-independent: see the README's feature-set table
# The shipped model learns from openly licensed and unknown-rights clips, never from research-only
# corpora (LRS2, MEAD, MER2023, CMU-MOSEI), whose terms forbid commercial use of derived models.
SHIPPED_LICENCES: tuple[str, ...] | None = (OPEN, UNKNOWN)
INNER_FOLDS = 5


@dataclass
class TrainingClip:
    """One clip ready for training and validation: its series and its features at frame rate."""

    data: ClipData
    hops_whole: np.ndarray  # per-hop features of the whole clip's sound
    hops_own: np.ndarray  # of the target half's sound
    hops_other: np.ndarray | None  # of the target half in another voice
    loudness: np.ndarray  # the target audio's loudness per target frame

    @property
    def name(self) -> str:
        """The clip's file name."""
        return self.data.name

    @property
    def speaker(self) -> str:
        """The clip's speaker."""
        return self.data.speaker

    def inputs(self, part: str, feature_set: str = "all") -> np.ndarray:
        """Model inputs at frame rate of the whole clip ("whole") or its target half ("own",
        "other"), computed once per feature set."""
        memo = self.__dict__.setdefault("_inputs", {})
        if (part, feature_set) not in memo:
            d = self.data
            hops = {"whole": self.hops_whole, "own": self.hops_own, "other": self.hops_other}[part]
            memo[part, feature_set] = frames(hops, d.fps, d.n if part == "whole" else d.n - d.k, feature_set)
        return memo[part, feature_set]


@dataclass
class LosoScore(JsonLine):
    """One clip scored by the model fitted without its speaker."""

    clip: str
    speaker: str
    language: str
    licence: str
    short_clip: bool
    target_s: float
    penalty: float
    aperture_r: float
    aperture_r_voice: float
    width_r: float
    loudness_r: float
    shape_lmd: float
    mean_lmd: float
    baseline_lmd: float
    feature_set: str = "all"
    schema: int = 1


def prepare(data: ClipData, voice: bool = True) -> TrainingClip:
    """Compute a clip's per-hop features (whole clip, target half, and the target in another voice)."""
    target = data.samples(data.k, data.n)
    other = None
    if voice:
        from .voice import other_voice

        other = hop_features(Analysis(other_voice(target, ANALYSIS_RATE)))
    loud = loudness.frame_loudness(target, ANALYSIS_RATE, data.fps, data.n - data.k)
    return TrainingClip(data, hop_features(Analysis(data.audio)), hop_features(Analysis(target)), other, loud)


def frames(hops: np.ndarray, fps: float, n: int, feature_set: str = "all") -> np.ndarray:
    """Model inputs at frame rate from per-hop features (as learned.frame_features does)."""
    return frame_inputs(select_columns(hops, feature_set), fps, n)


def fit(clips: Sequence[TrainingClip], penalty: float, feature_set: str = "all") -> MouthModel:
    """The mouth model fitted on whole clips with a given penalty."""
    d = [c.data for c in clips]
    return fit_model([c.inputs("whole", feature_set) for c in clips],
                     [x.opening for x in d], [x.name for x in d], widths=[x.width for x in d],
                     mouths=[x.mouth for x in d], penalty=penalty,
                     licences=[clip_source(x.name).licence for x in d], feature_set=feature_set)


def _speaker_folds(speakers: Sequence[str], folds: int) -> list[list[str]]:
    """Speakers dealt into folds in a fixed shuffled order."""
    order = sorted(set(speakers))
    np.random.default_rng(0).shuffle(order)
    return [f for f in (order[i::folds] for i in range(min(folds, len(order)))) if f]


def choose_penalty(clips: Sequence[TrainingClip], penalties: Sequence[float] = PENALTIES,
                   feature_set: str = "all", folds: int = INNER_FOLDS) -> float:
    """The penalty with the best median opening correlation over speaker-grouped folds of `clips`."""
    groups = _speaker_folds([c.speaker for c in clips], folds)
    if len(groups) < 2 or len(penalties) == 1:
        return float(penalties[len(penalties) // 2])
    best: tuple[float, float] | None = None
    for penalty in penalties:
        rs = []
        for held in groups:
            train = [c for c in clips if c.speaker not in held]
            model = fit(train, penalty, feature_set)
            for c in (c for c in clips if c.speaker in held):
                pred = model.predict(c.inputs("whole", feature_set))[:, 0]
                rs.append(metrics.best_shift_corr(pred, c.data.opening).r)
        score = float(np.nanmedian(rs)) if np.isfinite(rs).any() else -np.inf
        if best is None or score > best[0]:
            best = (score, float(penalty))
    return best[1]


def _lmd(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance of the 20 mouth points between two (n, 40) series, over frames finite in both."""
    return metrics.finite_mean(metrics.point_distance(a.reshape(len(a), 20, 2), b.reshape(len(b), 20, 2)))


def score_clip(c: TrainingClip, model: MouthModel, feature_set: str = "all") -> LosoScore:
    """A clip's figures under a model that never saw its speaker."""
    d = c.data
    k, n, m = d.k, d.n, d.n - d.k
    mouth = np.asarray(d.mouth, np.float64).reshape(n, -1)
    with np.errstate(invalid="ignore"):
        template_mean = np.nanmean(mouth[:k], axis=0)
    truth, true_open = mouth[k:n], d.opening[k:n]
    baseline = mouth[[pingpong_index(j, k) for j in range(m)]]
    own = model.predict(c.inputs("own", feature_set))
    basis = np.asarray(model.shape_basis)
    moved = template_mean + own[:, 2:] @ basis
    other_r = float("nan")
    if c.hops_other is not None:
        other = model.predict(c.inputs("other", feature_set))
        other_r = metrics.best_shift_corr(other[:, 0], true_open).r
    src = clip_source(d.name)
    return LosoScore(clip=d.name, speaker=d.speaker, language=src.language, licence=src.licence,
                     short_clip=d.short, target_s=m / d.fps, penalty=model.penalty,
                     aperture_r=metrics.best_shift_corr(own[:, 0], true_open).r, aperture_r_voice=other_r,
                     width_r=metrics.best_shift_corr(own[:, 1], d.width[k:n]).r,
                     loudness_r=metrics.best_shift_corr(true_open, c.loudness).r,
                     shape_lmd=_lmd(moved, truth), mean_lmd=_lmd(np.repeat(template_mean[None], m, 0), truth),
                     baseline_lmd=_lmd(baseline, truth), feature_set=feature_set)


def trainable(clips: Sequence[TrainingClip], licences: Sequence[str] | None) -> list[TrainingClip]:
    """The clips a model may learn from: those of the given licence classes (all when None)."""
    return [c for c in clips if licences is None or clip_source(c.name).licence in licences]


def leave_one_speaker_out(clips: Sequence[TrainingClip], feature_set: str = SHIPPED_FEATURE_SET,
                          penalties: Sequence[float] = PENALTIES, licences: Sequence[str] | None = SHIPPED_LICENCES,
                          on_score: Callable[[LosoScore], None] | None = None) -> list[LosoScore]:
    """Nested leave-one-speaker-out: every clip scored by a model (and penalty) chosen without its
    speaker, learning only from clips of the `licences` classes."""
    scores = []
    for speaker, model in held_out_models(clips, feature_set, penalties, licences).items():
        for c in (c for c in clips if c.speaker == speaker):
            s = score_clip(c, model, feature_set)
            scores.append(s)
            if on_score is not None:
                on_score(s)
    return scores


def held_out_models(clips: Sequence[TrainingClip], feature_set: str = SHIPPED_FEATURE_SET,
                    penalties: Sequence[float] = PENALTIES,
                    licences: Sequence[str] | None = SHIPPED_LICENCES) -> dict[str, MouthModel]:
    """Per speaker of `clips`: the model (and its penalty) chosen and fitted without that speaker."""
    out = {}
    pool = trainable(clips, licences)
    for speaker in sorted({c.speaker for c in clips}):
        train = [c for c in pool if c.speaker != speaker]
        penalty = choose_penalty(train, penalties, feature_set)
        log.info("held out %s: penalty %g", speaker, penalty)
        out[speaker] = fit(train, penalty, feature_set)
    return out


def train_final(clips: Sequence[TrainingClip], feature_set: str = SHIPPED_FEATURE_SET,
                penalties: Sequence[float] = PENALTIES,
                licences: Sequence[str] | None = SHIPPED_LICENCES) -> MouthModel:
    """The model to ship: every allowed clip, the penalty chosen by speaker-grouped folds over them."""
    pool = trainable(clips, licences)
    if not pool:
        raise ValueError(f"no clip of the licence classes {', '.join(licences or [])} to train on")
    return fit(pool, choose_penalty(pool, penalties, feature_set), feature_set)


def summary_row(scores: Sequence[LosoScore]) -> dict[str, float]:
    """Medians of the figures (and of the LMD ratios to doing nothing)."""
    return {
        "clips": len(scores),
        "aperture_r": metrics.finite_median([s.aperture_r for s in scores]),
        "aperture_r_voice": metrics.finite_median([s.aperture_r_voice for s in scores]),
        "width_r": metrics.finite_median([s.width_r for s in scores]),
        "loudness_r": metrics.finite_median([s.loudness_r for s in scores]),
        "shape_lmd_ratio": metrics.finite_median([s.shape_lmd / s.baseline_lmd for s in scores]),
        "mean_lmd_ratio": metrics.finite_median([s.mean_lmd / s.baseline_lmd for s in scores]),
    }


def table(scores: Sequence[LosoScore]) -> str:
    """Markdown: the medians (all clips, and Mandarin clips), then one row per clip."""
    def line(label: str, rows: Sequence[LosoScore]) -> str:
        s = summary_row(rows)
        return (f"| **{label}** ({s['clips']}) | **{s['aperture_r']:.3f}** | **{s['aperture_r_voice']:.3f}** | "
                f"{s['width_r']:.3f} | {s['loudness_r']:.3f} | {s['shape_lmd_ratio']:.3f} | "
                f"{s['mean_lmd_ratio']:.3f} |")

    out = ["| clip (speaker, language, target s) | aperture_r | aperture_r, other voice | width_r | loudness_r | "
           "shape LMD / nothing | mean mouth LMD / nothing |", "|---|---|---|---|---|---|---|"]
    for s in sorted(scores, key=lambda s: s.clip):
        short = ", short" if s.short_clip else ""
        out.append(f"| {s.clip} ({s.speaker}, {s.language}, {s.target_s:.1f}{short}) | {s.aperture_r:.2f} | "
                   f"{s.aperture_r_voice:.2f} | {s.width_r:.2f} | {s.loudness_r:.2f} | "
                   f"{s.shape_lmd / s.baseline_lmd:.2f} | {s.mean_lmd / s.baseline_lmd:.2f} |")
    out.append(line("median, all clips", scores))
    zh = [s for s in scores if s.language == "zh"]
    if zh:
        out.append(line("median, Mandarin clips", zh))
    return "\n".join(out)
