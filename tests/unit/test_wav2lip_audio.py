"""Wav2Lip's audio front end (engine.backends.wav2lip.audio) against values derived here from the published recipe:
the Slaney filterbank rebuilt with scalar maths, the closed-form spectrum of a bin-centred sine, a plain np.pad STFT
for reflect against zero padding, the official frame-to-chunk loop written out literally, and block borders."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.backends.wav2lip import audio as A

SR = 16000
BIN_HZ = SR / 800  # 20 Hz between FFT bins


# ---------------------------------------------------------------- independent re-derivations (scalar maths)


def _mel(hz: float) -> float:
    """Slaney mel: 3 mels per 200 Hz below 1 kHz, then 27 mels per factor 6.4."""
    return hz / (200 / 3) if hz < 1000 else 15 + 27 * math.log(hz / 1000) / math.log(6.4)


def _hz(mel: float) -> float:
    return mel * (200 / 3) if mel < 15 else 1000 * 6.4 ** ((mel - 15) / 27)


def _band_edges() -> list[float]:
    lo, hi = _mel(55.0), _mel(7600.0)
    return [_hz(lo + (hi - lo) * i / 81) for i in range(82)]


def _reference_filterbank() -> np.ndarray:
    """Triangles between band edges m, m+1, m+2 sampled at k * 20 Hz, scaled by 2 / (hz[m+2] - hz[m])."""
    hz = _band_edges()
    fb = np.zeros((80, 401))
    for m in range(80):
        left, centre, right = hz[m], hz[m + 1], hz[m + 2]
        for k in range(401):
            f = k * BIN_HZ
            rise = (f - left) / (centre - left)
            fall = (right - f) / (right - centre)
            fb[m, k] = max(0.0, min(rise, fall)) * 2 / (right - left)
    return fb


def _normalised(mel: np.ndarray) -> np.ndarray:
    db = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    return np.clip(8 * (db + 100) / 100 - 4, -4, 4)


def _stft_direct(y: np.ndarray, mode: str) -> np.ndarray:
    """|STFT| the plain way: np.pad by 400 in `mode`, every 200th window of 800, periodic Hann, rfft."""
    padded = np.pad(np.asarray(y, np.float64), 400, mode=mode)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(800) / 800)
    n_frames = 1 + (len(padded) - 800) // 200
    frames = np.stack([padded[200 * f : 200 * f + 800] for f in range(n_frames)])
    return np.abs(np.fft.rfft(frames * window, axis=1)).T


def _preemphasis_loop(x: np.ndarray) -> np.ndarray:
    out = np.empty(len(x))
    prev = 0.0
    for i, v in enumerate(np.asarray(x, np.float64)):
        out[i] = v - 0.97 * prev
        prev = v
    return out


def _noise(seconds: float, seed: int = 0, scale: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * scale).astype(np.float32)


# ---------------------------------------------------------------- 1. filterbank


def test_filterbank_matches_the_slaney_formulas() -> None:
    fb = A.mel_filterbank()
    assert fb.shape == (80, 401) and fb.dtype == np.float32
    np.testing.assert_allclose(fb, _reference_filterbank(), rtol=2e-6, atol=1e-9)


def test_filterbank_triangles_peak_at_centres_vanish_outside_and_have_unit_area() -> None:
    fb = A.mel_filterbank().astype(np.float64)
    hz = _band_edges()
    freqs = np.arange(401) * BIN_HZ
    assert abs(hz[0] - 55.0) < 1e-9 and abs(hz[-1] - 7600.0) < 1e-6
    for m in range(80):
        left, centre, right = hz[m], hz[m + 1], hz[m + 2]
        outside = (freqs <= left) | (freqs >= right)
        assert not fb[m, outside].any(), m
        assert fb[m, ~outside].min() > 0, m
        # the largest weight sits on one of the two bins around the centre frequency
        assert int(np.argmax(fb[m])) in (math.floor(centre / BIN_HZ), math.ceil(centre / BIN_HZ)), m
        assert fb[m].max() <= 2 / (right - left) * (1 + 1e-6)
        if right - left >= 40 * BIN_HZ:  # wide enough for the sampled sum to approximate the unit area
            assert abs(fb[m].sum() * BIN_HZ - 1.0) < 0.01, m
    # linear below 1 kHz (equal spacing in Hz), logarithmic above (equal ratios between consecutive edges)
    widths = np.diff(hz)
    below = [w for w, f in zip(widths, hz[1:]) if f < 1000]
    assert len(below) > 20 and max(below) - min(below) < 1e-9
    ratios = [b / a for a, b in zip(hz, hz[1:]) if a >= 1000]
    assert len(ratios) > 20 and max(ratios) - min(ratios) < 1e-12


# ---------------------------------------------------------------- 2. a known signal


def test_window_and_preemphasis() -> None:
    n = np.arange(800)
    np.testing.assert_allclose(A.hann_periodic(), 0.5 - 0.5 * np.cos(2 * np.pi * n / 800), atol=1e-15)
    assert A.hann_periodic()[400] == pytest.approx(1.0) and A.hann_periodic()[0] == 0.0
    x = _noise(0.01, seed=3)
    y = A.preemphasis(x)
    assert y.dtype == np.float64 and y[0] == np.float64(x[0])
    np.testing.assert_allclose(y, _preemphasis_loop(x), rtol=0, atol=1e-12)
    signal = pytest.importorskip("scipy.signal")
    np.testing.assert_allclose(A.hann_periodic(), signal.get_window("hann", 800), atol=1e-15)
    np.testing.assert_allclose(y, signal.lfilter([1, -0.97], [1], x.astype(np.float64)), atol=1e-12)


def test_sine_on_an_fft_bin_gives_the_closed_form_spectrum_and_mel_values() -> None:
    amp, freq = 0.5, 1000.0  # 1000 Hz is exactly bin 50
    n = np.arange(SR)
    x = (amp * np.sin(2 * np.pi * freq / SR * n + 0.3)).astype(np.float64)
    gain = abs(1 - 0.97 * np.exp(-2j * np.pi * freq / SR))  # pre-emphasis of a sinusoid
    b = amp * gain
    interior = slice(3, 78)  # frames whose 800 samples lie in x[1:], where the pre-emphasis is in steady state

    mag = A.stft_magnitude(A.preemphasis(x))[:, interior]
    expected = np.zeros(401)
    expected[50] = b * 800 / 4  # periodic Hann: W(0) = N/2, W(+-1) = -N/4, each times amplitude / 2
    expected[49] = expected[51] = b * 800 / 8
    np.testing.assert_allclose(mag, np.repeat(expected[:, None], mag.shape[1], axis=1), rtol=1e-9, atol=1e-9)

    want = _normalised(_reference_filterbank() @ expected)
    touched = np.flatnonzero(want > -4)
    assert len(touched) >= 2  # the bands around 1 kHz see the sine; every other band is at the floor
    got = A.melspectrogram(x.astype(np.float32))[:, interior]
    np.testing.assert_allclose(got, np.repeat(want[:, None], got.shape[1], axis=1), rtol=0, atol=1e-4)


# ---------------------------------------------------------------- 3. reflect padding


def test_reflect_padding_changes_only_the_first_two_and_last_two_frames() -> None:
    x = _noise(0.5, seed=1) + np.float32(0.2)  # nonzero at both ends
    y = A.preemphasis(x)
    mag = A.stft_magnitude(y)
    reflect, constant = _stft_direct(y, "reflect"), _stft_direct(y, "constant")
    np.testing.assert_allclose(mag, reflect, rtol=1e-10, atol=1e-10)
    t = mag.shape[1]
    for f in (0, 1, t - 2, t - 1):
        assert np.abs(mag[:, f] - constant[:, f]).max() > 1e-2, f
    np.testing.assert_allclose(mag[:, 2 : t - 2], constant[:, 2 : t - 2], rtol=1e-10, atol=1e-10)

    fb = _reference_filterbank()
    mel = A.melspectrogram(x)
    zero_padded = _normalised(fb @ constant)
    edge = np.abs(mel - zero_padded).max(axis=0)
    assert (edge[[0, 1, t - 2, t - 1]] > 1e-2).all()
    assert edge[2 : t - 2].max() < 1e-4


def test_melspectrogram_is_the_official_pipeline_of_the_public_steps() -> None:
    x = _noise(1.3, seed=2)
    want = _normalised(_reference_filterbank() @ _stft_direct(_preemphasis_loop(x), "reflect"))
    got = A.melspectrogram(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


@pytest.mark.parametrize("stft_dtype", [None, np.complex64])  # librosa's default, and librosa 0.7's precision
def test_melspectrogram_equals_librosa_called_with_the_official_parameters(stft_dtype: type | None) -> None:
    """The official audio.py's calls on librosa >= 0.10: keyword arguments, and reflect padding asked for."""
    librosa = pytest.importorskip("librosa")
    signal = pytest.importorskip("scipy.signal")
    x = _noise(2.0, seed=8) + np.float32(0.1)  # nonzero at both ends, so the padding mode shows
    y = signal.lfilter([1, -0.97], [1], x)
    spec = np.abs(librosa.stft(y=y, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect", dtype=stft_dtype))
    fb = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    np.testing.assert_array_equal(A.mel_filterbank(), fb)
    np.testing.assert_allclose(A.melspectrogram(x), _normalised(fb @ spec), rtol=0, atol=1e-5)
    np.testing.assert_allclose(A.stft_magnitude(y), spec, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- 4. frame counts, range, errors


@pytest.mark.parametrize("n", [3000, 3199, 3200, 3201, 12345, 16000, 16001])
def test_frame_count_is_one_plus_samples_over_hop(n: int) -> None:
    assert A.melspectrogram(_noise(n / SR)[:n]).shape == (80, 1 + n // 200)
    assert A.stft_magnitude(_noise(n / SR)[:n]).shape == (401, 1 + n // 200)


def test_silence_is_minus_four_and_loud_audio_is_clipped_at_four() -> None:
    assert (A.melspectrogram(np.zeros(SR, np.float32)) == -4.0).all()
    loud = A.melspectrogram(_noise(1.0, seed=4, scale=200.0))
    assert loud.max() == 4.0 and loud.min() >= -4.0
    assert (loud == 4.0).mean() > 0.5


def test_too_short_and_invalid_audio_raise_value_errors() -> None:
    with pytest.raises(A.AudioTooShort, match="0.2 s"):
        A.melspectrogram(_noise(1.0)[:2999])  # 15 mel frames
    assert A.melspectrogram(_noise(1.0)[:3000]).shape == (80, 16)
    with pytest.raises(A.AudioTooShort):
        A.melspectrogram(np.zeros(0, np.float32))
    with pytest.raises(A.AudioTooShort):
        A.stft_magnitude(np.ones(400))
    assert A.stft_magnitude(np.ones(401)).shape == (401, 3)
    assert issubclass(A.AudioTooShort, ValueError) and issubclass(A.InvalidAudio, ValueError)
    x = _noise(1.0)
    x[5000] = np.nan
    with pytest.raises(A.InvalidAudio, match="NaN"):
        A.melspectrogram(x)
    x[5000] = np.inf
    with pytest.raises(A.InvalidAudio):
        A.melspectrogram(x)
    with pytest.raises(A.InvalidAudio):
        A.melspectrogram(np.zeros((2, SR), np.float32))
    with pytest.raises(A.InvalidAudio):
        A.melspectrogram(np.zeros(SR, np.int16))


# ---------------------------------------------------------------- 5. frames to mel chunks


def _official_loop(mel: np.ndarray, fps: float) -> list[np.ndarray]:
    """inference.py's loop, transliterated: multiplier 80 / fps, truncate, tail chunk and stop."""
    chunks, mult, i = [], 80.0 / fps, 0
    while True:
        start = int(i * mult)
        if start + 16 > mel.shape[1]:
            chunks.append(mel[:, mel.shape[1] - 16 :])
            return chunks
        chunks.append(mel[:, start : start + 16])
        i += 1


def test_official_frame_count_for_sixty_seconds() -> None:
    t_mel = 1 + 60 * SR // 200
    assert t_mel == 4801
    assert A.official_frame_count(t_mel, 25) == 1497
    assert A.official_frame_count(t_mel, 30) == 1796


@pytest.mark.parametrize("fps", [25.0, 30.0, 29.97])
def test_mel_chunks_follow_the_official_loop(fps: float) -> None:
    t_mel = 4801
    mel = np.arange(80 * t_mel, dtype=np.float32).reshape(80, t_mel)
    official = _official_loop(mel, fps)
    n = A.official_frame_count(t_mel, fps)
    assert n == len(official)
    chunks = A.mel_chunks(mel, fps, n + 40)
    assert chunks.shape == (n + 40, 80, 16) and chunks.dtype == np.float32
    for i in range(n - 1):
        s = int(i * 80 / fps)
        assert A.chunk_start(i, fps) == s
        np.testing.assert_array_equal(chunks[i], mel[:, s : s + 16])
        np.testing.assert_array_equal(chunks[i], official[i])
    assert A.chunk_start(n - 1, fps) + 16 > t_mel >= A.chunk_start(n - 2, fps) + 16
    for i in range(n - 1, n + 40):  # the official last frame and every extra frame get the tail chunk
        np.testing.assert_array_equal(chunks[i], mel[:, t_mel - 16 :])
    np.testing.assert_array_equal(A.mel_chunks(mel, fps, 30, first=n - 10), chunks[n - 10 : n + 20])


def test_official_frame_count_matches_the_loop_for_many_lengths() -> None:
    rng = np.random.default_rng(5)
    for fps in (25.0, 30.0, 29.97, 24000 / 1001, 60.0, 12.5):
        for t_mel in [16, 17, 31, 32, 33, *rng.integers(16, 1500, 6)]:
            mel = np.zeros((80, int(t_mel)), np.float32)
            assert A.official_frame_count(int(t_mel), fps) == len(_official_loop(mel, fps)), (fps, t_mel)


def test_chunk_start_uses_the_official_multiplier_rounding() -> None:
    # inference.py computes int(i * (80 / fps)); at 23.976 fps that can differ from int(i * 80 / fps)
    fps = 24000 / 1001
    assert int(3900 * (80 / fps)) != int(3900 * 80 / fps)
    assert A.chunk_start(3900, fps) == int(3900 * (80 / fps))
    assert A.chunk_start(0, 25) == 0 and A.chunk_start(5, 25) == 16
    with pytest.raises(ValueError):
        A.chunk_start(1, 0)


# ---------------------------------------------------------------- 6. blocks of frames


def test_long_audio_is_computed_in_blocks_without_seams() -> None:
    x = _noise(200.0, seed=6)
    mag = A.stft_magnitude(x)
    assert mag.shape == (401, 16001)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(800) / 800)
    for border in (A._BLOCK_FRAMES, 2 * A._BLOCK_FRAMES, 3 * A._BLOCK_FRAMES):
        frames = range(border - 3, border + 3)
        direct = np.stack([x[200 * f - 400 : 200 * f + 400].astype(np.float64) * window for f in frames])
        np.testing.assert_allclose(mag[:, border - 3 : border + 3], np.abs(np.fft.rfft(direct, axis=1)).T,
                                   rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mag[:, -3:], _stft_direct(x[-2000:], "reflect")[:, -3:], rtol=1e-10, atol=1e-10)


def test_block_size_does_not_change_values(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _noise(1.0, seed=7)
    mag, mel = A.stft_magnitude(x), A.melspectrogram(x)
    monkeypatch.setattr(A, "_BLOCK_FRAMES", 7)
    np.testing.assert_allclose(A.stft_magnitude(x), mag, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(A.melspectrogram(x), mel, rtol=0, atol=1e-6)


def test_a_stereo_file_is_heard_as_the_average_of_its_channels(tmp_path) -> None:
    """librosa.load (the official code) averages the channels; FFmpeg's downmix would be 3 dB louder."""
    pytest.importorskip("torch")
    from engine.backends.wav2lip.render import official_mono
    from engine.media.audio import write_wav

    t = np.arange(16000) / 16000.0
    x = (0.4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    mono = official_mono(write_wav(tmp_path / "m.wav", x[None, :], 16000))
    stereo = official_mono(write_wav(tmp_path / "s.wav", np.stack([x, x]), 16000))
    half = official_mono(write_wav(tmp_path / "h.wav", np.stack([x, np.zeros_like(x)]), 16000))
    assert np.max(np.abs(stereo - mono)) < 1e-3
    assert np.max(np.abs(half - mono / 2)) < 1e-3

