"""The default front end on audio of any length: the `mouth-model` curves, computed chunk by chunk.

`predict_mouth_streamed` gives what `frontend.predict_mouth(samples, ..., "mouth-model")` gives for
a model that hears no phones (feature sets in STREAMED_FEATURE_SETS, the shipped default among
them), without ever holding the whole signal. It reads the sound several times from a
`SampleSource` (each pass decodes it again, in blocks) and keeps only per-hop numbers with a few
columns (speech-band dB; F1-F3 and F0) and per-frame ones:

1. spectrum pass: the speech-band loudness per hop and the log-mel sums (for the recording's mean);
2. pitch and formant passes (`formants_stream`), for feature sets with formants;
3. feature pass: log-mel again, now mean-normalised, and the formants z-scored with the
   recording's voiced statistics, both averaged per video frame as they go (`FrameMeans`);
4. the model, over the per-frame features in blocks of frames.

The per-recording statistics (loudness level, voice activity threshold, mel mean, formant means
and deviations, formant ceiling) are the whole recording's, as in the one-piece computation. The
result is the same up to floating-point rounding for audio up to a minute (one Praat chunk; bit
for bit on the test recordings); beyond, only the formants near Praat chunk boundaries differ (`formants_stream`):
over 3 hours of speech the opening moved by at most 0.0013 (of 0..1.5) and the library mouth
chosen changed on 0.14 % of frames. Memory: about 80 bytes per 10 ms hop plus about 250 per
video frame and one chunk of samples, i.e. tens of MB per hour of audio instead of gigabytes.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from .curves import MouthCurves
from .features import ANALYSIS_RATE, at_frames, band_db, log_mel, relative_loudness, voice_activity
from .formants import MIN_VOICED_HOPS, normalise_rows, voiced_logs
from .formants_stream import CHUNK_S, MARGIN_S, streamed_formant_tracks
from .frame_means import FrameMeans
from .frontend import _gate, model_curves
from .learned import CONTEXT, FORMANT_FEATURE_SETS, default_model
from .samples import SampleReader, SampleSource, SoundStats, measured
from .spectrum_stream import WINDOW, spectrum_blocks

log = logging.getLogger(__name__)

STREAMED_FEATURE_SETS = ("no-phones", "mel")  # the mouth-model feature sets that need no phone recogniser
MEL_EVERY = 2  # the model uses every other log-mel band
MEL_SCALE = 5.0
FRAME_BLOCK = 8192  # video frames through the model at a time
TRACK_BLOCK = 100_000  # hops of formant tracks normalised at a time
ProgressFn = Callable[[float], None]


def streams(model: object | None = None) -> bool:
    """Whether a mouth model (default: the shipped one) can run on streamed audio (it hears no phones)."""
    return (model or default_model()).feature_set in STREAMED_FEATURE_SETS  # type: ignore[attr-defined]


def predict_mouth_streamed(source: SampleSource, fps: float, n_frames: int, model: object | None = None,
                           progress: ProgressFn | None = None, chunk_s: float = CHUNK_S,
                           margin_s: float = MARGIN_S) -> MouthCurves:
    """The `mouth-model` front end's curves for n_frames video frames, reading the audio in passes.

    `source` yields mono float samples at ANALYSIS_RATE (see `samples`); `model` is a MouthModel
    whose feature set is in STREAMED_FEATURE_SETS (default: the shipped one); progress(fraction)
    is called between passes; chunk_s and margin_s size the Praat chunks (`formants_stream`).
    """
    m = model or default_model()
    if m.feature_set not in STREAMED_FEATURE_SETS:  # type: ignore[attr-defined]
        raise ValueError(f"the mouth model's feature set {m.feature_set!r} needs the whole signal; "  # type: ignore[attr-defined]
                         f"streaming works for {', '.join(STREAMED_FEATURE_SETS)}")
    report = progress or (lambda fraction: None)
    if n_frames <= 0:
        return MouthCurves.closed(fps, 0)
    started = time.monotonic()
    stats = SoundStats()
    db, mel_mean = _spectrum_pass(measured(source, stats))
    report(0.1)
    activity = voice_activity(db)
    if stats.n == 0 or not activity.any():
        return MouthCurves.closed(fps, n_frames)
    formants = m.feature_set in FORMANT_FEATURE_SETS  # type: ignore[attr-defined]
    tracks = streamed_formant_tracks(source, stats, len(db), chunk_s, margin_s) if formants else None
    report(0.8)
    mel, formant_frames = _feature_pass(source, mel_mean, tracks, fps, n_frames)
    parts = [at_frames(relative_loudness(db), fps, n_frames), at_frames(_gate(activity), fps, n_frames), mel]
    if formant_frames is not None:
        parts.append(formant_frames)
    outputs = _model_outputs(m, np.column_stack(parts))
    report(1.0)
    log.info("mouth model on %.0f s of streamed audio in %.1f s", stats.n / ANALYSIS_RATE, time.monotonic() - started)
    return model_curves(m, outputs, activity, np.zeros(n_frames), fps, n_frames)


def _spectrum_pass(source: SampleSource) -> tuple[np.ndarray, np.ndarray]:
    """(speech-band dB per hop, the recording's mean log-mel per band)."""
    reader = SampleReader(source)
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / ANALYSIS_RATE)
    db, mel_sum, hops = [], None, 0
    try:
        for _, spec in spectrum_blocks(reader):
            db.append(band_db(spec, freqs))
            mel = log_mel(spec, freqs)
            start = mel_sum[None] if mel_sum is not None else np.zeros((1, mel.shape[1]))
            mel_sum = np.add.reduce(np.concatenate([start, mel]), axis=0)  # row by row, as mean(axis=0) adds
            hops += len(mel)
    finally:
        reader.close()
    return np.concatenate(db), mel_sum / hops


