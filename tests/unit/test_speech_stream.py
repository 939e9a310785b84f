"""The streamed audio front end: the default mouth-model curves computed from audio read in chunks
equal the whole-signal computation, and the audio is consumed in bounded pieces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.speech import predict_mouth
from engine.speech import formants_stream, streamed
from engine.speech.features import ANALYSIS_RATE, at_frames, power_spectrum
from engine.speech.formants import formant_tracks
from engine.speech.formants_stream import streamed_formant_tracks
from engine.speech.frame_means import FrameMeans
from engine.speech.praat_grid import formant_grid, pitch_grid
from engine.speech.samples import SampleReader, SoundStats, array_source, file_source, measured
from engine.speech.features import CHUNK_HOPS
from engine.speech.spectrum_stream import HOP, WINDOW, hop_count, spectrum_blocks
from engine.speech.streamed import predict_mouth_streamed

from speech_media import vowel  # noqa: E402 - the helper beside this file

SHARED = Path("/work/shared/media")
REAL_SPEECH = ["whisper_jfk.flac", "sadtalker_chinese_news.wav"]
CURVES = ("open", "width", "round")


def synthetic_speech(seconds_per_vowel: float = 0.35, seed: int = 0) -> np.ndarray:
    """About 12 s of vowels with different formants and pitch, pauses between words, as float32."""
    rng = np.random.default_rng(seed)
    vowels = [(730, 1090), (270, 2290), (300, 870), (530, 1840), (660, 1720), (490, 1350)]
    parts = []
    for word in range(12):
        for _ in range(int(rng.integers(1, 4))):
            f1, f2 = vowels[int(rng.integers(len(vowels)))]
            parts.append(vowel(f1, f2, seconds_per_vowel, f0=float(rng.uniform(100, 180))))
        parts.append(np.zeros(int(rng.uniform(0.2, 0.5) * ANALYSIS_RATE)))
    x = np.concatenate(parts)
    return (x + 1e-3 * rng.standard_normal(len(x))).astype(np.float32)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return synthetic_speech()


def _frames(samples: np.ndarray, fps: float = 25.0) -> int:
    return int(round(len(samples) / ANALYSIS_RATE * fps))


def _stats(samples: np.ndarray) -> SoundStats:
    stats = SoundStats()
    SampleReader(measured(array_source(samples), stats)).drain()
    return stats


# --- the exact parts -----------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(hops=st.integers(1, 900), fps=st.sampled_from([1.0, 7.3, 23.976, 25.0, 29.97, 60.0, 100.0, 144.0]),
       extra=st.integers(-3, 3), width=st.sampled_from([0, 1, 4]), cuts=st.lists(st.integers(0, 200), max_size=12))
def test_frame_means_equal_at_frames_on_the_whole_series(hops, fps, extra, width, cuts) -> None:
    rng = np.random.default_rng(hops)
    series = rng.standard_normal((hops, width) if width else hops) * 10
    n_frames = max(0, int(hops * 0.01 * fps) + extra)
    means, start = FrameMeans(fps, n_frames), 0
    for cut in cuts + [hops]:
        means.add(series[start:start + cut])
        start += cut
    means.add(series[start:])
    assert np.array_equal(means.finish(), at_frames(series, fps, n_frames))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 20000), block=st.integers(1, 5000), block_hops=st.integers(1, 300))
def test_streamed_spectrum_rows_equal_the_whole_signal_ones(n, block, block_hops) -> None:
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    rows = list(spectrum_blocks(SampleReader(array_source(x, block)), block_hops))
    assert [h0 for h0, _ in rows] == list(range(0, hop_count(n), block_hops))
    assert np.array_equal(np.concatenate([r for _, r in rows]), power_spectrum(np.asarray(x, np.float64))[0])


def test_sample_reader_pads_with_zeros_and_holds_only_what_a_span_needs() -> None:
    x = np.arange(1, 100_001, dtype=np.float32)
    reader = SampleReader(array_source(x, 1000))
    assert np.array_equal(reader.read(-3, 2), [0, 0, 0, 1, 2])
    for start in range(0, 95_000, 5000):
        assert np.array_equal(reader.read(start, start + 6000)[:5000], x[start:start + 5000])
        reader.release(start + 5000)
    assert np.array_equal(reader.read(99_998, 100_003), [99_999, 100_000, 0, 0, 0])
    assert reader.peak <= 8000  # a 6000-sample span and the blocks around it, never the 100000
    with pytest.raises(ValueError, match="released"):
        reader.read(10, 20)


@pytest.mark.parametrize("start, n", [(0, 128_000), (0, 49_280), (16_000, 176_037), (1_600_000 * 160, 20_000)])
def test_praat_frame_grids_are_where_praat_puts_its_frames(start: int, n: int) -> None:
    import parselmouth

    sound = parselmouth.Sound(np.random.default_rng(n).standard_normal(n), ANALYSIS_RATE,
                              start_time=start / ANALYSIS_RATE)
    pitch = sound.to_pitch(time_step=0.01, pitch_floor=70.0, pitch_ceiling=500.0)
    grid = pitch_grid(start, n)
    assert (grid.n_frames, grid.first, grid.first + grid.step) == (pitch.n_frames, *pitch.xs()[:2])
    for ceiling in (5000.0, 5500.0):
        formant = sound.to_formant_burg(time_step=0.01, max_number_of_formants=5, maximum_formant=ceiling)
        grid = formant_grid(start, n, ceiling)
        assert (grid.n_frames, grid.first, grid.first + grid.step) == (formant.n_frames, *formant.xs()[:2])


# --- formants in chunks ----------------------------------------------------------------------------

def test_formants_in_one_chunk_equal_praat_on_the_whole_sound(speech) -> None:
    hops = hop_count(len(speech))
    got = streamed_formant_tracks(array_source(speech), _stats(speech), hops)
    assert np.array_equal(got, formant_tracks(speech, hops), equal_nan=True)


def test_formants_in_small_chunks_keep_the_voicing_and_stay_within_hertz_of_the_whole(speech) -> None:
    """Voicing is identical and F0 all but; formants differ only through Praat's whole-sound anti-alias filter."""
    hops = hop_count(len(speech))
    whole = formant_tracks(speech, hops)
    got = streamed_formant_tracks(array_source(speech), _stats(speech), hops, chunk_s=2.0, margin_s=1.0)
    assert np.array_equal(got[:, 3] > 0, whole[:, 3] > 0)
    assert np.abs(got[:, 3] - whole[:, 3]).max() < 0.1  # Hz: frames centred half-way between samples can move
    assert np.array_equal(np.isnan(got), np.isnan(whole))
    voiced = np.isfinite(whole[:, :3]).all(axis=1)
    diff = np.abs(got[voiced, :3] - whole[voiced, :3])
    assert voiced.sum() > 500
    assert np.median(diff) < 0.5 and np.percentile(diff, 95) < 10.0, np.percentile(diff, [50, 95, 100])


