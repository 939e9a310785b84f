"""QUALITY.md's pause test: does the mouth close when nobody speaks?

Take a speech recording, insert digital silences (0.4, 0.8 and 1.5 s by default) at quiet points
between words, render it onto a presenter video, find the output's landmarks on every frame and
measure its mouth opening (`metrics.smoothed_opening` of the canonical landmarks) inside each
pause, leaving out its first and last 100 ms. `pause_ratio` is that mean divided by the mean
opening over the output's speech frames (0 is a closed mouth; lower is better). Per pause also:
`closed_by_ms`, how long after the pause starts the opening first falls under 30 % of the speech
mean (null: not inside the pause), and `reopens`, whether it comes back above 50 % of the speech
mean within 300 ms after the pause ends (it should: the speech goes on).

A quiet point is a local minimum (within +-100 ms) of the 100-4000 Hz band energy on a 10 ms hop,
with speech within 300 ms on both sides (a gap between words, not a long silence already there),
at least 0.5 s inside the first and last sound and at least 1 s from the other chosen points;
of the sets of such points, the one with the lowest summed band energy (dB) is taken. Each
pause is cut in with a 5 ms fade on either side.

Frame k of the output is shown at k / fps; a frame is inside a pause when that time is. The
opening is absolute, so a face whose shut lips still show a gap between the inner-lip points
cannot reach 0 (the synthetic test face rests at about 0.6 of its speech mean).
"""
from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import EngineError

from . import loudness
from .errors import EvaluationError, UnusableClipError
from .renderers import BackendRenderer, Renderer
from .report import JsonLine, LineSink

log = logging.getLogger(__name__)

PAUSE_SCHEMA = 1
PAUSES_S = (0.4, 0.8, 1.5)
LOCAL_S = 0.100  # a quiet point is the lowest band energy within this much either side
CONTEXT_S = 0.300  # ... with speech within this much either side
EDGE_S = 0.5  # ... this far inside the first and last sound
MIN_GAP_S = 1.0  # ... and this far from the other pauses
FADE_S = 0.005
TRIM_S = 0.100  # left out at each end of a pause when averaging the opening in it
CLOSED_SHARE = 0.30  # closed: opening under this share of the speech mean
REOPEN_SHARE = 0.50  # reopened: opening over this share of the speech mean ...
REOPEN_S = 0.300  # ... within this long after the pause
PauseSpan = tuple[float, float]


@dataclass
class PauseReport(JsonLine):
    """The pause test on one presenter video (QUALITY.md, "Pauses"); openings in canonical units."""

    video: str = ""
    backend: str = ""
    speech: str = ""
    # per pause: start_s, end_s, length_s, mean_opening, ratio, closed_by_ms (None: not closed in it), reopens
    pauses: list[dict[str, Any]] = field(default_factory=list)
    pause_ratio: float = float("nan")  # mean opening inside the pauses / mean over speech frames
    speech_mean_opening: float = float("nan")
    pause_mean_opening: float = float("nan")
    frames: int = 0  # output frames measured
    faces_out: float = 0.0  # share of output frames with a face
    fps: float = 0.0
    seconds: float = 0.0
    kind: str = "pause"
    schema: int = PAUSE_SCHEMA


@dataclass
class PauseFailure(JsonLine):
    """A video the pause test could not be run on, and why."""

    video: str
    backend: str
    error: str
    kind: str = "error"
    schema: int = PAUSE_SCHEMA


@dataclass
class PauseSummary(JsonLine):
    """The median and worst pause_ratio over the videos that were measured."""

    backend: str
    speech: str
    videos: int
    failed: int
    median_pause_ratio: float
    max_pause_ratio: float
    kind: str = "pause-summary"
    schema: int = PAUSE_SCHEMA


