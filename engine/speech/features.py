"""Short-time audio features on a 10 ms hop: speech-band loudness, voice activity and log-mel.

Everything here works on mono float samples at ANALYSIS_RATE (16 kHz) and returns one row per
hop; `at_frames` resamples a hop series to video frame times. The STFT and the mel filterbank are
librosa's, imported on first use (its imports take seconds and 150-200 MB).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

ANALYSIS_RATE = 16000
HOP_S = 0.010
WINDOW_S = 0.025
SPEECH_BAND_HZ = (100.0, 4000.0)
SILENCE_BELOW_PEAK_DB = 35.0  # QUALITY.md's silence: this far under the loudest window
BRIDGE_GAP_S = 0.150  # gaps shorter than this are inside speech (between-word dips)
MIN_SPEECH_S = 0.060  # bursts shorter than this are clicks, not speech
QUIET_DB = -60.0  # absolute floor (about -75 dBFS): digital silence and hiss are never speech


CHUNK_HOPS = 2000  # hops transformed at a time: memory stays flat for hour-long audio


def power_spectrum(samples: np.ndarray, rate: int = ANALYSIS_RATE) -> tuple[np.ndarray, np.ndarray]:
    """(power per hop and FFT bin, bin frequencies in Hz): Hann windows centred on k * HOP_S."""
    x = np.asarray(samples, np.float64)
    n = int(round(WINDOW_S * rate))
    hop = int(round(HOP_S * rate))
    hops = max(1, int(np.ceil(len(x) / hop)))
    padded = np.concatenate([np.zeros(n // 2), x, np.zeros(n)])
    spec = np.empty((hops, n // 2 + 1))
    for a in range(0, hops, CHUNK_HOPS):
        b = min(hops, a + CHUNK_HOPS)
        spec[a:b] = frame_power(padded[a * hop:(b - 1) * hop + n], n, hop)
    return spec, np.fft.rfftfreq(n, 1.0 / rate)


@lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    """The symmetric Hann window of n samples (np.hanning), read-only."""
    window = np.hanning(n)
    window.flags.writeable = False
    return window


def frame_power(segment: np.ndarray, n: int, hop: int) -> np.ndarray:
    """(frames, n // 2 + 1) |rfft|^2 / n of the symmetric-Hann-windowed n-sample frames every `hop` samples."""
    import librosa  # imported on first use: librosa's own imports take seconds

    if not np.isfinite(segment).all():  # a damaged float file: its NaN/inf samples are heard as silence
        segment = np.nan_to_num(segment, nan=0.0, posinf=0.0, neginf=0.0)
    stft = librosa.stft(segment, n_fft=n, hop_length=hop, window=_hann(n), center=False)
    return np.abs(stft.T) ** 2 / n


def band_db(spec: np.ndarray, freqs: np.ndarray, band: tuple[float, float] = SPEECH_BAND_HZ) -> np.ndarray:
    """Energy in a frequency band per hop, in dB."""
    sel = (freqs >= band[0]) & (freqs <= band[1])
    return 10.0 * np.log10(spec[:, sel].sum(axis=1) + 1e-12)


def relative_loudness(db: np.ndarray) -> np.ndarray:
    """Per hop: 0 at 35 dB under the speech level, 1 at the speech level (the 90th percentile of `db`)."""
    level = float(np.percentile(db, 90)) if db.size else 0.0
    return np.clip((db - (level - 35.0)) / 35.0, 0.0, 1.2)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def voice_activity(db: np.ndarray) -> np.ndarray:
    """Per hop: True where speech is heard (not 35 dB under the peak), short gaps bridged, clicks dropped."""
    if not db.size:
        return np.zeros(0, bool)
    peak = float(np.percentile(db, 99.5))
    active = db > max(peak - SILENCE_BELOW_PEAK_DB, QUIET_DB)
    for a, b in _runs(~active):
        if a > 0 and b < len(active) and (b - a) * HOP_S < BRIDGE_GAP_S:
            active[a:b] = True
    for a, b in _runs(active):
        if (b - a) * HOP_S < MIN_SPEECH_S:
            active[a:b] = False
    return active


def mel_filterbank(freqs: np.ndarray, n_mels: int = 40, fmin: float = 60.0, fmax: float = 7600.0) -> np.ndarray:
    """(n_mels, bins) unnormalised triangular filters evenly spaced on the HTK mel scale, for rfft bins `freqs`."""
    n_fft = 2 * (len(freqs) - 1)
    rate = 2.0 * float(freqs[-1]) if len(freqs) > 1 else 0.0
    if rate <= 0 or not np.allclose(freqs, np.fft.rfftfreq(n_fft, 1.0 / rate)):
        raise ValueError("freqs must be the bin frequencies of an even-length rfft (np.fft.rfftfreq)")
    return _htk_mel_bank(rate, n_fft, n_mels, float(fmin), float(fmax))


@lru_cache(maxsize=8)
def _htk_mel_bank(rate: float, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """librosa's HTK-scale, unnormalised mel filterbank in float64, read-only (built once per shape)."""
    import librosa

    bank = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=True, norm=None,
                               dtype=np.float64)
    bank.flags.writeable = False
    return bank


def log_mel(spec: np.ndarray, freqs: np.ndarray, n_mels: int = 40) -> np.ndarray:
    """(hops, n_mels) log mel energies."""
    return np.log(spec @ mel_filterbank(freqs, n_mels).T + 1e-10)


def at_frames(series: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """A per-hop series (hops, ...) averaged over each video frame's span [k, k+1) / fps."""
    s = np.asarray(series, np.float64)
    if not len(s):
        return np.zeros((n_frames, *s.shape[1:]))
    csum = np.concatenate([np.zeros((1, *s.shape[1:])), np.cumsum(s, axis=0)])
    edges = np.clip(np.round(np.arange(n_frames + 1) / fps / HOP_S).astype(int), 0, len(s))
    lo, hi = edges[:-1], np.maximum(edges[1:], np.minimum(edges[:-1] + 1, len(s)))
    lo = np.minimum(lo, hi - 1).clip(0)
    count = (hi - lo).reshape(-1, *([1] * (s.ndim - 1))).clip(1)
    return (csum[hi] - csum[lo]) / count


GATE_RAMP_S = 0.06  # the mouth closes within this after speech stops (and opens as fast)


def voice_gate(activity: np.ndarray) -> np.ndarray:
    """Voice activity as a 0..1 gate with GATE_RAMP_S ramps."""
    k = max(1, int(round(GATE_RAMP_S / HOP_S)))
    a = activity.astype(np.float64)
    kernel = np.ones(k) / k
    return np.clip(np.convolve(a, kernel, mode="same"), 0.0, 1.0)
