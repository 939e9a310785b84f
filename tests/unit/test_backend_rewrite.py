"""The `rewrite` backend on a synthetic talking clip made at test time (the astronaut opening her
mouth with a buzz): output length, nothing changed outside the lower face, a closed mouth in
silence and an open one in speech, the cached analysis reused, the still-photo fallback, and the
bad inputs of issue 5 (silence, very short and very long audio, a face that leaves, two faces)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import engine
from engine.composite import lower_face_mask, psnr
from engine.errors import EngineError, InvalidOptions
from engine.faces import detect_faces
from engine.media.audio import write_wav
from engine.media.read import iter_frames
from engine.testing.clips import write_clip
from engine.testing.media import speech_like
from measure.evaluate.synthetic import base_face, make_talking_clip

FAST = {"preset": "ultrafast", "crf": 12}
RATE = 16000
FPS = 25


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """4 s of the synthetic astronaut talking (25 fps, 400x400): mouths from closed to wide open."""
    return make_talking_clip(tmp_path_factory.mktemp("rw") / "talking.mp4", seconds=4.0, fps=FPS).path


@pytest.fixture(scope="module")
def face_points() -> np.ndarray:
    """The synthetic face's landmarks (the clip's head does not move)."""
    return detect_faces(base_face())[0].points


def _wav(path: Path, *parts: np.ndarray) -> Path:
    return write_wav(path, np.concatenate(parts).astype(np.float32)[None, :], RATE)


def _speech(seconds: float, seed: int = 0) -> np.ndarray:
    return speech_like(seconds, RATE, seed)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * RATE)), np.float32)


def _frames(path: Path) -> list[np.ndarray]:
    return list(iter_frames(path))


def _dark_count(frame: np.ndarray, points: np.ndarray) -> int:
    x0, y0 = np.floor(points[48:68].min(axis=0)).astype(int) - 4
    x1, y1 = np.ceil(points[48:68].max(axis=0)).astype(int) + 12
    box = frame[y0:y1, x0:x1].astype(int)
    return int(((box[..., 0] < 110) & (box[..., 1] < 60) & (box[..., 2] < 70)).sum())


def _dark_pixels(frame: np.ndarray, points: np.ndarray) -> int:
    """Pixels of the painted mouth interior (dark red) round the lips, beyond the closed face's own
    (the smile's shadows): about 0 when the mouth is closed, hundreds when it is open."""
    return max(0, _dark_count(frame, points) - _dark_count(base_face(), points))


@pytest.fixture(scope="module")
def speech_pause_speech(clip, tmp_path_factory) -> tuple[Path, list[np.ndarray], list[np.ndarray]]:
    """Speech 1.2 s, silence 1.2 s, speech 1.2 s rendered with `rewrite` and with `none`."""
    tmp = tmp_path_factory.mktemp("sps")
    audio = _wav(tmp / "sps.wav", _speech(1.2), _silence(1.2), _speech(1.2, seed=1))
    engine.render(audio, clip, tmp / "rw.mp4", {"backend": "rewrite", **FAST})
    engine.render(audio, clip, tmp / "none.mp4", {"backend": "none", **FAST})
    return audio, _frames(tmp / "rw.mp4"), _frames(tmp / "none.mp4")


def test_output_has_the_audio_length_and_the_picture_outside_the_lower_face(speech_pause_speech, face_points) -> None:
    _, out, base = speech_pause_speech
    assert len(out) == len(base) == 90
    outside = lower_face_mask(face_points, out[0].shape, grow=0.15) == 0
    worst = min(psnr(a, b, outside) for a, b in zip(out, base))
    assert worst >= 40.0, f"picture outside the lower face changed: PSNR {worst:.1f} dB"
    changed = [k for k in range(90) if not np.array_equal(out[k], base[k])]
    assert len(changed) > 45, "the lower face was not rewritten"


def test_mouth_is_closed_in_silence_and_opens_in_speech(speech_pause_speech, face_points) -> None:
    _, out, _ = speech_pause_speech
    dark = np.array([_dark_pixels(f, face_points) for f in out])
    pause = dark[30 + 3:60 - 3]  # the 1.2 s silence, leaving out 120 ms at each end
    speech = np.concatenate([dark[:30], dark[60:]])
    assert pause.max() <= 0.1 * speech.max(), f"mouth open in the pause: {pause.tolist()}"
    assert (speech > 0.3 * speech.max()).sum() >= 8, "the mouth hardly opens in speech"


def test_all_silent_audio_renders_a_closed_mouth(clip, face_points, tmp_path) -> None:
    audio = _wav(tmp_path / "quiet.wav", _silence(2.0))
    engine.render(audio, clip, tmp_path / "out.mp4", {"backend": "rewrite", **FAST})
    dark = [_dark_pixels(f, face_points) for f in _frames(tmp_path / "out.mp4")]
    src = [_dark_pixels(f, face_points) for f in _frames(clip)][:50]
    assert len(dark) == 50
    assert max(src) > 50, "the template itself should open its mouth"
    assert max(dark) <= 0.1 * max(src)


def test_one_second_audio_and_audio_far_longer_than_the_clip(clip, tmp_path) -> None:
    short = _wav(tmp_path / "short.wav", _speech(1.0))
    res = engine.render(short, clip, tmp_path / "short.mp4", {"backend": "rewrite", **FAST})
    assert res.n_frames == 25 and len(_frames(tmp_path / "short.mp4")) == 25
    long = _wav(tmp_path / "long.wav", _speech(24.0, seed=3))  # 6x the 4 s presenter clip
    res = engine.render(long, clip, tmp_path / "long.mp4", {"backend": "rewrite", **FAST})
    assert res.n_frames == 600 and len(_frames(tmp_path / "long.mp4")) == 600


def test_repeat_render_reuses_the_face_track_and_mouth_library(clip, tmp_path, monkeypatch) -> None:
    from engine.backends.rewrite import library
    from engine.faces import track

    cache = tmp_path / "cache"
    opts = {"backend": "rewrite", "cache_dir": str(cache), **FAST}
    engine.render(_wav(tmp_path / "a.wav", _speech(1.5)), clip, tmp_path / "first.mp4", opts)
    stored = sorted(p.name for p in cache.rglob("*") if p.is_file() and not p.name.endswith(".lock"))
    assert any(n.startswith("faces-") for n in stored) and any(n.startswith("mouths-") for n in stored)

    def must_not_run(*args, **kwargs):
        raise AssertionError("the analysis was recomputed instead of read from the cache")

    monkeypatch.setattr(library, "build_library", must_not_run)
    monkeypatch.setattr(track, "compute_track", must_not_run)
    engine.render(_wav(tmp_path / "b.wav", _speech(2.0, seed=5)), clip, tmp_path / "second.mp4", opts)
    assert len(_frames(tmp_path / "second.mp4")) == 50


def test_still_photo_falls_back_to_a_landmark_warp(face_points, tmp_path) -> None:
    photo = tmp_path / "portrait.png"
    cv2.imwrite(str(photo), cv2.cvtColor(base_face(), cv2.COLOR_RGB2BGR))
    audio = _wav(tmp_path / "a.wav", _speech(1.2), _silence(1.2))
    engine.render(audio, photo, tmp_path / "out.mp4", {"backend": "rewrite", **FAST})
    frames = _frames(tmp_path / "out.mp4")
    assert len(frames) == 60
    dark = np.array([_dark_pixels(f, face_points) for f in frames])
    assert dark[:30].max() > 30, "the fallback warp never opens the mouth in speech"
    assert dark[33:57].max() <= 0.1 * dark[:30].max(), "the mouth stays open in silence"
    outside = lower_face_mask(face_points, frames[0].shape, grow=0.15) == 0
    assert min(psnr(f, frames[45], outside) for f in frames) >= 40.0


def test_frames_without_a_face_pass_through(tmp_path) -> None:
    """A presenter who turns away (here: leaves the picture) for a second: those frames stay as they were."""
    from measure.evaluate.synthetic import open_mouth

    face = base_face()
    pts = detect_faces(face)[0].points
    frames = [open_mouth(face, pts, 12 * abs(np.sin(k / 3.0))) for k in range(75)]
    for k in range(25, 50):
        frames[k] = np.full_like(face, 90)
    video = write_clip(tmp_path / "away.mp4", frames, fps=FPS)
    audio = _wav(tmp_path / "a.wav", _speech(3.0))
    engine.render(audio, video, tmp_path / "rw.mp4", {"backend": "rewrite", **FAST})
    engine.render(audio, video, tmp_path / "none.mp4", {"backend": "none", **FAST})
    out, base = _frames(tmp_path / "rw.mp4"), _frames(tmp_path / "none.mp4")
    assert len(out) == 75
    assert all(np.array_equal(out[k], base[k]) for k in range(27, 48))
    assert sum(not np.array_equal(out[k], base[k]) for k in range(0, 25)) > 10


def test_two_people_in_frame_only_one_mouth_is_rewritten(tmp_path) -> None:
    from measure.evaluate.synthetic import open_mouth

    face = cv2.resize(base_face(), (240, 240))
    pts = detect_faces(face)[0].points
    frames = []
    for k in range(50):
        canvas = np.full((260, 520, 3), 90, np.uint8)
        canvas[10:250, 10:250] = open_mouth(face, pts, 8 * abs(np.sin(k / 3.0)))
        canvas[10:250, 270:510] = open_mouth(face, pts, 8 * abs(np.cos(k / 4.0)))
        frames.append(canvas)
    video = write_clip(tmp_path / "two.mp4", frames, fps=FPS)
    audio = _wav(tmp_path / "a.wav", _speech(2.0))
    engine.render(audio, video, tmp_path / "rw.mp4", {"backend": "rewrite", **FAST})
    engine.render(audio, video, tmp_path / "none.mp4", {"backend": "none", **FAST})
    out, base = _frames(tmp_path / "rw.mp4"), _frames(tmp_path / "none.mp4")
    left = [psnr(a[:, :260], b[:, :260]) for a, b in zip(out, base)]
    right = [psnr(a[:, 260:], b[:, 260:]) for a, b in zip(out, base)]
    changed_left, changed_right = min(left) < 40, min(right) < 40
    assert changed_left != changed_right, (f"exactly one face should change: left {min(left):.1f} dB, "
                                           f"right {min(right):.1f} dB")


def test_bad_options_name_the_option(clip, tmp_path) -> None:
    audio = _wav(tmp_path / "a.wav", _speech(1.0))
    with pytest.raises(InvalidOptions, match="front_end"):
        engine.render(audio, clip, tmp_path / "x.mp4", {"backend": "rewrite", "front_end": "telepathy", **FAST})
    with pytest.raises(EngineError, match="mouth_model"):
        engine.render(audio, clip, tmp_path / "y.mp4", {"backend": "rewrite",
                                                        "mouth_model": str(tmp_path / "none.json"), **FAST})
    for bad in ("heavy", "-1", "3", None):
        with pytest.raises(InvalidOptions, match="shape_weight"):
            engine.render(audio, clip, tmp_path / "z.mp4", {"backend": "rewrite", "shape_weight": bad, **FAST})
    with pytest.raises(EngineError, match="one of default, en or a model file; 'fr' is neither"):
        engine.render(audio, clip, tmp_path / "w.mp4", {"backend": "rewrite", "mouth_model": "fr", **FAST})
    assert not any((tmp_path / f"{n}.mp4").exists() for n in "xyzw")
