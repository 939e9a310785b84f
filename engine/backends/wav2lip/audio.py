"""Wav2Lip's audio front end: the mel spectrogram the official model was trained on, and its per-frame chunks.

The official inference path (Wav2Lip's audio.py with its hparams, under the librosa 0.7.0 the project pinned),
on librosa's STFT and mel filterbank (imported on first use: librosa's own imports take seconds):

- pre-emphasis 0.97 with zero initial state (y[0] = x[0]), in float64;
- STFT with n_fft 800, hop 200, a periodic Hann window of 800, centred frames padded by 400 samples on each
  side in ``reflect`` mode (librosa 0.7's default; librosa >= 0.10 pads with zeros unless told
  ``pad_mode="reflect"``, which changes the first two and last two frames), magnitude (not power);
- librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600): Slaney scale and normalisation, float32;
- 20*log10(max(1e-5, mel)) - 20 dB, then symmetric normalisation clipped to [-4, 4] (silence is -4);
- one 16-frame chunk (200 ms) per video frame starting at int(i * (80 / fps)), the tail chunk past the end.

Where it differs from the official code:

- Resampling. The official code loads with librosa.load(sr=16000), which under librosa 0.7 resamples with resampy's
  kaiser_best; our audio loader resamples with ffmpeg's resampler. 16 kHz input is unaffected; for other rates the
  samples, and so the mel values, differ slightly (different resampling filters). ffmpeg's stays: on 24, 44.1 and
  48 kHz speech its mel is closer to kaiser_best's than that of librosa's current default (soxr_hq), by about a third.
- Precision. librosa 0.7 computed the STFT in complex64 and the filterbank product in float32; here both are float64
  (the result is returned as float32). Differences are of the order of float32 rounding.
- Memory. The STFT is computed in blocks of frames, with pre-emphasis and reflect padding applied per block (the
  same samples librosa.stft's ``center=True, pad_mode="reflect"`` frames), so a 3-hour track needs no full-length
  float64 copy and no full (401, T) magnitude array. Block borders do not change any value.
- Errors. Too short audio (fewer than 16 mel frames) raises AudioTooShort instead of building a malformed chunk,
  and non-finite samples raise InvalidAudio before anything is computed.
"""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 800
HOP = 200
WIN = 800
N_MELS = 80
FMIN = 55.0
FMAX = 7600.0
PREEMPHASIS = 0.97
MIN_LEVEL_DB = -100
REF_LEVEL_DB = 20
MAX_ABS = 4.0
MEL_STEP = 16
MEL_PER_SECOND = 80
N_BINS = 1 + N_FFT // 2
MIN_SAMPLES = (MEL_STEP - 1) * HOP  # 3000 samples (0.1875 s) give 16 mel frames

_PAD = N_FFT // 2
_BLOCK_FRAMES = 4096  # frames per STFT block: about 26 MB of float64 windows at a time


class AudioTooShort(ValueError):
    """The audio is too short for Wav2Lip (fewer than 16 mel frames, or too short to reflect-pad)."""


class InvalidAudio(ValueError):
    """The samples cannot be analysed: not a 1-D float array, or containing NaN or infinite values."""


def preemphasis(x: np.ndarray) -> np.ndarray:
    """Pre-emphasis filter y[n] = x[n] - 0.97 x[n-1] with y[0] = x[0], in float64."""
    x64 = np.asarray(x, dtype=np.float64)
    y = np.empty_like(x64)
    if x64.size:
        y[0] = x64[0]
        y[1:] = x64[1:] - PREEMPHASIS * x64[:-1]
    return y


def hann_periodic(n: int = WIN) -> np.ndarray:
    """The periodic (DFT-even) Hann window 0.5 - 0.5 cos(2 pi k / n), k = 0..n-1: librosa's (scipy's) 'hann'."""
    import librosa

    return librosa.filters.get_window("hann", n, fftbins=True)


def frame_count(n_samples: int) -> int:
    """Number of centred STFT frames (mel frames) for n_samples: 1 + n_samples // 200."""
    return 1 + n_samples // HOP


def _check_samples(samples: np.ndarray) -> np.ndarray:
    """The samples as a 1-D float array, or InvalidAudio for other shapes, dtypes and non-finite values."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise InvalidAudio(f"expected mono samples (a 1-D array), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise InvalidAudio(f"expected float samples in [-1, 1], got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise InvalidAudio("the audio contains NaN or infinite samples; re-export it (or add a tiny noise) and retry")
    return x


def _reflect_index(j: np.ndarray, n: int) -> np.ndarray:
    """Indices of the signal for positions j in [-400, n + 400) under numpy's single 'reflect' padding."""
    j = np.abs(j)
    return np.where(j >= n, 2 * (n - 1) - j, j)


def _padded_segment(x: np.ndarray, a: int, b: int, emphasise: bool) -> np.ndarray:
    """Samples a..b-1 of the reflect-padded (and, if asked, pre-emphasised) signal, in float64."""
    n = x.shape[0]
    j0, j1 = a - _PAD, b - _PAD
    if j0 >= 1 and j1 <= n:
        cur = x[j0:j1].astype(np.float64)
        if not emphasise:
            return cur
        return cur - PREEMPHASIS * x[j0 - 1 : j1 - 1].astype(np.float64)
    idx = _reflect_index(np.arange(j0, j1), n)
    cur = x[idx].astype(np.float64)
    if not emphasise:
        return cur
    prev = x[np.maximum(idx - 1, 0)].astype(np.float64)
    prev[idx == 0] = 0.0
    return cur - PREEMPHASIS * prev


