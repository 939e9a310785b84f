"""The speech front end's parts: voice activity, coarticulated phone targets, the ridge fit, the
mouth model file, and predict_mouth's closed mouth in silence; and the rewrite backend's sequence
search and rank-mapped targets."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.backends.rewrite.select import SelectionWeights, select_sources, target_shapes
from engine.speech import FRONT_ENDS, predict_mouth
from engine.speech.features import HOP_S, at_frames
from engine.speech.learned import MouthModel, MouthModelMissing, default_model, fit_model
from engine.speech.phones import PhoneSegment, recognise_phones
from engine.speech.ridge import fit_ridge, stack_context
from engine.speech.visemes import phone_curves
from engine.testing.media import speech_like

RATE = 16000


def _speech_gap_speech() -> np.ndarray:
    return np.concatenate([speech_like(1.0, RATE), np.zeros(RATE, np.float32), speech_like(1.0, RATE, 1)])


def test_voice_activity_finds_the_pause_and_ignores_digital_silence() -> None:
    from engine.speech.frontend import Analysis

    act = Analysis(_speech_gap_speech()).activity()
    t = np.arange(len(act)) * HOP_S
    assert act[(t > 0.1) & (t < 0.9)].mean() > 0.9
    assert not act[(t > 1.1) & (t < 1.9)].any()
    assert act[(t > 2.1) & (t < 2.9)].mean() > 0.9
    assert not Analysis(np.zeros(RATE, np.float32)).activity().any()


def test_a_bilabial_between_vowels_closes_the_mouth() -> None:
    segs = [PhoneSegment("AA", 0.0, 0.2), PhoneSegment("M", 0.2, 0.28), PhoneSegment("AA", 0.28, 0.5)]
    curves = phone_curves(segs, 0.5)
    opening = curves[:, 0]
    mid = int(0.24 / HOP_S)
    assert opening[mid] < 0.2 and opening[int(0.1 / HOP_S)] > 0.8 and opening[int(0.4 / HOP_S)] > 0.8
    # coarticulation: the closure pulls its neighbours down a little before and after
    assert opening[int(0.17 / HOP_S)] < opening[int(0.1 / HOP_S)]


def test_phone_recogniser_returns_ordered_phones_of_speech() -> None:
    from pathlib import Path

    from engine.media.audio import load_audio

    jfk = Path(__file__).resolve().parents[3] / "shared" / "media" / "whisper_jfk.flac"
    if jfk.is_file():
        samples = load_audio(jfk, RATE)
    else:  # without the shared media: vowels the recogniser hears (it takes a plain buzz for silence)
        from speech_media import vowel

        samples = np.concatenate([vowel(750, 1200, 0.3), vowel(300, 2300, 0.3), vowel(350, 800, 0.3),
                                  np.zeros(RATE // 4), vowel(600, 1700, 0.4)]).astype(np.float32)
    segs = recognise_phones(samples[: 3 * RATE])
    assert segs and all(a.end_s <= b.start_s + 1e-6 for a, b in zip(segs, segs[1:]))
    assert any(s.phone != "SIL" for s in segs)


def test_ridge_recovers_a_linear_map_and_context_stacks_neighbours() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 3))
    y = x @ np.array([2.0, -1.0, 0.5]) + 0.3 + 0.01 * rng.standard_normal(400)
    fit = fit_ridge(x, y)
    assert np.corrcoef(fit.predict(x), y)[0, 1] > 0.99
    s = stack_context(np.arange(5.0)[:, None], 1, 1)
    assert s[0].tolist() == [0, 0, 1] and s[2].tolist() == [1, 2, 3] and s[4].tolist() == [3, 4, 4]


def test_at_frames_averages_hops_over_each_frame() -> None:
    hops = np.arange(100, dtype=float)  # 1 s at 10 ms
    frames = at_frames(hops, 10.0, 10)
    assert frames[0] == pytest.approx(4.5) and frames[9] == pytest.approx(94.5)


def test_mouth_model_round_trips_and_refuses_another_schema(tmp_path) -> None:
    rng = np.random.default_rng(1)
    feats = [rng.standard_normal((60, 4)), rng.standard_normal((80, 4))]
    opening = [f[:, 0] * 0.02 + 0.05 for f in feats]
    model = fit_model(feats, opening, ["a", "b"])
    path = tmp_path / "m.json"
    model.save(path)
    again = MouthModel.load(path)
    x = rng.standard_normal((5, 4))
    assert np.allclose(again.predict(x), model.predict(x))
    data = json.loads(path.read_text())
    data["schema"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(MouthModelMissing, match="another version"):
        MouthModel.load(path)
    with pytest.raises(MouthModelMissing, match="cannot read"):
        MouthModel.load(tmp_path / "missing.json")


def test_shipped_model_matches_the_features() -> None:
    from engine.speech.frontend import Analysis
    from engine.speech.learned import frame_features

    model = default_model()
    feats = frame_features(Analysis(speech_like(1.0, RATE)), 25.0, 25, model.feature_set)
    assert feats.shape == (25, len(model.coef))
    assert len(model.trained_on) >= 30 and len(model.shape_basis) == len(model.shape_gain) >= 3


def test_shipped_models_never_learned_from_research_only_clips() -> None:
    from engine.speech.learned import SHIPPED_MODELS, shipped_model
    from measure.evaluate.speakers import RESEARCH, clip_source

    for name in SHIPPED_MODELS:
        model = shipped_model(name)
        assert RESEARCH not in model.licences
        assert not [c for c in model.trained_on if clip_source(c).licence == RESEARCH]


@pytest.mark.parametrize("front_end", sorted(FRONT_ENDS))
def test_every_front_end_closes_the_mouth_in_silence(front_end: str) -> None:
    curves = predict_mouth(_speech_gap_speech(), 25.0, 75, front_end)
    assert curves.n_frames == 75
    assert curves.open[30:45].max() < 0.05, "open in the pause"
    assert not curves.speech[30:45].any() and curves.speech[5:20].all()
    if front_end in ("loudness", "mouth-model"):  # the phone recogniser hears a synthetic buzz as silence
        assert curves.open[:25].max() > 0.1 and curves.open[50:].max() > 0.1
    silent = predict_mouth(np.zeros(RATE, np.float32), 25.0, 25, front_end)
    assert not silent.open.any() and not silent.speech.any()


def test_unknown_front_end_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown front end"):
        predict_mouth(speech_like(1.0, RATE), 25.0, 25, "telepathy")


def test_targets_are_rank_mapped_to_the_presenters_own_openings() -> None:
    library = np.column_stack([np.linspace(0.0, 0.2, 101), np.full(101, 0.5)])
    rel = np.array([0.0, 0.5, 0.1, 0.9, 0.0])
    t = target_shapes(rel, np.zeros(5), library)
    assert t[0, 0] == t[4, 0] == pytest.approx(np.percentile(library[:, 0], 0.5))
    assert t[2, 0] < t[1, 0] < t[3, 0] <= np.percentile(library[:, 0], 97) + 1e-9


def test_selection_follows_the_targets_and_prefers_real_runs() -> None:
    # library: 200 template frames whose opening rises and falls smoothly
    k = np.arange(200)
    shapes = np.column_stack([0.1 + 0.1 * np.sin(k / 8.0), np.full(200, 0.5)])
    poses = np.zeros((200, 3))
    targets = np.column_stack([0.1 + 0.1 * np.sin(np.arange(60) / 8.0 + 1.0), np.full(60, 0.5)])
    path = select_sources(targets, np.zeros((60, 3)), shapes, poses, k)
    assert np.abs(shapes[path, 0] - targets[:, 0]).mean() < 0.02
    runs = np.mean(k[path][1:] == k[path][:-1] + 1)
    assert runs > 0.7, f"only {runs:.0%} of steps follow the template: it flickers"
    jumpy = select_sources(targets, np.zeros((60, 3)), shapes, poses, k, SelectionWeights(jump=0.0, jump_shape=0.0,
                                                                                          hold=0.0))
    assert np.abs(shapes[jumpy, 0] - targets[:, 0]).mean() <= np.abs(shapes[path, 0] - targets[:, 0]).mean() + 1e-9


def test_samples_that_are_not_numbers_are_heard_as_silence() -> None:
    """A damaged float file's NaN/inf samples neither crash the front end nor spread past their hops."""
    from engine.speech.features import power_spectrum

    x = (0.3 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)).astype(np.float32)
    clean, _ = power_spectrum(x)
    x[8000], x[8001] = np.nan, np.inf
    damaged, _ = power_spectrum(x)
    assert np.isfinite(damaged).all()
    assert np.allclose(damaged[:40], clean[:40]) and np.allclose(damaged[-40:], clean[-40:])
