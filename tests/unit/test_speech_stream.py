"""The streamed audio front end: the mouth-model curves computed from audio read in chunks (the
default model's, and the English model's with its phones recognised chunk by chunk) equal the
whole-signal computation, and the audio is consumed in bounded pieces."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from speech_media import vowel

from engine.speech import formants_stream, phones_stream, predict_mouth, streamed
from engine.speech.features import ANALYSIS_RATE, CHUNK_HOPS, HOP_S, at_frames, band_db, power_spectrum
from engine.speech.formants import formant_tracks
from engine.speech.formants_stream import streamed_formant_tracks
from engine.speech.frame_means import FrameMeans
from engine.speech.learned import BASE_COLUMNS, FORMANT_COLUMNS, shipped_model
from engine.speech.phones import PhoneSegment, recognise_phones
from engine.speech.phones_stream import chunk_cores, streamed_phones
from engine.speech.praat_grid import formant_grid, pitch_grid
from engine.speech.samples import SampleReader, SoundStats, array_source, file_source, measured
from engine.speech.spectrum_stream import HOP, WINDOW, hop_count, spectrum_blocks
from engine.speech.streamed import predict_mouth_streamed
from engine.speech.visemes import PHONE_CLASSES, PhoneBlocks, phone_curves, phone_weights
from measure.bench.inputs import SHARED_MEDIA as SHARED  # beside the repository, or LIPSPOOL_SHARED_MEDIA

QUIET_S = phones_stream.QUIET_SEARCH_S
REAL_SPEECH = ["whisper_jfk.flac", "sadtalker_chinese_news.wav"]
CURVES = ("open", "width", "round")


def synthetic_speech(seconds_per_vowel: float = 0.35, seed: int = 0) -> np.ndarray:
    """About 12 s of vowels with different formants and pitch, pauses between words, as float32."""
    rng = np.random.default_rng(seed)
    vowels = [(730, 1090), (270, 2290), (300, 870), (530, 1840), (660, 1720), (490, 1350)]
    parts = []
    for _word in range(12):
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


def _db(samples: np.ndarray) -> np.ndarray:
    return band_db(*power_spectrum(np.asarray(samples, np.float64)))


def _labels(segments: list[PhoneSegment], hops: int) -> np.ndarray:
    """The phone heard at each 10 ms hop ("" where none is)."""
    out = np.full(hops, "", dtype=object)
    for s in segments:
        out[int(round(s.start_s / HOP_S)):int(round(s.end_s / HOP_S))] = s.phone
    return out


def _no_formants_model():
    """The English model without its formant inputs: a model of the "no-formants" feature set."""
    en = shipped_model("en")
    width = len(en.mean) // 5  # columns per frame of context
    keep = np.r_[0:BASE_COLUMNS, BASE_COLUMNS + FORMANT_COLUMNS:width]

    def cut(values: list) -> list:
        a = np.asarray(values).reshape(5, width, *np.shape(values)[1:])
        return a[:, keep].reshape(5 * len(keep), *np.shape(values)[1:]).tolist()

    return dataclasses.replace(en, feature_set="no-formants", mean=cut(en.mean), scale=cut(en.scale),
                               coef=cut(en.coef))


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


# --- phones in chunks ------------------------------------------------------------------------------

_PHONES = [p for p in PHONE_CLASSES if p != "NOISE"] + ["BREATH"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(0, 40), cuts=st.lists(st.integers(1, 150), max_size=8))
def test_phone_curves_block_by_block_equal_the_whole_ones(seed, n, cuts) -> None:
    rng = np.random.default_rng(seed)
    ends = np.cumsum(rng.integers(1, 60, n)) * HOP_S  # phones of 10 ms to 0.6 s, a long silence among them
    segments = [PhoneSegment(_PHONES[int(rng.integers(len(_PHONES)))], a, b)
                for a, b in zip(np.r_[0.0, ends[:-1]], ends)]
    duration = (ends[-1] if n else 0.0) + float(rng.uniform(0, 0.5))
    curves, weights = phone_curves(segments, duration), phone_weights(segments, duration)
    blocks, start, got = PhoneBlocks(segments, duration), 0, []
    for cut in cuts + [len(curves)]:
        got.append(blocks.block(start, min(start + cut, len(curves))))
        assert np.array_equal(phone_curves(segments, duration, start, start + cut), curves[start:start + cut])
        start = min(start + cut, len(curves))
    assert np.array_equal(np.concatenate([c for c, _ in got]), curves)
    assert np.array_equal(np.concatenate([w for _, w in got]), weights)


def test_chunk_cores_tile_the_sound_and_end_in_the_pauses() -> None:
    db = np.zeros(5000)
    pauses = [(1080, 1110), (1950, 1990), (3020, 3030)]
    for a, b in pauses:
        db[a:b] = -60.0
    db[2150] = -90.0  # one quiet hop, not a pause: the smoothed level ignores it
    cores = chunk_cores(db, 1000, 200, 15)
    assert cores[0][0] == 0 and cores[-1][1] == 5000
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(cores, cores[1:]))
    for (start, stop), (a, b) in zip(cores[:-1], pauses):
        assert a <= stop < b and 800 <= stop - start <= 1200
    assert chunk_cores(db[:1000], 1000, 200, 15) == [(0, 1000)]
    assert chunk_cores(db[:1], 1000, 200) == [(0, 1)]


def test_the_recogniser_hears_each_sound_afresh(speech) -> None:
    """PocketSphinx keeps a running cepstral mean from one sound to the next unless told otherwise."""
    first = recognise_phones(speech)
    recognise_phones(0.05 * synthetic_speech(seed=3)[::-1])
    assert recognise_phones(speech) == first


def test_phones_of_audio_up_to_one_chunk_are_the_whole_signal_ones(speech) -> None:
    got = streamed_phones(array_source(speech, 999), _stats(speech), _db(speech))
    assert got == recognise_phones(speech) and len(got) > 20


def test_phones_in_chunks_tile_the_sound_without_doubling_or_losing_any(monkeypatch, speech) -> None:
    heard: list[tuple[int, int]] = []
    peaks: set[float | None] = set()

    def recognise(samples, peak=None, first_frame=0):
        heard.append((first_frame, len(samples)))
        peaks.add(peak)
        return recognise_phones(samples, peak, first_frame)

    monkeypatch.setattr(phones_stream, "recognise_phones", recognise)
    long = np.tile(speech, 2)
    got = streamed_phones(array_source(long, 1000), _stats(long), _db(long), chunk_s=3.0, margin_s=1.0)
    assert len(heard) >= 7 and max(n for _, n in heard) <= (3.0 + 1.5 + 2 * 1.0) * ANALYSIS_RATE  # core, margins
    assert heard[0][0] == 0 and all(a[0] < b[0] for a, b in zip(heard, heard[1:]))
    assert peaks == {float(np.abs(long).max())}  # every chunk is levelled as the whole sound is
    centres = [s.centre_s for s in got]
    assert all(a < b for a, b in zip(centres, centres[1:]))  # in order, none twice
    hops = hop_count(len(long))
    labels, whole = _labels(got, hops), _labels(recognise_phones(long), hops)
    assert (labels != "").mean() > 0.99  # no phone lost: the kept phones cover the sound
    assert (labels == whole).mean() > 0.85, (labels == whole).mean()  # the recogniser normalises per chunk


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


def test_every_shipped_model_streams_and_an_unknown_feature_set_is_refused() -> None:
    assert streamed.streams() and streamed.streams(shipped_model("en"))
    assert streamed.streams(_no_formants_model())
    with pytest.raises(ValueError, match="unknown"):
        predict_mouth_streamed(array_source(synthetic_speech()), 25.0, 10,
                               model=dataclasses.replace(shipped_model("en"), feature_set="phones-only"))


@pytest.mark.parametrize("model", [lambda: shipped_model("en"), _no_formants_model], ids=["all", "no-formants"])
def test_streamed_curves_of_a_model_that_hears_phones_equal_the_whole_signal_ones(speech, model) -> None:
    n = _frames(speech)
    want = predict_mouth(speech, 25.0, n, model=model())
    assert want.open.max() > 0.3 and want.round.max() > 0.3  # phones heard: rounding comes from them
    _assert_same_curves(predict_mouth_streamed(array_source(speech, 1234), 25.0, n, model=model()), want, atol=1e-12)


def test_streamed_curves_with_phones_across_phone_chunks_stay_close(speech) -> None:
    n, en = _frames(speech), shipped_model("en")
    want = predict_mouth(speech, 25.0, n, model=en)
    got = predict_mouth_streamed(array_source(speech), 25.0, n, model=en, phone_chunk_s=5.0, phone_margin_s=1.5)
    assert np.array_equal(got.speech, want.speech)
    for name in CURVES:
        a, b = getattr(got, name), getattr(want, name)
        assert np.abs(a - b).mean() < 0.005 and np.corrcoef(a, b)[0, 1] > 0.999, name


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared speech recordings not present")
@pytest.mark.parametrize("name", REAL_SPEECH)
def test_streamed_curves_equal_the_whole_signal_ones_on_real_speech(name: str) -> None:
    from engine.media.audio import load_audio

    path = SHARED / name
    samples = load_audio(path, ANALYSIS_RATE)
    n = _frames(samples)
    want = predict_mouth(samples, 25.0, n)
    _assert_same_curves(predict_mouth_streamed(file_source(path), 25.0, n), want, atol=1e-12)
    chunked = predict_mouth_streamed(file_source(path), 25.0, n, chunk_s=5.0, margin_s=3.0)
    assert np.abs(chunked.open - want.open).max() < 0.05
    assert np.corrcoef(chunked.open, want.open)[0, 1] > 0.999


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared speech recordings not present")
@pytest.mark.parametrize("name", REAL_SPEECH)
def test_streamed_curves_with_phones_equal_the_whole_signal_ones_on_real_speech(name: str) -> None:
    from engine.media.audio import load_audio

    path, en = SHARED / name, shipped_model("en")
    samples = load_audio(path, ANALYSIS_RATE)
    n = _frames(samples)
    want = predict_mouth(samples, 25.0, n, model=en)
    _assert_same_curves(predict_mouth_streamed(file_source(path), 25.0, n, model=en), want, atol=1e-12)
    chunked = predict_mouth_streamed(file_source(path), 25.0, n, model=en, phone_chunk_s=5.0, phone_margin_s=3.0)
    for curve in CURVES:  # a few phones near the cuts differ; the recogniser also normalises per chunk
        a, b = getattr(chunked, curve), getattr(want, curve)
        assert np.abs(a - b).mean() < 0.02 and np.corrcoef(a, b)[0, 1] > 0.98, curve


# --- bounded reading ---------------------------------------------------------------------------------

def test_the_front_end_reads_the_audio_in_bounded_pieces(monkeypatch, speech) -> None:
    readers: list[SampleReader] = []

    class Recording(SampleReader):
        def __init__(self, source) -> None:
            super().__init__(source)
            readers.append(self)

    blocks: list[int] = []
    long = np.tile(speech, 5)  # about a minute

    def source():
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

    # the English model adds one pass, recognising the phones a chunk at a time
    heard: list[int] = []

    def recognise(samples, peak=None, first_frame=0):
        heard.append(len(samples))
        return recognise_phones(samples, peak, first_frame)

    monkeypatch.setattr(phones_stream, "SampleReader", Recording)
    monkeypatch.setattr(phones_stream, "recognise_phones", recognise)
    readers.clear()
    blocks.clear()
    predict_mouth_streamed(source, 25.0, _frames(long), shipped_model("en"), chunk_s=4.0, margin_s=1.0,
                           phone_chunk_s=6.0, phone_margin_s=1.0)
    assert len(readers) == 5 and sum(blocks) == 5 * len(long)  # spectrum, phones, pitch, formants, features
    phone_span = (6.0 + min(QUIET_S, 3.0) + 2 * 1.0) * ANALYSIS_RATE  # a core (cut within the search) and margins
    assert len(heard) >= 6 and max(heard) <= phone_span
    assert readers[1].peak <= phone_span + 2 * 1024 < len(long) / 3


@pytest.mark.parametrize("mouth_model", [None, "en"])
def test_the_rewrite_backend_never_loads_the_whole_audio_for_the_default_front_end(monkeypatch, tmp_path,
                                                                                  mouth_model) -> None:
    import engine.backends.rewrite.backend as rewrite
    from engine.backends.base import RenderContext
    from engine.media.audio import write_wav
    from engine.media.probe import MediaInfo
    from engine.options import RenderOptions

    audio = write_wav(tmp_path / "speech.wav", synthetic_speech()[None, :], ANALYSIS_RATE)

    def whole_signal(*args, **kwargs):
        raise AssertionError("load_audio called: the whole signal would be in memory")

    monkeypatch.setattr(rewrite, "load_audio", whole_signal)
    ctx = RenderContext(audio=audio, video=tmp_path / "v.mp4", video_info=MediaInfo(str(tmp_path / "v.mp4"), "mp4",
                        True, False), audio_duration_s=12.0, fps=25.0, n_frames=300, width=64, height=64,
                        options=RenderOptions(), scratch_dir=tmp_path)
    seen: list[tuple[str, float]] = []
    model = shipped_model(mouth_model) if mouth_model else None
    curves = rewrite._Job._curves(object.__new__(rewrite._Job), ctx, "mouth-model", model,
                                  lambda stage, f: seen.append((stage, f)))
    assert curves.n_frames == 300 and curves.open.max() > 0.3
    assert seen and all(stage == "mouths" for stage, _ in seen)
