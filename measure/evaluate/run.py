"""The self-reenactment protocol of QUALITY.md, clip by clip.

For each clip: landmarks on every source frame (cached when a cache folder is given), cut into
template and target (`clips`), render the target audio onto the template (the renderer sees only
those two files), landmarks on every output frame, then the figures (`metrics`, `loudness`)
against the true second half, and against the baseline: the template's own frames ping-ponged to
the target's length, exactly what the `none` backend shows, measured on the decoded source
without any re-encoding.

The same decode passes that find the landmarks (of the source clip, cached with them, and of the
output) also cut each frame's face-aligned mouth region, whose frame-to-frame change gives the
flicker figures (`flicker`): the output's against the template half's own.

With voice "other" (QUALITY.md, "Another voice") the renderer gets the target audio resynthesised
in a voice of the other sex (`voice.other_voice`), written next to the target WAV; the true frames
and the loudness figures still come from the clip's own target audio.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.faces.canonical import to_canonical_series
from engine.media.audio import load_audio, write_wav
from engine.media.probe import probe
from engine.media.read import iter_frames
from engine.pingpong import pingpong_index

from . import flicker, loudness, metrics, picture
from .clips import ClipCut, ClipSplit, iter_clip_frames, plan_cut, split_clip
from .errors import EvaluationError, UnusableClipError
from .renderers import RendererFactory
from .report import VOICES, ClipFailure, ClipReport, Summary, summarise
from .sheet import SheetBlock, crops_at, sheet_indices
from .tracking import cached_track_video_with_change, track_video_with_change

log = logging.getLogger(__name__)


@dataclass
class ClipEvaluation:
    """One clip's report, and its contact-sheet block when one was asked for."""

    report: ClipReport
    block: SheetBlock | None = None


@dataclass
class RunResult:
    """Everything an evaluation run produced."""

    reports: list[ClipReport] = field(default_factory=list)
    failures: list[ClipFailure] = field(default_factory=list)
    blocks: list[SheetBlock] = field(default_factory=list)
    summary: Summary | None = None


def baseline_points(template: np.ndarray, n_out: int) -> np.ndarray:
    """Template landmarks ping-ponged to n_out frames (what the `none` backend shows)."""
    k = len(template)
    return template[[pingpong_index(j, k) for j in range(n_out)]]


def _fit_length(points: np.ndarray, n: int) -> np.ndarray:
    """Cut or NaN-pad an (m, 68, 2) series to n frames."""
    if len(points) >= n:
        return points[:n]
    pad = np.full((n - len(points), *points.shape[1:]), np.nan, np.float32)
    return np.concatenate([points, pad])


def check_voice(voice: str) -> str:
    """`voice` if it is one of VOICES, else an EvaluationError."""
    if voice not in VOICES:
        raise EvaluationError(f"voice must be one of {', '.join(VOICES)}, got {voice!r}")
    return voice


def voiced_split(split: ClipSplit, voice: str) -> ClipSplit:
    """The split the renderer sees: as it is for "own", with the target audio in another voice for "other"."""
    if check_voice(voice) == "own":
        return split
    from .voice import other_voice

    cut = split.cut
    t = time.monotonic()
    own = load_audio(split.target_audio, cut.audio_rate, mono=True)
    other = other_voice(own, cut.audio_rate).astype(np.float32)
    path = split.target_audio.with_name(f"{split.target_audio.stem}.other-voice.wav")
    write_wav(path, np.repeat(other[None, :], cut.channels, axis=0), cut.audio_rate)
    log.info("%s: target audio resynthesised in another voice in %.1f s", cut.source.name, time.monotonic() - t)
    return replace(split, target_audio=path)


def score(cut: ClipCut, clip_name: str, renderer: str, true_pts: np.ndarray, out_pts: np.ndarray,
          template_pts: np.ndarray, audio: np.ndarray, audio_rate: int) -> ClipReport:
    """The figures of one clip from its landmark series (image pixels, NaN where no face) and target audio."""
    m = cut.target_frames
    out_frames = len(out_pts)
    true_c = to_canonical_series(_fit_length(true_pts, m))
    out_c = to_canonical_series(_fit_length(out_pts, m))
    base_c = to_canonical_series(baseline_points(template_pts, m))
    open_true, open_out, open_base = (metrics.smoothed_opening(c) for c in (true_c, out_c, base_c))
    loud = loudness.frame_loudness(audio, audio_rate, cut.fps, m)
    silent = loudness.silent_frames(audio, audio_rate, cut.fps, m)
    ap = metrics.best_shift_corr(open_out, open_true)
    lo = metrics.best_shift_corr(open_true, loud)
    bl = metrics.best_shift_corr(open_base, open_true)
    return ClipReport(
        clip=clip_name, renderer=renderer, fps=cut.fps, frames=m, template_frames=cut.template_frames,
        duration_s=cut.target_s, short_clip=cut.short,
        mouth_lmd=metrics.mouth_lmd(out_c, true_c), aperture_r=ap.r, lag=ap.lag, aperture_r0=ap.r0,
        loudness_r=lo.r, loudness_lag=lo.lag, loudness_r0=lo.r0,
        silence_ratio=metrics.silence_ratio(open_out, silent),
        silence_ratio_true=metrics.silence_ratio(open_true, silent), silent_share=float(silent.mean()) if m else 0.0,
        baseline_lmd=metrics.mouth_lmd(base_c, true_c), baseline_r=bl.r, baseline_lag=bl.lag, baseline_r0=bl.r0,
        baseline_silence_ratio=metrics.silence_ratio(open_base, silent),
        faces_out=metrics.found_share(out_c), faces_true=metrics.found_share(true_c),
        faces_template=metrics.found_share(template_pts), out_frames=out_frames)


