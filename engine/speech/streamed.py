"""The default front end on audio of any length: the `mouth-model` curves, computed chunk by chunk.

`predict_mouth_streamed` gives what `frontend.predict_mouth(samples, ..., "mouth-model")` gives,
for every feature set (STREAMED_FEATURE_SETS: the shipped default model, which hears no phones,
and the English one, which does), without ever holding the whole signal. It reads the sound
several times from a `SampleSource` (each pass decodes it again, in blocks) and keeps only
per-hop numbers with a few columns (speech-band dB; F1-F3 and F0), the recognised phones, and
per-frame numbers:

1. spectrum pass: the speech-band loudness per hop and the log-mel sums (for the recording's mean);
2. phone pass (`phones_stream`), for feature sets with phones: the English phones, recognised a
   minute at a time with a few seconds of context either side, cut at pauses;
3. pitch and formant passes (`formants_stream`), for feature sets with formants;
4. feature pass: log-mel again, now mean-normalised, the formants z-scored with the recording's
   voiced statistics, and the phone targets and class shares (`visemes.PhoneBlocks`), all
   averaged per video frame as they go (`FrameMeans`);
5. the model, over the per-frame features in blocks of frames.

The per-recording statistics (loudness level, voice activity threshold, mel mean, formant means
and deviations, formant ceiling) are the whole recording's, as in the one-piece computation. The
result is the same up to floating-point rounding for audio up to a minute (one Praat chunk; bit
for bit on the test recordings); beyond, only the formants near Praat chunk boundaries differ (`formants_stream`):
over 3 hours of speech the opening moved by at most 0.0013 (of 0..1.5) and the library mouth
chosen changed on 0.14 % of frames. With phones, the same holds up to a minute (one phone
chunk); beyond, the recogniser's decisions differ here and there, chiefly because it normalises
each chunk by that chunk's mean cepstrum (`phones_stream`): on 10 minutes of English speech with
the English model, 2.2 % of the 10 ms hops got another phone, and the opening moved by 0.003 on
average (0.18 at most, corr 0.992). Its decisions are as fickle on the whole signal: decoding just
the first 65 or 130 s changes 1.0 or 2.3 % of those hops.
Memory: about 80 bytes per 10 ms hop (110 with phones) plus about 250 per video frame (620 with
phones) and one chunk of samples, i.e. tens of MB per hour of audio instead of gigabytes: the
rewrite backend's preparation for 3 hours of narration peaks at 532 MB with the English model.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from .curves import MouthCurves
from .features import ANALYSIS_RATE, at_frames, band_db, log_mel, relative_loudness, voice_activity, voice_gate
from .formants import MIN_VOICED_HOPS, normalise_rows, voiced_logs
from .formants_stream import CHUNK_S, MARGIN_S, streamed_formant_tracks
from .frame_means import FrameMeans
from .frontend import model_curves
from .learned import CONTEXT, FEATURE_SETS, FORMANT_FEATURE_SETS, PHONE_FEATURE_SETS, default_model
from .phones_stream import CHUNK_S as PHONE_CHUNK_S
from .phones_stream import MARGIN_S as PHONE_MARGIN_S
from .phones_stream import streamed_phones
from .samples import SampleReader, SampleSource, SoundStats, measured
from .spectrum_stream import WINDOW, spectrum_blocks
from .visemes import PhoneBlocks

log = logging.getLogger(__name__)

STREAMED_FEATURE_SETS = FEATURE_SETS  # every mouth-model feature set, phones included
MEL_EVERY = 2  # the model uses every other log-mel band
MEL_SCALE = 5.0
FRAME_BLOCK = 8192  # video frames through the model at a time
TRACK_BLOCK = 100_000  # hops of formant tracks normalised at a time
ProgressFn = Callable[[float], None]
# progress reported after the spectrum, phone and formant passes, without and with phones (the
# phone recogniser, at about 16 times real time, is then the slowest pass by far)
STAGES = {False: (0.1, 0.1, 0.8), True: (0.03, 0.8, 0.95)}


def streams(model: object | None = None) -> bool:
    """Whether a mouth model (default: the shipped one) can run on streamed audio."""
    return (model or default_model()).feature_set in STREAMED_FEATURE_SETS  # type: ignore[attr-defined]


def predict_mouth_streamed(source: SampleSource, fps: float, n_frames: int, model: object | None = None,
                           progress: ProgressFn | None = None, chunk_s: float = CHUNK_S,
                           margin_s: float = MARGIN_S, phone_chunk_s: float = PHONE_CHUNK_S,
                           phone_margin_s: float = PHONE_MARGIN_S) -> MouthCurves:
    """The `mouth-model` front end's curves for n_frames video frames, reading the audio in passes.

    `source` yields mono float samples at ANALYSIS_RATE (see `samples`); `model` is a MouthModel
    (default: the shipped one); progress(fraction) is called between passes (and between phone
    chunks); chunk_s and margin_s size the Praat chunks (`formants_stream`), phone_chunk_s and
    phone_margin_s the phone recogniser's (`phones_stream`).
    """
    m = model or default_model()
    if m.feature_set not in STREAMED_FEATURE_SETS:  # type: ignore[attr-defined]
        raise ValueError(f"unknown mouth model feature set {m.feature_set!r}; "  # type: ignore[attr-defined]
                         f"streaming works for {', '.join(STREAMED_FEATURE_SETS)}")
    report = progress or (lambda fraction: None)
    if n_frames <= 0:
        return MouthCurves.closed(fps, 0)
    started = time.monotonic()
    formants = m.feature_set in FORMANT_FEATURE_SETS  # type: ignore[attr-defined]
    phones = m.feature_set in PHONE_FEATURE_SETS  # type: ignore[attr-defined]
    after_spectrum, after_phones, after_formants = STAGES[phones]
    stats = SoundStats()
    db, mel_mean = _spectrum_pass(measured(source, stats))
    report(after_spectrum)
    activity = voice_activity(db)
    if stats.n == 0 or not activity.any():
        return MouthCurves.closed(fps, n_frames)
    blocks = None
    if phones:
        segments = streamed_phones(source, stats, db, phone_chunk_s, phone_margin_s,
                                   lambda f: report(after_spectrum + (after_phones - after_spectrum) * f))
        blocks = PhoneBlocks(segments, stats.n / ANALYSIS_RATE)
    tracks = streamed_formant_tracks(source, stats, len(db), chunk_s, margin_s) if formants else None
    report(after_formants)
    loud, gate = relative_loudness(db), voice_gate(activity)
    mel, formant_frames, phone_frames, rounding = _feature_pass(source, mel_mean, tracks, blocks, loud, gate,
                                                               fps, n_frames)
    parts = [at_frames(loud, fps, n_frames), at_frames(gate, fps, n_frames), mel]
    parts += [x for x in (formant_frames, phone_frames) if x is not None]
    outputs = _model_outputs(m, parts)
    report(1.0)
    log.info("mouth model on %.0f s of streamed audio in %.1f s", stats.n / ANALYSIS_RATE, time.monotonic() - started)
    # rounding from the phones only where the model hears them anyway, as frontend._mouth_model
    rounding = rounding if rounding is not None else np.zeros(n_frames)
    return model_curves(m, outputs, activity, rounding, fps, n_frames)


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


def _feature_pass(source: SampleSource, mel_mean: np.ndarray, tracks: np.ndarray | None,
                  blocks: PhoneBlocks | None, loud: np.ndarray, gate: np.ndarray, fps: float,
                  n_frames: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Per video frame: the normalised log-mel bands the model uses, the normalised formants, the phone
    columns (targets, loudness-scaled opening, gated class shares, as learned.hop_features stacks
    them) and the gated phone rounding; None for what the feature set lacks."""
    reader = SampleReader(source)
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / ANALYSIS_RATE)
    mel_frames = FrameMeans(fps, n_frames)
    formant_frames = FrameMeans(fps, n_frames) if tracks is not None else None
    phone_frames = FrameMeans(fps, n_frames) if blocks is not None else None
    round_frames = FrameMeans(fps, n_frames) if blocks is not None else None
    mean, std = formant_stats(tracks) if tracks is not None else (None, None)
    try:
        for h0, spec in spectrum_blocks(reader):
            h1 = h0 + len(spec)
            mel = log_mel(spec, freqs) - mel_mean[None, :]
            mel_frames.add(mel[:, ::MEL_EVERY] / MEL_SCALE)
            if formant_frames is not None:
                formant_frames.add(normalise_rows(tracks[h0:h1], mean, std))
            if blocks is not None:  # the phone curves have at least these hops (visemes.phone_hops)
                targets, classes = blocks.block(h0, h1)
                phone_frames.add(np.column_stack([targets, targets[:, 0] * loud[h0:h1],
                                                  classes * gate[h0:h1, None]]))
                round_frames.add(targets[:, 2] * gate[h0:h1])
    finally:
        reader.close()
    return (mel_frames.finish(), *(f.finish() if f is not None else None
                                   for f in (formant_frames, phone_frames, round_frames)))


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


def _model_outputs(model: object, parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's (opening, width z, shape) for per-frame features (the columns of `parts`, side by
    side), CONTEXT frames either side, in blocks (the columns are never stacked for every frame at once)."""
    n = len(parts[0])
    offsets = np.arange(-CONTEXT, CONTEXT + 1)[None, :]
    out = []
    for a in range(0, n, FRAME_BLOCK):
        b = min(n, a + FRAME_BLOCK)
        lo, hi = max(0, a - CONTEXT), min(n, b + CONTEXT)
        frames = np.column_stack([p[lo:hi] for p in parts])
        idx = np.clip(np.arange(a, b)[:, None] + offsets, 0, n - 1) - lo
        out.append(model.curves(frames[idx].reshape(b - a, -1)))  # type: ignore[attr-defined]
    return (np.concatenate([p[0] for p in out]), np.concatenate([p[1] for p in out]),
            np.concatenate([p[2] for p in out]))
