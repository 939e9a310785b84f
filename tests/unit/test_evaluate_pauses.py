"""The pause test (QUALITY.md, "Pauses"): cutting pauses into speech, the figures, and one run end to end."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.media.audio import write_wav
from engine.testing.media import speech_like
from measure.evaluate.errors import EvaluationError
from measure.evaluate.pauses import PauseReport, insert_pauses, pause_figures, quiet_points, speech_frames

RATE = 16000


def envelope(t: np.ndarray) -> np.ndarray:
    """speech_like's syllable envelope (0 between syllables)."""
    return np.abs(np.sin(2 * np.pi * 2.1 * np.asarray(t))) ** 0.7


def original_times(spans: list[tuple[float, float]]) -> list[float]:
    """Where each pause was cut into the original signal (its start, less the pauses before it)."""
    out, before = [], 0.0
    for start, end in spans:
        out.append(start - before)
        before += end - start
    return out


def test_insert_pauses_cuts_silences_of_the_given_lengths_between_syllables() -> None:
    x = speech_like(6.0, RATE)
    pauses = (0.4, 0.8, 1.5)
    y, spans = insert_pauses(x, RATE, pauses)
    assert len(y) == len(x) + sum(round(p * RATE) for p in pauses)
    assert [round(end - start, 4) for start, end in spans] == list(pauses)
    assert all(b[0] > a[1] for a, b in zip(spans, spans[1:]))
    for start, end in spans:
        assert not y[round(start * RATE):round(end * RATE)].any()
        assert np.abs(y[round(end * RATE):round(end * RATE) + RATE // 4]).max() > 0.1  # speech goes on after it
    at = np.array(original_times(spans))
    assert (envelope(at) < 0.2).all(), at  # between syllables, not in one
    assert (np.diff(at) >= 1.0 - 1e-9).all() and at[0] >= 0.5 and at[-1] <= 5.5
    # away from the pauses (and their 5 ms fades) the speech is untouched
    cuts = np.round(at * RATE).astype(int)
    pieces = np.split(x, cuts)
    kept = [pieces[0][:-100]] + [p[100:-100] for p in pieces[1:-1]] + [pieces[-1][100:]]
    starts = [0] + [round(end * RATE) + 100 for _, end in spans]
    for piece, start in zip(kept, starts):
        assert np.array_equal(y[start:start + len(piece)], piece)


def test_insert_pauses_prefers_the_quietest_gaps() -> None:
    x = speech_like(6.0, RATE) + np.random.default_rng(3).standard_normal(6 * RATE).astype(np.float32) * 0.01
    clean = (1.190, 2.857, 4.524)  # syllable gaps k / 4.2 s, made digitally silent for 60 ms
    for t in clean:
        x[round((t - 0.03) * RATE):round((t + 0.03) * RATE)] = 0.0
    _, spans = insert_pauses(x, RATE, (0.5, 0.5, 0.5))
    assert np.allclose(original_times(spans), clean, atol=0.03)


def test_insert_pauses_refuses_speech_too_short_for_its_pauses() -> None:
    with pytest.raises(EvaluationError, match="longer speech recording"):
        insert_pauses(speech_like(2.0, RATE), RATE)
    with pytest.raises(EvaluationError, match="silent"):
        quiet_points(np.zeros(RATE * 5, np.float32), RATE, 3)


def test_pause_figures_on_a_hand_made_opening() -> None:
    fps = 25.0
    x = np.ones(200)  # 8 s, speech opening 1.0
    speech = np.ones(200, bool)
    # pause 1 [2.0, 3.0) = frames 50..74: closes at frame 53 (2.12 s), speech comes back at 3.0 s
    x[53:75] = 0.1
    # pause 2 [5.0, 5.8) = frames 125..144: hangs open at 0.6, with wide frames in its first and last 100 ms
    x[125:145] = 0.6
    x[[125, 126, 127, 143, 144]] = 5.0
    x[145:153] = 0.2  # 5.8..6.08 s: the mouth stays shut after it (frames not counted as speech)
    speech[145:153] = False
    x[180:183] = np.nan  # no face: left out
    speech[50:75] = speech[125:145] = False
    r = pause_figures(x, fps, [(2.0, 3.0), (5.0, 5.8)], speech)
    assert isinstance(r, PauseReport)
    assert r.speech_mean_opening == pytest.approx(1.0)
    # inside: frames 53..72 (20 x 0.1) and 128..142 (15 x 0.6)
    assert r.pause_mean_opening == pytest.approx((20 * 0.1 + 15 * 0.6) / 35)
    assert r.pause_ratio == pytest.approx(11 / 35)
    first, second = r.pauses
    assert first["closed_by_ms"] == pytest.approx(120.0) and first["reopens"] is True
    assert first["ratio"] == pytest.approx(0.1) and first["length_s"] == pytest.approx(1.0)
    assert second["closed_by_ms"] is None and second["reopens"] is False
    assert second["ratio"] == pytest.approx(0.6)
    line = json.loads(r.to_json())
    assert line["kind"] == "pause" and line["schema"] == 1 and line["pauses"][1]["closed_by_ms"] is None


def test_pause_figures_without_speech_frames_give_no_ratio() -> None:
    r = pause_figures(np.zeros(50), 25.0, [(0.5, 1.5)], np.zeros(50, bool))
    assert np.isnan(r.pause_ratio) and r.pauses[0]["closed_by_ms"] is None and r.pauses[0]["reopens"] is False
    assert json.loads(r.to_json())["pause_ratio"] is None


def test_speech_frames_leave_out_pauses_and_silence() -> None:
    y, spans = insert_pauses(speech_like(6.0, RATE), RATE)
    mask = speech_frames(y, RATE, 25.0, int(len(y) / RATE * 25), spans)
    times = np.arange(len(mask)) / 25.0
    for start, end in spans:
        assert not mask[(times >= start) & (times < end)].any()
    assert mask.mean() > 0.5


@pytest.fixture(scope="module")
def presenter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("dlib")
    pytest.importorskip("dlib")
    from measure.evaluate.synthetic import make_talking_clip

    return make_talking_clip(tmp_path_factory.mktemp("presenter") / "astronaut.mp4", seconds=4.0).path


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_wav(tmp_path_factory.mktemp("speech") / "speech.wav", speech_like(4.0, RATE)[None, :], RATE)


class LoudnessMouth:
    """A renderer that opens the synthetic face's mouth with the loudness of each frame's sound (shut in pauses)."""

    name = "loudness-mouth"

    def __call__(self, template: Path, audio: Path, out: Path) -> None:
        from engine.faces import detect_faces
        from engine.media.audio import load_audio
        from measure.evaluate.clips import ClipCut, write_av
        from measure.evaluate.synthetic import AUDIO_RATE, FRAME_SIZE, base_face, open_mouth

        fps = 25.0
        sound = load_audio(audio, AUDIO_RATE, mono=True)
        n = round(len(sound) / AUDIO_RATE * fps)
        padded = np.pad(sound, (0, max(0, n * 640 - len(sound))))[: n * 640]
        rms = np.sqrt(np.mean(padded.reshape(n, 640) ** 2, axis=1))
        face = base_face()
        points = detect_faces(face)[0].points
        cut = ClipCut(source=out, fps=fps, width=FRAME_SIZE, height=FRAME_SIZE, n_frames=n, template_frames=n // 2,
                      audio_rate=AUDIO_RATE, channels=1, audio_offset_s=0.0)
        write_av(out, (open_mouth(face, points, 14.0 * e) for e in rms / rms.max()), sound[None, :], cut, crf=20)


@pytest.fixture(scope="module")
def none_run(presenter: Path, speech: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[PauseReport, Path]:
    from measure.evaluate.pauses import run_pause_test

    workdir = tmp_path_factory.mktemp("none")
    return run_pause_test(presenter, speech, "none", {"crf": 23}, workdir), workdir


def test_pause_test_end_to_end_with_the_none_backend(none_run: tuple[PauseReport, Path]) -> None:
    r, workdir = none_run
    assert (r.video, r.backend, r.speech) == ("astronaut.mp4", "none", "speech.wav")
    assert [p["length_s"] for p in r.pauses] == pytest.approx([0.4, 0.8, 1.5])
    assert r.frames == round((4.0 + 2.7) * 25) and r.faces_out == 1.0
    assert r.speech_mean_opening > 0
    assert r.pause_ratio > 0.7  # `none` keeps the presenter talking through every pause
    assert all(p["reopens"] for p in r.pauses)
    assert (workdir / "speech.paused.wav").is_file() and (workdir / "astronaut.none.paused.mp4").is_file()


def test_pause_test_scores_a_mouth_that_shuts_in_pauses_lower(
        none_run: tuple[PauseReport, Path], presenter: Path, speech: Path, tmp_path: Path) -> None:
    from measure.evaluate.pauses import run_pause_test

    r = run_pause_test(presenter, speech, LoudnessMouth(), workdir=tmp_path)
    assert r.backend == "loudness-mouth" and r.frames == none_run[0].frames
    # the astronaut's shut mouth still shows a gap between the inner lips (about 0.6 of her speech
    # mean), so even a perfect mouth cannot reach 0 on this face; it must still beat `none` clearly
    assert r.pause_ratio < none_run[0].pause_ratio - 0.2
    spread = [p["mean_opening"] for p in r.pauses]
    assert max(spread) - min(spread) < 0.02  # shut alike in every pause


def test_cli_writes_a_line_per_video_and_a_summary(speech: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import measure.evaluate.pauses as pauses
    from measure.cli import main

    videos = [tmp_path / f"{name}.mp4" for name in ("a", "b", "c", "bad")]
    for v in videos:
        v.write_bytes(b"")
    ratios = {"a": 0.2, "b": 0.8, "c": 0.5}
    seen: list[dict[str, object]] = []

    def fake(video: str, wav: str, backend: str, options: dict[str, object], workdir: object,
             workers: int = 1) -> PauseReport:
        seen.append(options)
        if Path(video).stem not in ratios:
            raise EvaluationError("no face found in the output")
        return PauseReport(video=Path(video).name, backend=backend, speech=Path(wav).name,
                           pause_ratio=ratios[Path(video).stem])

    monkeypatch.setattr(pauses, "run_pause_test", fake)
    out = tmp_path / "pauses.jsonl"
    code = main(["pausetest", *map(str, videos), "--speech", str(speech), "--backend", "none",
                 "--option", "front_end=phones", "--json-out", str(out)])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["kind"] for d in lines] == ["pause", "pause", "pause", "error", "pause-summary"]
    assert lines[3]["video"] == "bad.mp4" and "no face" in lines[3]["error"]
    summary = lines[-1]
    assert (summary["videos"], summary["failed"]) == (3, 1)
    assert summary["median_pause_ratio"] == pytest.approx(0.5) and summary["max_pause_ratio"] == pytest.approx(0.8)
    assert [json.loads(x) for x in out.read_text().splitlines()] == lines
    assert seen[0]["front_end"] == "phones" and seen[0]["device"] == "cpu"


def test_cli_refuses_missing_files_and_unknown_backends(speech: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from measure.cli import main

    assert main(["pausetest", str(tmp_path / "nope.mp4"), "--speech", str(speech), "--backend", "none"]) == 1
    assert "file not found" in capsys.readouterr().err
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    assert main(["pausetest", str(video), "--speech", str(speech), "--backend", "no-such-backend"]) == 1
    assert "unknown backend" in capsys.readouterr().err


def test_speech_sheet_window_starts_before_the_first_pause_after_speech(tmp_path) -> None:
    from measure.evaluate.speechsheet import loudness_tile, speech_sheet, window_with_pause
    from measure.evaluate.synthetic import make_talking_clip

    silent = np.array([True] * 10 + [False] * 30 + [True] * 20 + [False] * 40)
    assert window_with_pause(silent, 28) == 40 - 28 // 3  # the leading silence is not a pause
    assert window_with_pause(np.zeros(50, bool), 28) == 0
    speech_tile, quiet_tile = loudness_tile(1.0, False), loudness_tile(0.0, True)
    assert (speech_tile != quiet_tile).any() and speech_tile.shape == quiet_tile.shape
    clip = make_talking_clip(tmp_path / "talk.mp4", seconds=3.0)
    png = speech_sheet([(clip.path, "synthetic")], tmp_path / "sheet.png")
    assert png.stat().st_size > 1000