def _feature_pass(source: SampleSource, mel_mean: np.ndarray, tracks: np.ndarray | None, fps: float,
                  n_frames: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Per video frame: the normalised log-mel bands the model uses, and the normalised formants."""
    reader = SampleReader(source)
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / ANALYSIS_RATE)
    mel_frames = FrameMeans(fps, n_frames)
    formant_frames = FrameMeans(fps, n_frames) if tracks is not None else None
    mean, std = formant_stats(tracks) if tracks is not None else (None, None)
    try:
        for h0, spec in spectrum_blocks(reader):
            mel = log_mel(spec, freqs) - mel_mean[None, :]
            mel_frames.add(mel[:, ::MEL_EVERY] / MEL_SCALE)
            if formant_frames is not None:
                formant_frames.add(normalise_rows(tracks[h0:h0 + len(spec)], mean, std))
    finally:
        reader.close()
    return mel_frames.finish(), formant_frames.finish() if formant_frames is not None else None


def formant_stats(tracks: np.ndarray, block: int = TRACK_BLOCK) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The voiced hops' log formant mean and standard deviation, as normalised_formants computes them
    over the whole array, in blocks of hops (None, None when too few hops are voiced)."""
    count, total = 0, np.zeros((1, 5))
    for a in range(0, len(tracks), block):
        voiced, logs = voiced_logs(tracks[a:a + block])
        count += int(voiced.sum())
        total = np.add.reduce(np.concatenate([total, logs[voiced]]), axis=0, keepdims=True)
    if count < MIN_VOICED_HOPS:
        return None, None
    mean = total / count
    squares = np.zeros((1, 5))
    for a in range(0, len(tracks), block):
        voiced, logs = voiced_logs(tracks[a:a + block])
        d = logs[voiced] - mean
        squares = np.add.reduce(np.concatenate([squares, d * d]), axis=0, keepdims=True)
    return mean[0], np.sqrt(squares[0] / count)


def _model_outputs(model: object, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's (opening, width z, shape) for per-frame features, CONTEXT frames either side, in blocks."""
    n = len(frames)
    offsets = np.arange(-CONTEXT, CONTEXT + 1)[None, :]
    parts = []
    for a in range(0, n, FRAME_BLOCK):
        b = min(n, a + FRAME_BLOCK)
        idx = np.clip(np.arange(a, b)[:, None] + offsets, 0, n - 1)
        parts.append(model.curves(frames[idx].reshape(b - a, -1)))  # type: ignore[attr-defined]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))