def test_a_quiet_passage_far_from_the_loudest_one_is_judged_against_the_whole_recording() -> None:
    """Praat calls a frame silent relative to the sound's peak: a chunk without the loud part must
    still use the whole recording's peak, or these quiet vowels would become voiced."""
    x = np.concatenate([vowel(700, 1200, 1.0) / 0.3, np.zeros(3 * ANALYSIS_RATE),
                        0.02 / 0.3 * vowel(300, 2200, 3.0, f0=150), np.zeros(ANALYSIS_RATE // 2)]).astype(np.float32)
    hops = hop_count(len(x))
    whole = formant_tracks(x, hops)
    got = streamed_formant_tracks(array_source(x), _stats(x), hops, chunk_s=2.0, margin_s=1.0)
    assert 0 < (whole[:, 3] > 0).sum() < 200  # the loud vowel only
    assert np.array_equal(got[:, 3] > 0, whole[:, 3] > 0)


# --- the whole front end ---------------------------------------------------------------------------

def _assert_same_curves(got, want, atol: float = 0.0) -> None:
    for name in CURVES:
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=0, atol=atol, err_msg=name)
    np.testing.assert_allclose(got.shape, want.shape, rtol=0, atol=atol, err_msg="shape")
    assert np.array_equal(got.speech, want.speech)
    assert np.array_equal(got.shape_basis, want.shape_basis)


def test_streamed_curves_equal_the_whole_signal_ones_on_synthetic_speech(speech) -> None:
    n = _frames(speech)
    want = predict_mouth(speech, 25.0, n)
    assert want.open.max() > 0.3  # the vowels open the mouth: a real comparison
    _assert_same_curves(predict_mouth_streamed(array_source(speech), 25.0, n), want, atol=1e-12)


def test_streamed_curves_across_chunk_boundaries_stay_close(speech) -> None:
    n = _frames(speech, 30.0)
    want = predict_mouth(speech, 30.0, n)
    got = predict_mouth_streamed(array_source(speech, 777), 30.0, n, chunk_s=2.0, margin_s=1.0)
    assert np.array_equal(got.speech, want.speech)
    for name in ("open", "width"):
        a, b = getattr(got, name), getattr(want, name)
        assert np.abs(a - b).max() < 0.1 and np.corrcoef(a, b)[0, 1] > 0.999, name


def test_silence_and_no_frames_give_a_closed_mouth() -> None:
    silent = predict_mouth_streamed(array_source(np.zeros(ANALYSIS_RATE, np.float32)), 25.0, 25)
    assert not silent.open.any() and not silent.speech.any() and silent.n_frames == 25
    assert predict_mouth_streamed(array_source(np.zeros(0, np.float32)), 25.0, 10).n_frames == 10
    assert predict_mouth_streamed(array_source(synthetic_speech()), 25.0, 0).n_frames == 0


def test_a_model_that_hears_phones_is_refused() -> None:
    from engine.speech.learned import shipped_model

    assert streamed.streams() and not streamed.streams(shipped_model("en"))
    with pytest.raises(ValueError, match="needs the whole signal"):
        predict_mouth_streamed(array_source(synthetic_speech()), 25.0, 10, model=shipped_model("en"))


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared speech recordings not present")
@pytest.mark.parametrize("name", REAL_SPEECH)
def test_streamed_curves_equal_the_whole_signal_ones_on_real_speech(name: str) -> None:
    from engine.media_audio import load_audio

    path = SHARED / name
    samples = load_audio(path, ANALYSIS_RATE)
    n = _frames(samples)
    want = predict_mouth(samples, 25.0, n)
    _assert_same_curves(predict_mouth_streamed(file_source(path), 25.0, n), want, atol=1e-12)
    chunked = predict_mouth_streamed(file_source(path), 25.0, n, chunk_s=5.0, margin_s=3.0)
    assert np.abs(chunked.open - want.open).max() < 0.05
    assert np.corrcoef(chunked.open, want.open)[0, 1] > 0.999


# --- bounded reading ---------------------------------------------------------------------------------

def test_the_front_end_reads_the_audio_in_bounded_pieces(monkeypatch, speech) -> None:
    readers: list[SampleReader] = []

    class Recording(SampleReader):
        def __init__(self, source) -> None:  # noqa: ANN001
            super().__init__(source)
            readers.append(self)

    blocks: list[int] = []
    long = np.tile(speech, 5)  # about a minute

    def source():  # noqa: ANN202
        for block in array_source(long, 1024)():
            blocks.append(len(block))
            yield block

    monkeypatch.setattr(streamed, "SampleReader", Recording)
    monkeypatch.setattr(formants_stream, "SampleReader", Recording)
    predict_mouth_streamed(source, 25.0, _frames(long), chunk_s=4.0, margin_s=1.0)
    assert len(readers) == 4  # spectrum, pitch, formants, features: one pass each
    assert max(blocks) <= 1024 and sum(blocks) == 4 * len(long)
    praat_span = (4.0 + 2 * 1.0 + 0.1) * ANALYSIS_RATE  # a chunk, its margins, rounding and blocks
    spectrum_span = CHUNK_HOPS * HOP + WINDOW + 2 * 1024  # a block of hops, a window and a block each side
    assert max(r.peak for r in readers[1:3]) <= praat_span
    assert max(r.peak for r in readers) <= max(praat_span, spectrum_span) < len(long) / 3


def test_the_rewrite_backend_never_loads_the_whole_audio_for_the_default_front_end(monkeypatch, tmp_path) -> None:
    import engine.backends.rewrite as rewrite
    from engine.backends.base import RenderContext
    from engine.media_audio import write_wav
    from engine.media_probe import MediaInfo
    from engine.options import RenderOptions

    audio = write_wav(tmp_path / "speech.wav", synthetic_speech()[None, :], ANALYSIS_RATE)

    def whole_signal(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("load_audio called: the whole signal would be in memory")

    monkeypatch.setattr(rewrite, "load_audio", whole_signal)
    ctx = RenderContext(audio=audio, video=tmp_path / "v.mp4", video_info=MediaInfo(str(tmp_path / "v.mp4"), "mp4",
                        True, False), audio_duration_s=12.0, fps=25.0, n_frames=300, width=64, height=64,
                        options=RenderOptions(), scratch_dir=tmp_path)
    seen: list[tuple[str, float]] = []
    curves = rewrite._Job._curves(object.__new__(rewrite._Job), ctx, "mouth-model", None,
                                  lambda stage, f: seen.append((stage, f)))
    assert curves.n_frames == 300 and curves.open.max() > 0.3
    assert seen and all(stage == "mouths" for stage, _ in seen)
