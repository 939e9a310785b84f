"""The front-end comparison and the mouth-model training on synthetic talking clips made at test time:
speaker groups, held-out models, the scores table and the train-mouth CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.speech.learned import MouthModel
from measure.cli import main
from measure.evaluate.frontends import compare, held_out_models, load_clip, table
from measure.evaluate.speakers import speaker_group
from measure.evaluate.synthetic import make_talking_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fe")
    return [make_talking_clip(folder / f"{name}.mp4", seconds=4.0, seed=seed).path
            for name, seed in (("anna_1", 1), ("anna_2", 2), ("bob", 3))]


def test_speaker_groups_drop_numbered_parts() -> None:
    assert speaker_group("styletalk_andrew_clip_2.mp4") == "styletalk_andrew_clip"
    assert speaker_group("pcavs_741400104.mp4") == "pcavs"
    assert speaker_group("mimictalk_German_20s.mp4") == "mimictalk_German_20s"


def test_held_out_models_never_see_their_speaker(clips, tmp_path) -> None:
    data = [load_clip(c, tmp_path / "lm") for c in clips]
    models = held_out_models(data)
    assert set(models) == {"anna", "bob"}
    assert models["anna"].trained_on == ["bob.mp4"]
    assert sorted(models["bob"].trained_on) == ["anna_1.mp4", "anna_2.mp4"]


def test_compare_scores_every_front_end(clips, tmp_path) -> None:
    scores = compare(clips, ["loudness", "mouth-model"], tmp_path / "lm", voice=False)
    assert len(scores) == 6
    loud = [s for s in scores if s.front_end == "loudness"]
    # the synthetic mouth opens exactly with the buzz's loudness
    assert all(s.aperture_r > 0.6 for s in loud), [s.aperture_r for s in loud]
    assert all(np.isnan(s.aperture_r_voice) for s in scores)
    text = table(scores)
    assert "| loudness |" in text and "| mouth-model |" in text and "anna_1" in text


def test_nested_validation_never_lets_the_held_out_speaker_choose(clips, tmp_path, monkeypatch) -> None:
    from measure.evaluate import training

    data = [training.prepare(load_clip(c, tmp_path / "lm"), voice=False) for c in clips]
    seen: list[set[str]] = []
    real = training.choose_penalty

    def spy(train, *args, **kwargs):
        seen.append({c.speaker for c in train})
        return real(train, *args, **kwargs)

    monkeypatch.setattr(training, "choose_penalty", spy)
    scores = training.leave_one_speaker_out(data, "no-phones")
    assert sorted(s.clip for s in scores) == ["anna_1.mp4", "anna_2.mp4", "bob.mp4"]
    assert seen == [{"bob"}, {"anna"}]  # held out: anna, then bob
    for s in scores:
        assert s.penalty in training.PENALTIES and np.isnan(s.aperture_r_voice)
        # the synthetic mouth opens with the buzz's loudness: a model from the other speaker learns that
        assert s.aperture_r > 0.6, s
        assert s.shape_lmd < s.baseline_lmd and s.mean_lmd > 0
    text = training.table(scores)
    assert "| **median, all clips** (3) |" in text and "anna_2.mp4 (anna, en" in text


def test_train_mouth_cli_writes_the_model_and_held_out_ones(clips, tmp_path, capsys) -> None:
    out = tmp_path / "model.json"
    rc = main(["train-mouth", *map(str, clips), "--out", str(out), "--holdout-dir", str(tmp_path / "held"),
               "--cache-dir", str(tmp_path / "lm")])
    assert rc == 0 and "3 clips of open, unknown licence" in capsys.readouterr().out
    model = MouthModel.load(out)
    assert len(model.trained_on) == 3 and model.y_open > model.y_closed
    assert sorted(p.name for p in (tmp_path / "held").iterdir()) == ["anna.json", "bob.json"]
    assert json.loads((tmp_path / "held" / "bob.json").read_text())["trained_on"] == ["anna_1.mp4", "anna_2.mp4"]
