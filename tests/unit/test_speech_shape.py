"""Mouth shape from speech: Praat formants on synthetic vowels, the shape components, the
multi-output model, the public clips' speaker table, and the rewrite backend's use of shape
(selection by shape scores, the bounded warp towards the wanted shape)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from speech_media import RATE, vowel

from engine.backends.rewrite.plan import MAX_SHAPE_MOVE, MOUTH, SHAPE_PULL, adjust_shape
from engine.backends.rewrite.select import select_sources
from engine.faces.canonical import CANONICAL_68
from engine.speech.formants import formant_features, formant_tracks
from engine.speech.learned import MouthModel, fit_model, shape_basis
from measure.evaluate.speakers import OPEN, RESEARCH, clip_source, speaker_of


def test_formants_of_synthetic_vowels_are_found() -> None:
    a = vowel(750.0, 1200.0, 0.6)  # /a/: open jaw
    tracks = formant_tracks(a, len(a) // 160)
    mid = tracks[10:-10]
    assert np.nanmedian(mid[:, 0]) == pytest.approx(750.0, rel=0.15)
    assert np.nanmedian(mid[:, 1]) == pytest.approx(1200.0, rel=0.15)
    assert np.median(mid[:, 3]) == pytest.approx(120.0, rel=0.05)


def test_normalised_formants_tell_open_from_spread_vowels() -> None:
    a, i = vowel(750.0, 1200.0, 0.5), vowel(300.0, 2300.0, 0.5)  # /a/ then /i/
    x = np.concatenate([a, np.zeros(RATE // 4), i])
    f = formant_features(x, len(x) // 160)
    on_a, on_i = f[10:40], f[85:115]
    assert on_a[:, 4].all() and on_i[:, 4].all() and not f[60:70, 4].any()  # voicing flag
    assert on_a[:, 0].mean() > 0.5 > -0.5 > on_i[:, 0].mean()  # F1 z-score: /a/ high, /i/ low
    assert on_i[:, 1].mean() > 0.5 > -0.5 > on_a[:, 1].mean()  # F2 z-score: /i/ high
    assert not f[60:70, :4].any()  # unvoiced hops sit at the speaker's mean


def test_formants_of_silence_and_tiny_input_are_neutral() -> None:
    assert not formant_features(np.zeros(RATE), 100).any()
    assert formant_features(np.zeros(10), 5).shape == (5, 6)


def _mouths(openings: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """(n, 20, 2) canonical mouths: the mean face's mouth, lower lip down by the opening, corners out by the width."""
    base = CANONICAL_68[48:68]
    out = np.repeat(base[None], len(openings), axis=0).copy()
    lower = np.array([55, 56, 57, 58, 59, 64, 65, 66, 67]) - 48
    out[:, lower, 1] += openings[:, None]
    out[:, 0, 0] -= widths
    out[:, 6, 0] += widths
    out[:, 12, 0] -= widths
    out[:, 16, 0] += widths
    return out


def test_shape_basis_finds_opening_first_with_a_positive_sign() -> None:
    rng = np.random.default_rng(0)
    o, w = rng.uniform(0, 0.2, 300), rng.uniform(-0.02, 0.02, 300)
    basis = shape_basis([_mouths(o, w)], components=2)
    scores = (_mouths(o, w).reshape(300, -1) - _mouths(o, w).reshape(300, -1).mean(0)) @ basis.T
    assert np.corrcoef(scores[:, 0], o)[0, 1] > 0.99
    assert abs(np.corrcoef(scores[:, 1], w)[0, 1]) > 0.9


def test_model_learns_opening_width_and_shape_and_round_trips(tmp_path) -> None:
    rng = np.random.default_rng(1)
    feats, openings, widths, mouths = [], [], [], []
    for _clip in range(4):
        x = rng.standard_normal((200, 3))
        o = 0.1 + 0.04 * x[:, 0]
        w = 0.5 + 0.01 * x[:, 1]
        feats.append(x)
        openings.append(o)
        widths.append(w)
        mouths.append(_mouths(o, (w - 0.5)))
    model = fit_model(feats, openings, [f"c{i}" for i in range(4)], widths=widths, mouths=mouths, penalty=0.1)
    x = rng.standard_normal((100, 3))
    rel, width_z, shape = model.curves(x)
    assert np.corrcoef(rel, x[:, 0])[0, 1] > 0.99
    assert np.corrcoef(width_z, x[:, 1])[0, 1] > 0.99
    assert np.corrcoef(shape[:, 0], x[:, 0])[0, 1] > 0.99  # the first component is the opening
    path = tmp_path / "m.json"
    model.save(path)
    again = MouthModel.load(path)
    assert np.allclose(again.predict(x), model.predict(x))
    assert path.stat().st_size < 20000


