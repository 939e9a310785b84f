"""The `identity` backend drives the whole shared path (faces, cache, compositing, ping-pong, encode)
on a real portrait clip: the output equals the input up to re-encoding, frames without a face pass
through, a faceless video fails naming the file, and a repeat render reuses the cached track."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine
from engine.backends import register, unregister
from engine.backends.identity import IdentityBackend
from engine.composite import psnr
from engine.faces import NoFaceError
from engine.faces import track as track_module
from engine.media.read import iter_frames
from engine.pingpong import pingpong_index
from engine.testing.clips import moving_face_frames, write_clip
from engine.testing.media import make_test_audio, make_test_video

FAST = {"preset": "ultrafast", "crf": 12}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """40 frames of the moving astronaut with a faceless stretch (frames 15..24) in the middle."""
    frames, _ = moving_face_frames(n=40, size=(320, 240))
    for i in range(15, 25):
        frames[i] = np.zeros_like(frames[i])
    return write_clip(tmp_path_factory.mktemp("clip") / "presenter.mp4", frames, fps=25)


def _frames(path: Path) -> list[np.ndarray]:
    return [np.asarray(f) for f in iter_frames(path)]


def test_identity_reproduces_the_input_and_passes_faceless_frames(clip, tmp_path) -> None:
    audio = make_test_audio(tmp_path / "a.wav", seconds=2.4)  # 60 frames: ping-pong past the end
    stages = []
    engine.render(audio, clip, tmp_path / "id.mp4", {"backend": "identity", **FAST},
                  progress=lambda stage, f: stages.append(stage))
    engine.render(audio, clip, tmp_path / "none.mp4", {"backend": "none", **FAST})
    ident, base = _frames(tmp_path / "id.mp4"), _frames(tmp_path / "none.mp4")
    assert len(ident) == len(base) == 60
    # only the lower face goes through RGB, and a frame's own mouth changes no pixel of it
    assert all(np.array_equal(a, b) for a, b in zip(ident, base))
    assert "faces" in stages
    faceless = [k for k in range(60) if 15 <= pingpong_index(k, 40) < 25]
    assert faceless and all(ident[k].mean() < 3 for k in faceless)


def test_the_rgb_path_reproduces_the_input_too(clip, tmp_path) -> None:
    """A backend that overrides only frames() (RGB) is rendered from it, up to one RGB round trip."""

    class RgbOnly(IdentityBackend):
        def frames(self, ctx, progress):
            return super().frames(ctx, progress)

    audio = make_test_audio(tmp_path / "a.wav", seconds=1.0)
    register("rgb-identity", RgbOnly)
    try:
        result = engine.render(audio, clip, tmp_path / "rgb.mp4", {"backend": "rgb-identity", **FAST})
    finally:
        unregister("rgb-identity")
    engine.render(audio, clip, tmp_path / "none.mp4", {"backend": "none", **FAST})
    assert result.passed_through == 0
    scores = [psnr(a, b) for a, b in zip(_frames(tmp_path / "rgb.mp4"), _frames(tmp_path / "none.mp4"))]
    assert len(scores) == 25 and min(scores) >= 35.0


def test_identity_on_a_video_without_a_face_names_it(tmp_path) -> None:
    video = make_test_video(tmp_path / "numbers only.mp4", seconds=0.6, size=(160, 120))
    audio = make_test_audio(tmp_path / "a.wav", seconds=0.5)
    with pytest.raises(NoFaceError, match="no face found in numbers only.mp4"):
        engine.render(audio, video, tmp_path / "out.mp4", {"backend": "identity", **FAST})
    assert not (tmp_path / "out.mp4").exists()


def test_a_repeat_render_reuses_the_cached_track(clip, tmp_path, monkeypatch) -> None:
    calls = []
    real = track_module.compute_track
    monkeypatch.setattr(track_module, "compute_track", lambda *a, **k: calls.append(1) or real(*a, **k))
    cache = tmp_path / "cache"
    for i, seconds in enumerate((1.0, 1.6)):  # new audio each time, same presenter
        audio = make_test_audio(tmp_path / f"a{i}.wav", seconds=seconds)
        engine.render(audio, clip, tmp_path / f"o{i}.mp4", {"backend": "identity", "cache_dir": str(cache), **FAST})
    assert len(calls) == 1
    assert list(cache.rglob("faces-*.npz"))


def test_identity_is_a_diagnostic_not_offered_as_a_lip_sync() -> None:
    assert "identity" not in engine.available_backends()
    assert "identity" in engine.available_backends(include_diagnostic=True)
