"""The template check: the mouth classifier on synthetic landmark series, the check on clips made at test
time (a talking face, a face that never moves, a photo, no face, broken files) and its CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.errors import EngineError, MediaError
from engine.faces.canonical import CANONICAL_68, to_canonical_series
from engine.template_check import (
    USABLE_FOR_SPEECH,
    MouthClass,
    TemplateReport,
    UnreadableTemplate,
    Verdict,
    check_before_render,
    check_template,
    classify_mouths,
)
from engine.template_check.report import opening_cycles
from engine.testing.media import make_corrupt_file, make_test_audio, make_test_video

LOWER_LIP = [55, 56, 57, 58, 59, 65, 66, 67]
LEFT, RIGHT = (48, 60), (54, 64)  # outer and inner corner of each side


# --- synthetic canonical mouths ------------------------------------------------------------------

def mouth(opening: float = 0.0, widen: float = 0.0, raise_: float = 0.0, smirk: float = 0.0,
          base: np.ndarray | None = None) -> np.ndarray:
    """A canonical face whose mouth is opened, widened with both corners raised (a smile), or pulled up and
    out on the image's right side only (a smirk). Lengths in canonical units (eye corners 1 apart)."""
    c = (CANONICAL_68 if base is None else base).copy()
    c[LOWER_LIP, 1] += opening
    for side, sign in ((LEFT, -1.0), (RIGHT, 1.0)):
        c[list(side), 0] += sign * widen / 2
        c[list(side), 1] -= raise_
    c[list(RIGHT), 0] += smirk / 2
    c[list(RIGHT), 1] -= smirk
    return c


def presenter(base: np.ndarray | None = None, seed: int = 0) -> tuple[np.ndarray, dict[str, slice]]:
    """One presenter's series: closed, talking, smiling, smirking and face-less stretches (small jitter)."""
    rng = np.random.default_rng(seed)
    frames, groups = [], {}

    def add(name: str, shapes: list[np.ndarray]) -> None:
        groups[name] = slice(len(frames), len(frames) + len(shapes))
        frames.extend(shapes)

    add("closed", [mouth(base=base) for _ in range(120)])
    add("speech", [mouth(rng.uniform(0.05, 0.2), rng.uniform(-0.03, 0.03), base=base) for _ in range(120)])
    add("smile", [mouth(rng.uniform(0.0, 0.08), 0.14, 0.05, base=base) for _ in range(30)])
    add("smirk", [mouth(0.0, 0.0, 0.0, 0.06, base=base) for _ in range(20)])
    add("no_face", [np.full((68, 2), np.nan) for _ in range(10)])
    series = np.array(frames)
    series[:, 48:68] += rng.normal(0, 0.002, series[:, 48:68].shape)
    return series, groups


def shares(classes: np.ndarray, part: slice) -> dict[str, float]:
    return {c.value: float(np.mean(classes[part] == c)) for c in MouthClass}


def test_each_mouth_class_is_found_in_a_synthetic_presenter() -> None:
    series, groups = presenter()
    classes = classify_mouths(series)
    assert classes.shape == (len(series),)
    expected = {"closed": MouthClass.CLOSED, "speech": MouthClass.SPEECH, "smile": MouthClass.EXPRESSION,
                "smirk": MouthClass.ASYMMETRIC, "no_face": MouthClass.NO_FACE}
    for name, wanted in expected.items():
        assert shares(classes, groups[name])[wanted.value] >= 0.9, (name, shares(classes, groups[name]))
    # the result compares with the enum and selects the mouths a lip-sync can speak with
    usable = np.isin(classes, USABLE_FOR_SPEECH)
    assert usable[groups["closed"]].all() and not usable[groups["smile"]].any()
    assert (classes == MouthClass.SPEECH).sum() == np.sum(classes == "speech") > 100