def _magnitude_blocks(x: np.ndarray, emphasise: bool) -> Iterator[tuple[int, np.ndarray]]:
    """(first frame, |STFT| of a block of frames as (401, frames)) for the whole signal, block by block."""
    n = x.shape[0]
    if n <= _PAD:
        raise AudioTooShort(
            f"the audio has {n} samples; the STFT needs more than {_PAD} (reflect padding of {_PAD} samples)"
        )
    import librosa

    window = hann_periodic(WIN)
    total = frame_count(n)
    for f0 in range(0, total, _BLOCK_FRAMES):
        f1 = min(total, f0 + _BLOCK_FRAMES)
        seg = _padded_segment(x, f0 * HOP, (f1 - 1) * HOP + N_FFT, emphasise)
        yield f0, np.abs(librosa.stft(seg, n_fft=N_FFT, hop_length=HOP, win_length=WIN, window=window, center=False))


def stft_magnitude(y: np.ndarray) -> np.ndarray:
    """|STFT| (401, 1 + len(y) // 200) in float64: Hann 800, hop 200, centred with reflect padding of 400."""
    x = _check_samples(y)
    out = np.empty((N_BINS, frame_count(x.shape[0])), dtype=np.float64)
    for f0, mag in _magnitude_blocks(x, emphasise=False):
        out[:, f0 : f0 + mag.shape[1]] = mag
    return out


def mel_filterbank() -> np.ndarray:
    """The (80, 401) float32 filterbank librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)."""
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX)


def _normalise(mel: np.ndarray) -> np.ndarray:
    """Mel amplitudes -> dB relative to 20 dB -> symmetric [-4, 4] scale, clipped."""
    floor = 10.0 ** (MIN_LEVEL_DB / 20.0)
    s = 20.0 * np.log10(np.maximum(floor, mel)) - REF_LEVEL_DB
    return np.clip(2.0 * MAX_ABS * (s - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS, -MAX_ABS, MAX_ABS)


def melspectrogram(samples: np.ndarray) -> np.ndarray:
    """Wav2Lip's normalised mel spectrogram, float32 (80, 1 + len // 200), of mono 16 kHz samples in [-1, 1]."""
    x = _check_samples(samples)
    n = x.shape[0]
    if frame_count(n) < MEL_STEP:
        raise AudioTooShort(
            f"the audio lasts {n / SAMPLE_RATE:.3f} s; Wav2Lip needs at least about 0.2 s "
            f"({MIN_SAMPLES} samples at {SAMPLE_RATE} Hz, {MEL_STEP} mel frames)"
        )
    fb = mel_filterbank().astype(np.float64)
    out = np.empty((N_MELS, frame_count(n)), dtype=np.float32)
    for f0, mag in _magnitude_blocks(x, emphasise=True):
        out[:, f0 : f0 + mag.shape[1]] = _normalise(fb @ mag)
    return out


def _check_fps(fps: float) -> float:
    """fps as a float, or ValueError when it is not a positive finite number."""
    f = float(fps)
    if not math.isfinite(f) or f <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return f


def chunk_start(frame: int, fps: float) -> int:
    """First mel frame of video frame `frame`'s chunk: int(frame * (80 / fps)), truncated, as the official code."""
    return int(frame * (MEL_PER_SECOND / _check_fps(fps)))


def _chunk_starts(first: int, count: int, fps: float) -> np.ndarray:
    """chunk_start for frames first..first+count-1, vectorised (the same float64 products and truncation)."""
    mult = MEL_PER_SECOND / _check_fps(fps)
    return (np.arange(first, first + count, dtype=np.float64) * mult).astype(np.int64)


def official_frame_count(t_mel: int, fps: float) -> int:
    """The official number of output frames: #{i : int(i * 80 / fps) + 16 <= t_mel} + 1."""
    if t_mel < MEL_STEP:
        raise AudioTooShort(f"{t_mel} mel frames; Wav2Lip needs at least {MEL_STEP} (about 0.2 s of audio)")
    mult = MEL_PER_SECOND / _check_fps(fps)
    bound = int((t_mel - MEL_STEP) / mult) + 3  # starts are non-decreasing; every valid i is below this
    starts = _chunk_starts(0, bound, fps)
    return int(np.count_nonzero(starts + MEL_STEP <= t_mel)) + 1


def mel_chunks(mel: np.ndarray, fps: float, n_frames: int, *, first: int = 0) -> np.ndarray:
    """(n_frames, 80, 16) float32 chunks for video frames first..first+n_frames-1; past the end, the tail chunk."""
    if mel.ndim != 2 or mel.shape[0] != N_MELS:
        raise ValueError(f"expected a (80, T) mel spectrogram, got shape {mel.shape}")
    t_mel = mel.shape[1]
    if t_mel < MEL_STEP:
        raise AudioTooShort(f"{t_mel} mel frames; Wav2Lip needs at least {MEL_STEP} (about 0.2 s of audio)")
    if n_frames < 0 or first < 0:
        raise ValueError(f"n_frames and first must be >= 0, got {n_frames} and {first}")
    starts = np.minimum(_chunk_starts(first, n_frames, fps), t_mel - MEL_STEP)
    windows = np.lib.stride_tricks.sliding_window_view(mel, MEL_STEP, axis=1)  # (80, T - 15, 16), a view
    return np.ascontiguousarray(windows[:, starts].transpose(1, 0, 2), dtype=np.float32)