def _local_minima(db: np.ndarray, half: int) -> np.ndarray:
    """True where db is the lowest value within `half` hops either side."""
    padded = np.concatenate([np.full(half, np.inf), db, np.full(half, np.inf)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return db <= windows.min(axis=1)


def _speech_near(speech: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Per hop: is there speech within `reach` hops before it, and within `reach` hops after it."""
    counts = np.concatenate([[0], np.cumsum(speech)])
    idx = np.arange(len(speech))
    before = counts[idx] - counts[np.maximum(idx - reach, 0)] > 0
    after = counts[np.minimum(idx + 1 + reach, len(speech))] - counts[idx + 1] > 0
    return before, after


def quiet_points(samples: np.ndarray, rate: int, count: int) -> list[int]:
    """Sample indices, in time order, of the `count` quietest points between words (see module doc)."""
    if count <= 0:
        return []
    x = np.asarray(samples, np.float64)
    hop = loudness.SILENCE_HOP_S
    hops = np.arange(0.0, len(x) / rate, hop)
    if not hops.size or not np.any(x):
        raise EvaluationError("the speech recording is empty or silent; give a recording of someone talking")
    db = loudness.band_energy_db(x, rate, hops)
    speech = db > db.max() - loudness.SILENCE_DB
    first, last = np.flatnonzero(speech)[[0, -1]]
    before, after = _speech_near(speech, round(CONTEXT_S / hop))
    idx = np.arange(len(db))
    inside = (idx >= first + round(EDGE_S / hop)) & (idx <= last - round(EDGE_S / hop))
    candidates = np.flatnonzero(_local_minima(db, round(LOCAL_S / hop)) & before & after & inside)
    chosen = _quietest_spread(candidates, db[candidates], count, round(MIN_GAP_S / hop))
    if chosen is None:
        need = (count - 1) * MIN_GAP_S + 2 * EDGE_S + 1.0
        raise EvaluationError(f"found no {count} quiet points between words at least {MIN_GAP_S:g} s apart "
                              f"({len(candidates)} quiet points in all); use a longer speech recording "
                              f"(at least {need:g} s of talking)")
    return [min(round(hops[i] * rate), len(x)) for i in chosen]


def _quietest_spread(idx: np.ndarray, cost: np.ndarray, count: int, gap: int) -> list[int] | None:
    """The `count` of the candidates `idx` (ascending) at least `gap` apart with the lowest summed cost,
    in time order; None when no such set exists."""
    m = len(idx)
    if m < count:
        return None
    reach = np.searchsorted(idx, idx - gap, side="right")  # candidates [0, reach[i]) lie >= gap before i
    best = np.asarray(cost, np.float64).copy()  # lowest sum of a chain of k candidates ending at i
    links: list[np.ndarray] = []
    for _ in range(count - 1):
        run_min = np.minimum.accumulate(best)
        run_arg = np.maximum.accumulate(np.where(best == run_min, np.arange(m), 0))
        ok = reach > 0
        new, link = np.full(m, np.inf), np.full(m, -1)
        new[ok] = cost[ok] + run_min[reach[ok] - 1]
        link[ok] = run_arg[reach[ok] - 1]
        best = new
        links.append(link)
    if not np.isfinite(best).any():
        return None
    i = int(np.argmin(best))
    chain = [i]
    for link in reversed(links):
        i = int(link[i])
        chain.append(i)
    return sorted(int(idx[k]) for k in chain)


def insert_pauses(samples: np.ndarray, rate: int,
                  pauses_s: Sequence[float] = PAUSES_S) -> tuple[np.ndarray, list[PauseSpan]]:
    """Mono speech with digital silences of the given lengths (in time order) cut in at its quietest
    points between words, and where each pause lies in the new signal as (start_s, end_s)."""
    x = np.asarray(samples, np.float32)
    if x.ndim != 1:
        raise EvaluationError(f"insert_pauses takes mono samples, got shape {x.shape}")
    if any(not p > 0 for p in pauses_s):
        raise EvaluationError(f"pause lengths must be positive seconds, got {list(pauses_s)}")
    points = quiet_points(x, rate, len(pauses_s))
    faded = x.copy()
    n_fade = max(1, round(FADE_S * rate))
    ramp = (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n_fade))).astype(np.float32)  # 1 -> 0
    pieces: list[np.ndarray] = []
    spans: list[PauseSpan] = []
    pos, out_len = 0, 0
    for point, length in zip(points, pauses_s):
        lo, hi = max(point - n_fade, 0), min(point + n_fade, len(x))
        faded[lo:point] *= ramp[n_fade - (point - lo):]
        faded[point:hi] *= ramp[::-1][:hi - point]
        silence = np.zeros(round(length * rate), np.float32)
        pieces += [faded[pos:point], silence]
        out_len += point - pos
        spans.append((out_len / rate, (out_len + len(silence)) / rate))
        out_len += len(silence)
        pos = point
    pieces.append(faded[pos:])
    return np.concatenate(pieces), spans


def _frames_in(times: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """True for frame times in [lo, hi) (a microsecond of slack for rounding)."""
    return (times >= lo - 1e-6) & (times < hi - 1e-6)


def _mean(values: np.ndarray) -> float:
    """Mean of the finite values; NaN when there are none."""
    v = values[np.isfinite(values)]
    return float(v.mean()) if v.size else float("nan")


def _ratio(a: float, b: float) -> float:
    """a / b, NaN unless both are finite and b > 0."""
    return a / b if np.isfinite(a) and np.isfinite(b) and b > 0 else float("nan")


def pause_figures(opening: np.ndarray, fps: float, pauses: Sequence[PauseSpan],
                  speech_mask: np.ndarray) -> PauseReport:
    """The pause figures from a per-frame opening (NaN: no face), the pauses in seconds and the speech frames."""
    x = np.asarray(opening, np.float64)
    times = np.arange(len(x)) / float(fps)
    speech = np.asarray(speech_mask, bool)[: len(x)]
    speech = np.concatenate([speech, np.zeros(len(x) - len(speech), bool)])
    speech_mean = _mean(x[speech])
    rows: list[dict[str, Any]] = []
    inside_all = np.zeros(len(x), bool)
    for start, end in pauses:
        inside = _frames_in(times, start + TRIM_S, end - TRIM_S)
        inside_all |= inside
        during = _frames_in(times, start, end) & np.isfinite(x)
        closed = np.flatnonzero(during & (x < CLOSED_SHARE * speech_mean)) if np.isfinite(speech_mean) else []
        after = (times >= end - 1e-6) & (times <= end + REOPEN_S + 1e-6) & np.isfinite(x)
        mean = _mean(x[inside])
        rows.append({"start_s": start, "end_s": end, "length_s": end - start, "mean_opening": mean,
                     "ratio": _ratio(mean, speech_mean),
                     "closed_by_ms": float((times[closed[0]] - start) * 1000.0) if len(closed) else None,
                     "reopens": bool(np.isfinite(speech_mean) and (x[after] > REOPEN_SHARE * speech_mean).any())})
    pause_mean = _mean(x[inside_all])
    return PauseReport(pauses=rows, pause_ratio=_ratio(pause_mean, speech_mean), speech_mean_opening=speech_mean,
                       pause_mean_opening=pause_mean, frames=len(x), fps=float(fps),
                       faces_out=float(np.isfinite(x).mean()) if len(x) else 0.0)


def speech_frames(samples: np.ndarray, rate: int, fps: float, n_frames: int,
                  pauses: Sequence[PauseSpan]) -> np.ndarray:
    """Per frame: True where the audio is speech (not silent in the `loudness` sense, not in a pause)."""
    mask = ~loudness.silent_frames(samples, rate, fps, n_frames)
    times = np.arange(n_frames) / float(fps)
    for start, end in pauses:
        mask &= ~_frames_in(times, start, end)
    return mask


def _speech_rate(speech: Path) -> int:
    """The rate to work at: the recording's own when AAC can carry it, else 48 kHz."""
    from engine.media.audio import AAC_RATES
    from engine.media.probe import probe

    info = probe(speech, "audio")
    if not info.has_audio:
        raise EvaluationError(f"'{speech.name}' has no audio; --speech takes a recording of someone talking")
    return info.audio_rate if info.audio_rate in AAC_RATES else 48000


def run_pause_test(video: str | os.PathLike[str], speech: str | os.PathLike[str], renderer: str | Renderer,
                   options: dict[str, Any] | None = None, workdir: str | os.PathLike[str] | None = None,
                   workers: int = 1, pauses_s: Sequence[float] = PAUSES_S) -> PauseReport:
    """Render `speech` with pauses cut in onto `video` (a backend name with options, or a Renderer),
    track the output and score its mouth in the pauses; files go to workdir (default: a temporary folder)."""
    from engine.faces.canonical import to_canonical_series
    from engine.media.audio import load_audio, write_wav
    from engine.media.probe import probe

    from .metrics import smoothed_opening
    from .tracking import track_video

    started = time.monotonic()
    video, speech = Path(video), Path(speech)
    for path, what in ((video, "presenter video"), (speech, "speech recording")):
        if not path.is_file():
            raise EvaluationError(f"{what} not found: {path}")
    make = BackendRenderer(renderer, dict(options or {})) if isinstance(renderer, str) else renderer
    with tempfile.TemporaryDirectory(prefix="lipspool-pauses-") as tmp:
        folder = Path(workdir) if workdir else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        rate = _speech_rate(speech)
        paused, pauses = insert_pauses(load_audio(speech, rate, mono=True), rate, pauses_s)
        wav = write_wav(folder / f"{speech.stem}.paused.wav", paused[None, :], rate)
        log.info("%s: pauses of %s s cut in; they start at %s s of the paused speech", speech.name,
                 ", ".join(f"{p:g}" for p in pauses_s), ", ".join(f"{s:.2f}" for s, _ in pauses))
        fps = probe(video, "video").fps
        out = folder / f"{video.stem}.{make.name}.paused.mp4"
        make(video, wav, out)
        points = track_video(out, fps, workers=workers)
    if not np.isfinite(points).all(axis=(1, 2)).any():
        raise UnusableClipError(f"no face found in the output for '{video.name}'; use a presenter video with a "
                                "face to camera")
    opening = smoothed_opening(to_canonical_series(points))
    report = pause_figures(opening, fps, pauses, speech_frames(paused, rate, fps, len(opening), pauses))
    return replace(report, video=video.name, backend=make.name, speech=speech.name,
                   seconds=time.monotonic() - started)


def summarise_pauses(backend: str, speech: str, reports: Sequence[PauseReport], failed: int = 0) -> PauseSummary:
    """The summary line: median and max pause_ratio over the videos with a finite one."""
    ratios = np.array([r.pause_ratio for r in reports], np.float64)
    ratios = ratios[np.isfinite(ratios)]
    return PauseSummary(backend=backend, speech=speech, videos=len(reports), failed=failed,
                        median_pause_ratio=float(np.median(ratios)) if ratios.size else float("nan"),
                        max_pause_ratio=float(ratios.max()) if ratios.size else float("nan"))


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the pausetest command's arguments to a (sub)parser."""
    from engine.options import RenderOptions

    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="presenter videos to render the speech onto")
    parser.add_argument("--speech", required=True, metavar="WAV",
                        help="a speech recording (any audio file); pauses of 0.4, 0.8 and 1.5 s are cut in")
    parser.add_argument("--backend", required=True, help="backend to test (see `backends`)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra render option for the backend (repeatable), e.g. front_end=phones")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache for the renderer (default: none kept)")
    parser.add_argument("--json-out", metavar="FILE", help="also write the JSON lines to FILE")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="keep the paused speech and the outputs here (default: a temporary folder)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--crf", type=int, default=RenderOptions.crf, help="x264 quality of the outputs")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for landmark detection (default: up to 2)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the pausetest command from parsed arguments: a JSON line per video, then a summary line."""
    from engine.backends import get_backend
    from engine.options import parse_option_pairs

    missing = [v for v in [*args.videos, args.speech] if not Path(v).is_file()]
    if missing:
        raise EngineError(f"file not found: {', '.join(missing)}")
    get_backend(args.backend)  # fail now, not once per video
    extra = parse_option_pairs(args.option)
    reports: list[PauseReport] = []
    failed = 0
    with LineSink(args.json_out) as emit:
        with tempfile.TemporaryDirectory(prefix="lipspool-pausecache-") as tmp_cache:
            options = {"device": args.device, "crf": args.crf, "cache_dir": str(args.cache_dir or tmp_cache),
                       **extra}
            for video in args.videos:
                workdir = Path(args.work_dir) / Path(video).stem if args.work_dir else None
                try:
                    report = run_pause_test(video, args.speech, args.backend, options, workdir,
                                            workers=max(1, args.workers))
                except EngineError as exc:
                    log.error("%s: %s", Path(video).name, exc)
                    failed += 1
                    emit(PauseFailure(video=Path(video).name, backend=args.backend, error=str(exc)).to_json())
                else:
                    reports.append(report)
                    emit(report.to_json())
        emit(summarise_pauses(args.backend, Path(args.speech).name, reports, failed).to_json())
    return 0 if reports else 1
