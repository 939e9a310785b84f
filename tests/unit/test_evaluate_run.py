"""The evaluation protocol end to end on a synthetic talking clip: oracle, `none` backend, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dlib")
pytest.importorskip("dlib")

from engine.faces.canonical import to_canonical_series
from engine.media.audio import load_audio
from engine.media.probe import audio_duration
from engine.media.read import iter_frames
from engine.testing.media import make_test_video
from measure.cli import main
from measure.evaluate.clips import ClipSplit
from measure.evaluate.errors import EvaluationError
from measure.evaluate.metrics import pearson, smoothed_opening
from measure.evaluate.oracle import oracle_renderer
from measure.evaluate.renderers import BackendRenderer, Renderer
from measure.evaluate.report import SCHEMA, ClipReport
from measure.evaluate.run import RunResult, evaluate_clips
from measure.evaluate.synthetic import SyntheticClip
from measure.evaluate.tracking import cached_track_video, track_frames


@pytest.fixture(scope="module")
def oracle(talking: SyntheticClip, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return evaluate_clips([talking.path], oracle_renderer(), "oracle", workdir=tmp_path_factory.mktemp("w"),
                          landmark_cache=cache)


class SpyNone:
    """The `none` backend, recording what the renderer was given."""

    def __init__(self) -> None:
        self.seen: list[tuple[ClipSplit, Path, Path]] = []

    def __call__(self, split: ClipSplit) -> Renderer:
        spy = self

        class Wrapped(BackendRenderer):
            def __call__(self, template: Path, audio: Path, out: Path) -> None:
                spy.seen.append((split, template, audio))
                super().__call__(template, audio, out)

        return Wrapped("none", {})


@pytest.fixture(scope="module")
def spy() -> SpyNone:
    return SpyNone()


@pytest.fixture(scope="module")
def baseline(talking: SyntheticClip, cache: Path, spy: SpyNone, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return evaluate_clips([talking.path], spy, "none", workdir=tmp_path_factory.mktemp("w"), landmark_cache=cache,
                          sheet=True)


def one(result: RunResult) -> ClipReport:
    assert not result.failures, result.failures
    assert len(result.reports) == 1
    return result.reports[0]


def test_synthetic_clip_has_a_detectable_known_opening(talking: SyntheticClip, cache: Path) -> None:
    points = cached_track_video(talking.path, talking.fps, cache)
    assert len(points) == len(talking.envelope)
    assert np.isfinite(points).all()
    opening = smoothed_opening(to_canonical_series(points))
    assert pearson(opening, talking.envelope) > 0.9


def test_oracle_scores_perfect_sync(oracle: RunResult) -> None:
    r = one(oracle)
    assert r.renderer == "oracle" and r.frames == r.out_frames == 75 and r.template_frames == 75
    assert r.aperture_r > 0.95 and r.lag == 0 and r.aperture_r0 == r.aperture_r
    assert r.mouth_lmd < 0.01
    assert r.faces_out == r.faces_true == r.faces_template == 1.0
    assert r.short_clip  # 3 s halves
    assert r.baseline_lmd > 2 * r.mouth_lmd
    assert oracle.summary is not None and oracle.summary.medians["aperture_r"] == pytest.approx(r.aperture_r)


def test_loudness_and_silence_follow_the_built_in_envelope(oracle: RunResult) -> None:
    r = one(oracle)
    assert r.loudness_r > 0.7 and r.loudness_lag in (-1, 0, 1)
    assert 0.1 < r.silent_share < 0.4  # the 0.6 s pause (and quiet gaps) in a 3 s target
    assert r.silence_ratio_true < 0.85 and r.silence_ratio == pytest.approx(r.silence_ratio_true, abs=0.1)


def test_none_backend_scores_the_baseline(oracle: RunResult, baseline: RunResult) -> None:
    o, n = one(oracle), one(baseline)
    assert n.renderer == "none"
    assert n.aperture_r < o.aperture_r - 0.3
    assert n.mouth_lmd == pytest.approx(n.baseline_lmd, abs=0.004)  # same frames, re-encoded twice
    assert n.aperture_r == pytest.approx(n.baseline_r, abs=0.15)
    assert n.baseline_lmd == pytest.approx(o.baseline_lmd) and n.baseline_r == pytest.approx(o.baseline_r)
    assert n.loudness_r == pytest.approx(o.loudness_r)
    assert n.psnr_outside >= 40.0 and n.jitter_ratio == pytest.approx(1.0, abs=0.25)


def test_picture_figures_see_changes_outside_the_lower_face_and_added_shake(talking: SyntheticClip,
                                                                           tmp_path: Path) -> None:
    from engine.faces import detect_faces
    from engine.media.read import iter_frames
    from engine.testing.clips import write_clip
    from measure.evaluate import picture

    frames = list(iter_frames(talking.path))[:20]
    pts = np.stack([detect_faces(frames[0])[0].points.astype(np.float32)] * 20)
    same = write_clip(tmp_path / "same.mp4", frames, fps=talking.fps)
    bright = write_clip(tmp_path / "bright.mp4", [np.clip(f.astype(int) + 40, 0, 255).astype(np.uint8)
                                                  for f in frames], fps=talking.fps)
    assert picture.psnr_outside_lower_face(same, same, talking.fps, pts, 20) >= 60
    assert picture.psnr_outside_lower_face(bright, same, talking.fps, pts, 20) < 25
    rng = np.random.default_rng(0)
    steady = pts + np.linspace(0, 10, 20)[:, None, None]  # a smooth pan
    shaken = steady + rng.normal(0, 2.0, steady.shape).astype(np.float32)
    assert picture.jitter_ratio(steady, steady) == pytest.approx(1.0)
    assert picture.jitter_ratio(shaken, steady) > 1.5


@pytest.fixture(scope="module")
def other_spy() -> SpyNone:
    return SpyNone()


@pytest.fixture(scope="module")
def other_voice_run(talking: SyntheticClip, cache: Path, other_spy: SpyNone,
                    tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return evaluate_clips([talking.path], other_spy, "none", workdir=tmp_path_factory.mktemp("w"),
                          landmark_cache=cache, voice="other")


def test_other_voice_renders_resynthesised_audio_against_the_same_truth(
        other_voice_run: RunResult, other_spy: SpyNone, baseline: RunResult) -> None:
    r, own = one(other_voice_run), one(baseline)
    assert r.voice == "other" and own.voice == "own"
    assert other_voice_run.summary is not None and other_voice_run.summary.voice == "other"
    assert json.loads(r.to_json())["voice"] == "other"
    assert len(other_spy.seen) == 1
    split, template, audio = other_spy.seen[0]
    assert audio == split.target_audio and template == split.template
    original = template.with_name("astronaut.target.wav")
    assert audio != original and audio.parent == original.parent
    heard, truth = load_audio(audio, 16000), load_audio(original, 16000)
    assert heard.shape == truth.shape
    assert not np.allclose(heard, truth, atol=0.02)
    assert np.corrcoef(np.abs(heard), np.abs(truth))[0, 1] > 0.3  # same timing, another voice
    assert (r.frames, r.out_frames, r.template_frames) == (own.frames, own.out_frames, own.template_frames)
    figures = (r.aperture_r, r.mouth_lmd, r.loudness_r, r.silence_ratio, r.baseline_r)
    assert all(np.isfinite(v) for v in figures)
    assert r.loudness_r == pytest.approx(own.loudness_r)  # measured on the clip's own target audio
    assert r.mouth_lmd == pytest.approx(own.mouth_lmd, abs=0.004)  # `none` ignores the audio


def test_evaluate_refuses_an_unknown_voice(talking: SyntheticClip, cache: Path) -> None:
    with pytest.raises(EvaluationError, match="voice must be one of own, other"):
        evaluate_clips([talking.path], SpyNone(), "none", landmark_cache=cache, voice="robot")


def test_cli_passes_the_voice_on(talking: SyntheticClip, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    import measure.evaluate.run as run_module

    got: dict[str, object] = {}

    def fake(clips: list[str], factory: object, name: str, **kwargs: object) -> RunResult:
        got.update(kwargs)
        return RunResult()

    monkeypatch.setattr(run_module, "evaluate_clips", fake)
    assert main(["evaluate", str(talking.path), "--voice", "other"]) == 1  # no reports from the fake
    assert got["voice"] == "other"
    with pytest.raises(SystemExit):
        main(["evaluate", str(talking.path), "--voice", "robot"])
    assert "invalid choice" in capsys.readouterr().err


def test_renderer_sees_only_the_template_and_the_target_audio(baseline: RunResult, spy: SpyNone) -> None:
    r = one(baseline)
    assert len(spy.seen) == 1
    split, template, audio = spy.seen[0]
    assert template == split.template and audio == split.target_audio
    assert sum(1 for _ in iter_frames(template)) == r.template_frames
    assert audio_duration(audio) == pytest.approx(r.frames / r.fps, abs=1e-3)


def test_sheet_block_has_both_rows(baseline: RunResult) -> None:
    assert len(baseline.blocks) == 1
    block = baseline.blocks[0]
    assert 12 <= len(block.indices) <= 16 and block.indices[0] == 0 and block.indices[-1] == 74
    assert all(c is not None and c.shape == (84, 120, 3) for c in block.out_crops + block.true_crops)


def test_parallel_landmarks_equal_serial(talking: SyntheticClip) -> None:
    frames = [f for _, f in zip(range(6), iter_frames(talking.path))]
    assert np.array_equal(track_frames(frames, workers=2), track_frames(frames, workers=1))


def test_cli_writes_json_lines_sheet_and_reports_a_faceless_clip(
        talking: SyntheticClip, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faceless = make_test_video(tmp_path / "faceless.mp4", seconds=1.0)
    sheet, json_out = tmp_path / "sheet.png", tmp_path / "out.jsonl"
    code = main(["evaluate", str(talking.path), str(faceless), "--backend", "oracle", "--sheet", str(sheet),
                 "--json-out", str(json_out), "--cache-dir", str(cache), "--workers", "1"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["kind"] for d in lines] == ["clip", "error", "summary"]
    assert lines[0]["aperture_r"] > 0.95 and lines[0]["schema"] == SCHEMA == 2
    assert all(d["voice"] == "own" for d in lines)
    assert "no face" in lines[1]["error"]
    assert lines[2]["clips"] == 1 and lines[2]["failed"] == 1
    assert [json.loads(x) for x in json_out.read_text().splitlines()] == lines
    assert sheet.stat().st_size > 10_000


def test_cli_refuses_an_unknown_backend(talking: SyntheticClip, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(talking.path), "--backend", "no-such-backend"]) == 1
    assert "unknown backend" in capsys.readouterr().err