def flicker_of(src_change: np.ndarray, out_change: np.ndarray, k: int, n: int, m: int) -> flicker.FlickerFigures:
    """Flicker figures from per-frame change series: the output's first m frames against source frames 0..k-1.

    Only pairs inside one half count: template pairs (0,1)..(k-2,k-1), true pairs (k,k+1)..(n-2,n-1),
    output pairs (0,1)..(m-2,m-1).
    """
    return flicker.flicker_figures(out_change[1:m], src_change[1:k], src_change[k + 1:n])


def evaluate_clip(clip: str | os.PathLike[str], make_renderer: RendererFactory, workdir: str | os.PathLike[str],
                  workers: int = 1, landmark_cache: str | os.PathLike[str] | None = None,
                  sheet: bool = False, voice: str = "own") -> ClipEvaluation:
    """Run the protocol on one clip; intermediate files (template, target audio, output) go to workdir.

    voice "other" renders the target audio resynthesised in another voice (see the module doc).
    """
    started = time.monotonic()
    check_voice(voice)
    clip = Path(clip)
    info = probe(clip, "video")
    src = cached_track_video_with_change(clip, info.fps, landmark_cache, workers)
    src_pts = src.points
    cut = plan_cut(clip, n_decoded=len(src_pts))
    k, n, m = cut.template_frames, cut.n_frames, cut.target_frames
    template_pts, true_pts = src_pts[:k], src_pts[k:n]
    if not np.isfinite(true_pts).all(axis=(1, 2)).any():
        raise UnusableClipError(f"'{clip.name}': no face found in the second half; use a clip of a person talking "
                                "to camera")
    split = split_clip(clip, workdir, cut)
    seen = voiced_split(split, voice)
    renderer = make_renderer(seen)
    suffix = "" if voice == "own" else f".{voice}-voice"
    out = Path(workdir) / f"{clip.stem}.{renderer.name}{suffix}.mp4"
    t = time.monotonic()
    renderer(seen.template, seen.target_audio, out)
    log.info("%s: rendered with %s in %.1f s", clip.name, renderer.name, time.monotonic() - t)
    out_track = track_video_with_change(out, cut.fps, workers=workers)
    out_pts = out_track.points
    if len(out_pts) != m:
        log.warning("%s: the output has %d frames, the target %d; comparing the first %d", clip.name,
                    len(out_pts), m, min(len(out_pts), m))
    audio = load_audio(split.target_audio, loudness.ANALYSIS_RATE, mono=True)  # always the clip's own voice
    report = score(cut, clip.name, renderer.name, true_pts, out_pts, template_pts, audio, loudness.ANALYSIS_RATE)
    report.voice = voice
    forward = min(m, k, len(out_pts))
    report.psnr_outside = picture.psnr_outside_lower_face(out, seen.template, cut.fps, template_pts, forward)
    report.jitter_ratio = picture.jitter_ratio(out_pts[:forward], template_pts[:forward])
    report = replace(report, **asdict(flicker_of(src.change, out_track.change, k, n, m)))
    block = None
    if sheet:
        idx = sheet_indices(m)
        shown = renderer.name if voice == "own" else f"{renderer.name}, {voice} voice"
        title = (f"{clip.name}  [{shown}]  target frames 0..{m - 1} = clip frames {k}..{n - 1}"
                 f" ({cut.target_s:.1f} s{', SHORT' if cut.short else ''})  "
                 f"ap_r {report.aperture_r:.2f}  lmd {report.mouth_lmd:.3f}")
        block = SheetBlock(title=title, indices=idx,
                           out_crops=crops_at(iter_frames(out, cut.fps), out_pts, idx),
                           true_crops=crops_at(iter_clip_frames(cut, k, n), true_pts, idx))
    report.seconds = time.monotonic() - started
    return ClipEvaluation(report=report, block=block)


def evaluate_clips(clips: Sequence[str | os.PathLike[str]], make_renderer: RendererFactory, renderer_name: str,
                   workdir: str | os.PathLike[str] | None = None, workers: int = 1,
                   landmark_cache: str | os.PathLike[str] | None = None, sheet: bool = False,
                   on_record: Callable[[ClipReport | ClipFailure], None] | None = None,
                   voice: str = "own") -> RunResult:
    """Evaluate every clip (a failing clip is recorded and skipped) and summarise the medians."""
    check_voice(voice)
    result = RunResult()
    with tempfile.TemporaryDirectory(prefix="lipspool-eval-") as tmp:
        base = Path(workdir) if workdir else Path(tmp)
        for clip in clips:
            record: ClipReport | ClipFailure
            try:
                ev = evaluate_clip(clip, make_renderer, base / Path(clip).stem, workers, landmark_cache, sheet, voice)
            except EngineError as exc:
                log.error("%s: %s", Path(clip).name, exc)
                record = ClipFailure(clip=Path(clip).name, renderer=renderer_name, error=str(exc), voice=voice)
                result.failures.append(record)
            else:
                record = ev.report
                result.reports.append(ev.report)
                if ev.block is not None:
                    result.blocks.append(ev.block)
            if on_record is not None:
                on_record(record)
    result.summary = summarise(renderer_name, result.reports, failed=len(result.failures), voice=voice)
    return result