def test_public_clips_are_grouped_by_person_not_by_file() -> None:
    assert speaker_of("lipnet_bbaf2n.mp4") == speaker_of("lipread-ansh_video_20251208_015857_cac80689.mp4")
    assert speaker_of("deepavsr_00001.mp4") != speaker_of("deepavsr_00004.mp4")
    assert speaker_of("styletalk_andrew_clip_1.mp4") == speaker_of("styletalk_andrew_clip_2.mp4")
    assert clip_source("lipnet_swiz3n.mp4").licence == OPEN
    assert clip_source("emollama_sample_00000669.mp4").licence == RESEARCH
    assert clip_source("emollama_sample_00000669.mp4").language == "zh"
    assert speaker_of("my_presenter_3.mp4") == "my_presenter"  # unknown clips: stem without numbers


def test_selection_uses_shape_scores_beyond_opening_and_width() -> None:
    # two library halves with the same openings and widths, told apart only by a third score
    n = 100
    shapes = np.column_stack([np.tile(np.linspace(0, 0.2, n // 2), 2), np.full(n, 0.5),
                              np.r_[np.full(n // 2, -1.0), np.full(n // 2, 1.0)]])
    frames = np.arange(n)
    targets = np.column_stack([np.full(20, 0.1), np.full(20, 0.5), np.full(20, 1.0)])
    path = select_sources(targets, np.zeros((20, 3)), shapes, np.zeros((n, 3)), frames)
    assert (path >= n // 2).all(), "chose mouths of the wrong shape"
    targets[:, 2] = -1.0
    assert (select_sources(targets, np.zeros((20, 3)), shapes, np.zeros((n, 3)), frames) < n // 2).all()


def test_shape_warp_is_bounded_and_follows_the_face_rotation() -> None:
    face = CANONICAL_68 * 100 + 200  # upright, 100 px between the outer eye corners
    delta = np.zeros(40)
    delta[1::2] = 0.02  # every mouth point 0.02 units down
    moved = adjust_shape(face, delta)
    assert np.allclose(moved[MOUTH] - face[MOUTH], [0, 0.02 * SHAPE_PULL * 100], atol=1e-3)
    assert np.allclose(moved[:48], face[:48])
    theta = np.pi / 2  # the same face turned a quarter: "down" now points to the image's -x
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    turned = (CANONICAL_68 * 100) @ rot.T + 200
    moved = adjust_shape(turned, delta)
    assert np.allclose(moved[MOUTH] - turned[MOUTH], [-0.02 * SHAPE_PULL * 100, 0], atol=1e-3)
    huge = adjust_shape(face, np.full(40, 1.0))
    assert np.linalg.norm(huge[MOUTH] - face[MOUTH], axis=1).max() <= MAX_SHAPE_MOVE * 100 + 1e-3


def test_the_default_model_never_runs_the_english_phone_recogniser(monkeypatch) -> None:
    from engine.speech import frontend, predict_mouth
    from engine.speech.learned import shipped_model
    from engine.testing.media import speech_like

    def refuse(*args, **kwargs):
        raise AssertionError("the phone recogniser ran")

    monkeypatch.setattr(frontend, "recognise_phones", refuse)
    audio = np.concatenate([speech_like(1.0, RATE), np.zeros(RATE // 2, np.float32)])
    curves = predict_mouth(audio, 25.0, 37)
    assert curves.open[:20].max() > 0.1 and curves.speech[:20].any() and not curves.speech[30:].any()
    assert not curves.round.any()
    with pytest.raises(AssertionError, match="phone recogniser ran"):  # the English model does hear phones
        predict_mouth(audio, 25.0, 37, model=shipped_model("en"))


def _model_json(tmp_path, **changes):
    import json

    from engine.speech.learned import SHIPPED_MODELS

    data = json.loads(SHIPPED_MODELS["default"].read_text())
    data.update(changes)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    return path


def test_a_model_trained_on_other_inputs_is_refused_before_rendering(tmp_path) -> None:
    from engine.speech import predict_mouth
    from engine.speech.learned import MouthModelMissing
    from engine.testing.media import speech_like

    rng = np.random.default_rng(2)
    feats = [rng.standard_normal((80, 3)) for _ in range(2)]
    model = fit_model(feats, [f[:, 0] for f in feats], ["a", "b"])  # 3 inputs: no feature set gives that
    with pytest.raises(MouthModelMissing, match="takes 3 inputs"):
        predict_mouth(speech_like(1.0, RATE), 25.0, 25, model=model)


@pytest.mark.parametrize("changes", [{"coef": [[1.0]]}, {"mean": "zero"}, {"intercept": [0.0, None]},
                                     {"shape_gain": [1.0]}, {"scale": [float("nan")] * 140}, {"context": 3},
                                     {"y_open": [1, 2]}])
def test_a_damaged_model_file_is_refused_with_its_name(tmp_path, changes) -> None:
    from engine.speech.learned import MouthModelMissing

    path = _model_json(tmp_path, **changes)
    with pytest.raises(MouthModelMissing, match="model.json is damaged"):
        MouthModel.load(path)


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=4), max_leaves=12))
def test_any_json_either_loads_as_a_model_or_is_refused_readably(tmp_path_factory, value) -> None:
    import json

    from engine.speech.learned import MouthModelMissing

    path = tmp_path_factory.mktemp("fuzz") / "m.json"
    path.write_text(json.dumps(value))
    with pytest.raises(MouthModelMissing, match="mouth model"):
        MouthModel.load(path)