def test_classes_do_not_depend_on_where_the_face_is_in_the_picture() -> None:
    series, groups = presenter(seed=1)
    angle, scale, shift = 0.2, 180.0, np.array([300.0, 220.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    image = series @ rot.T * scale + shift  # the same faces, turned, scaled and moved in the image
    np.testing.assert_array_equal(classify_mouths(to_canonical_series(image)), classify_mouths(series))


def test_a_wide_resting_mouth_is_that_presenters_neutral_not_a_smile() -> None:
    # presenter B rests with the mouth presenter A shows when smiling (wide, corners raised)
    smile_of_a = mouth(0.0, 0.14, 0.05)
    a, a_groups = presenter(seed=2)
    b, b_groups = presenter(base=smile_of_a, seed=2)
    a_classes, b_classes = classify_mouths(a), classify_mouths(b)
    assert shares(a_classes, a_groups["smile"])["expression"] >= 0.9
    assert shares(b_classes, b_groups["closed"])["closed"] >= 0.9  # the same mouth, B's own neutral
    assert shares(b_classes, b_groups["smile"])["expression"] >= 0.9  # B's smile is wider still


def test_closed_is_measured_from_the_presenters_own_resting_lips() -> None:
    # presenter B's lips never quite meet (0.03 apart at rest); A's meet
    a, a_groups = presenter(seed=3)
    b, b_groups = presenter(base=mouth(0.03), seed=3)
    a_ajar = a.copy()
    a_ajar[a_groups["closed"]] = [mouth(0.03) for _ in range(120)]
    assert shares(classify_mouths(b), b_groups["closed"])["closed"] >= 0.9
    # the same 0.03 gap on a presenter whose lips close: open (speech), when A's own closed frames exist
    mixed = np.concatenate([a, np.array([mouth(0.032) for _ in range(10)])])
    assert shares(classify_mouths(mixed), slice(len(a), len(mixed)))["speech"] >= 0.9


def test_no_face_at_all_and_bad_input() -> None:
    assert (classify_mouths(np.full((5, 68, 2), np.nan)) == MouthClass.NO_FACE).all()
    with pytest.raises(ValueError, match="68, 2"):
        classify_mouths(np.zeros((5, 20, 2)))


def test_opening_cycles_count_up_and_down_swings_only() -> None:
    t = np.arange(0, 4, 0.1)
    talking = 0.1 * (1 + np.sin(2 * np.pi * 2 * t))  # 2 cycles a second, 0.2 from shut to open
    assert len(opening_cycles(t, talking, 0.04)) == pytest.approx(8, abs=1)
    assert len(opening_cycles(t, np.linspace(0, 0.3, len(t)), 0.04)) == 0  # opening once is no cycle
    gappy = talking.copy()
    gappy[::3] = np.nan  # every third sample missing: no cycle is completed across a gap
    assert len(opening_cycles(t, gappy, 0.04)) <= len(opening_cycles(t, talking, 0.04))


# --- the check on clips made at test time -------------------------------------------------------

@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import cv2

    from engine.testing.clips import write_clip
    from measure.evaluate.synthetic import base_face, make_talking_clip

    d = tmp_path_factory.mktemp("template")
    face = base_face()
    photo = d / "photo.png"
    cv2.imwrite(str(photo), np.ascontiguousarray(face[:, :, ::-1]))
    return {
        "talking": make_talking_clip(d / "talking.mp4", seconds=5.0).path,
        "still": write_clip(d / "still.mp4", [face] * 75, fps=25),
        "photo": photo,
        "no_face": make_test_video(d / "numbers.mp4", seconds=1.0),
        "corrupt": make_corrupt_file(d / "broken.mp4"),
        "audio": make_test_audio(d / "speech.wav", seconds=1.0),
    }


def test_a_talking_clip_is_not_poor_and_shows_speech(clips) -> None:
    report = check_template(clips["talking"])
    assert report.source == "sampled" and report.sample_rate_hz == 10
    assert report.verdict in (Verdict.GOOD, Verdict.USABLE)
    assert report.face_share == 1.0 and report.face_px > 100 and report.face_height_share > 0.2
    assert report.speech_share > 0.6 and report.speech_s > 3
    assert report.classes["speech"] > 0.3 and report.opening_range_rel > 0.1 and report.distinct_shapes >= 2
    assert report.yaw < 0.1 and report.pitch < 0.1 and report.roll_deg < 10
    # 5 s of speech is short: the advice says so, in both languages
    short = [a for a in report.advice if a["code"] == "short_speech"]
    assert short and "10 秒" in short[0]["zh"] and "10 s or more" in short[0]["en"]


def test_the_cached_face_track_is_used_and_the_daemons_check_makes_it(clips, tmp_path) -> None:
    from engine.faces.track import cached_track

    cache = tmp_path / "cache"
    sampled = check_template(clips["talking"], cache_dir=cache)
    assert sampled.source == "sampled" and cached_track(clips["talking"], cache) is None  # nothing stored
    first = check_before_render(clips["talking"], {"backend": "identity", "cache_dir": str(cache)})
    track = cached_track(clips["talking"], cache)
    assert first.source == "track" and track is not None and first.frames_analysed == track.n_frames == 125
    again = check_template(clips["talking"], cache_dir=cache)
    assert again.source == "track" and again.to_dict() | {"check_s": 0} == first.to_dict() | {"check_s": 0}
    assert again.verdict == sampled.verdict and abs(again.speech_share - sampled.speech_share) < 0.2
    # `none` never tracks faces: its check samples frames
    other = tmp_path / "other"
    assert check_before_render(clips["talking"], {"backend": "none", "cache_dir": str(other)}).source == "sampled"
    assert cached_track(clips["talking"], other) is None


def test_a_face_that_never_moves_is_poor_with_advice(clips) -> None:
    report = check_template(clips["still"])
    assert report.verdict == Verdict.POOR and report.face_share == 1.0
    assert report.speech_share == 0 and report.opening_range_rel < 0.05 and report.distinct_shapes <= 1
    codes = [a["code"] for a in report.advice]
    assert codes[0] == "little_speech" and "few_shapes" in codes
    assert all(a["zh"] and a["en"] for a in report.advice)
    assert "请录制 10 秒以上正对镜头讲话的视频" in report.advice[0]["zh"]
    assert report.summary == {"zh": "模板较差：口型同步效果会不自然。",
                              "en": "Poor template: the lip-sync will not look natural."}


def test_a_photo_is_poor_and_said_to_be_a_photo(clips) -> None:
    report = check_template(clips["photo"])
    assert report.is_image and report.frames_analysed == 1 and report.verdict == Verdict.POOR
    assert report.advice[0]["code"] == "photo" and "照片" in report.advice[0]["zh"]


def test_no_face_is_poor(clips) -> None:
    report = check_template(clips["no_face"])
    assert report.verdict == Verdict.POOR and report.face_share == 0
    assert [a["code"] for a in report.advice] == ["no_face"]


def test_the_report_is_json_with_a_schema(clips) -> None:
    report = check_template(clips["still"])
    data = json.loads(report.to_json())
    assert data["schema"] == 1 and data["verdict"] == "poor" and data["video"] == "still.mp4"
    assert set(data["classes"]) == {c.value for c in MouthClass}
    assert isinstance(report, TemplateReport)


@pytest.mark.parametrize("name, reason", [
    ("corrupt", "cannot check 'broken.mp4': not a media file or corrupt"),
    ("audio", "cannot check 'speech.wav': it has no picture"),
])
def test_unreadable_files_raise_a_readable_error(clips, name: str, reason: str) -> None:
    with pytest.raises(UnreadableTemplate) as caught:
        check_template(clips[name])
    assert isinstance(caught.value, MediaError) and isinstance(caught.value, EngineError)
    message = str(caught.value)
    assert message.startswith(reason) and "\n" not in message and "choose another file" in message


def test_a_missing_file_says_so(tmp_path) -> None:
    with pytest.raises(UnreadableTemplate, match="cannot check 'gone.mp4': file not found; check the path"):
        check_template(tmp_path / "gone.mp4")


# --- python -m engine check ------------------------------------------------------------------------

def test_cli_json_lines_and_one_readable_line_per_bad_file(clips, capsys) -> None:
    from engine.cli import main

    rc = main(["check", "--json", str(clips["talking"]), str(clips["corrupt"]), str(clips["still"])])
    cap = capsys.readouterr()
    lines = [json.loads(line) for line in cap.out.splitlines()]
    assert rc == 1  # one file could not be checked
    assert [d.get("verdict") for d in lines] == [check_template(clips["talking"]).verdict.value, None, "poor"]
    assert lines[1]["error"].startswith("cannot check 'broken.mp4'") and lines[1]["schema"] == 1
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot check 'broken.mp4': not a media file or corrupt")


def test_cli_text_and_exit_0_when_every_file_was_checked(clips, capsys) -> None:
    from engine.cli import main

    assert main(["check", str(clips["still"]), str(clips["photo"])]) == 0  # poor verdicts are not errors
    out = capsys.readouterr().out
    assert "still.mp4: [XX] poor" in out and "photo.png: [XX] poor" in out
    assert "Record 10 s or more of the presenter speaking, facing the camera." in out
    assert main(["check", "--lang", "zh", str(clips["still"])]) == 0
    assert "请录制 10 秒以上正对镜头讲话的视频" in capsys.readouterr().out
