"""Face tracking on clips made at test time from skimage's astronaut photo."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineError, RenderCancelled
from engine.faces import FaceTrack, NoFaceError, track_video
from engine.faces.landmarks import LandmarkDetector
from engine.testing.clips import astronaut, moving_face_frames, place, write_clip
from engine.testing.media import make_test_video

NOSE = 30


@pytest.fixture(scope="module")
def photo_points() -> np.ndarray:
    return LandmarkDetector().detect(astronaut())[0].points.astype(np.float64)


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    frames, places = moving_face_frames(n=50)
    path = write_clip(tmp_path_factory.mktemp("faces") / "moving.mp4", frames, fps=25)
    return path, places, track_video(path)


def _lag(a: np.ndarray, b: np.ndarray, max_shift: int = 5) -> int:
    """Delay of b behind a (frames): the shift of b that best matches a."""
    misfit = [np.mean((a[max_shift:-max_shift] - np.roll(b, k)[max_shift:-max_shift]) ** 2)
              for k in range(-max_shift, max_shift + 1)]
    return int(np.argmin(misfit)) - max_shift


def test_face_found_in_every_frame_and_follows_the_motion(moving, photo_points):
    path, places, track = moving
    assert track.n_frames == 50 and track.present.all() and not track.cuts.any()
    assert (track.width, track.height) == (480, 360) and track.fps == pytest.approx(25)
    expected = np.array([p.apply(photo_points) for p in places])
    raw_err = np.linalg.norm(track.raw_points[:, NOSE] - expected[:, NOSE], axis=1)
    smooth_err = np.linalg.norm(track.points[:, NOSE] - expected[:, NOSE], axis=1)
    assert raw_err.max() < 4.0 and smooth_err.max() < 4.0
    moved = track.points[-1, NOSE] - track.points[0, NOSE]
    assert np.allclose(moved, expected[-1, NOSE] - expected[0, NOSE], atol=4.0)
    # the whole face follows, not only the nose: mean error over all 68 points is small
    assert np.nanmean(np.linalg.norm(track.points - expected, axis=2)) < 3.0
    assert np.isfinite(track.boxes).all()


def test_smoothing_keeps_pace_with_the_motion(moving):
    _, _, track = moving
    for axis in (0, 1):
        assert _lag(track.raw_points[:, NOSE, axis], track.points[:, NOSE, axis]) == 0


def test_save_and_load_round_trip(moving, tmp_path):
    track = moving[2]
    track.save(tmp_path / "t.npz")
    back = FaceTrack.load(tmp_path / "t.npz")
    assert back.n_frames == track.n_frames and back.fps == track.fps
    np.testing.assert_array_equal(back.points, track.points)
    np.testing.assert_array_equal(back.present, track.present)
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]  # no temporary file left


def test_a_faceless_stretch_is_marked_absent(tmp_path):
    frames, _ = moving_face_frames(n=50)
    for i in range(15, 35):
        frames[i] = np.zeros_like(frames[i])
    track = track_video(write_clip(tmp_path / "gap.mp4", frames, fps=25))
    expected = np.ones(50, bool)
    expected[15:35] = False
    np.testing.assert_array_equal(track.present, expected)
    assert np.isnan(track.points[15:35]).all() and np.isfinite(track.points[expected]).all()


def test_a_video_without_faces_names_the_file(tmp_path):
    path = make_test_video(tmp_path / "numbers.mp4", seconds=1.0, size=(320, 240), with_audio=False)
    with pytest.raises(NoFaceError, match="numbers.mp4") as info:
        track_video(path)
    assert isinstance(info.value, EngineError)


def test_the_larger_face_is_followed_even_when_the_other_grows(tmp_path, photo_points):
    """Face A starts largest; B grows past it later: identity continuity keeps A."""
    photo = astronaut()
    frames, places_a = [], []
    for i in range(40):
        t = i / 39
        canvas = np.full((360, 480, 3), 100, np.uint8)
        places_a.append(place(canvas, photo, 1.45 - 0.2 * t, (130, 170), head_only=True))
        place(canvas, photo, 1.05 + 0.45 * t, (360, 170), head_only=True)
        frames.append(canvas)
    track = track_video(write_clip(tmp_path / "two.mp4", frames, fps=25))
    assert track.present.all()
    expected = np.array([p.apply(photo_points) for p in places_a])
    err = np.linalg.norm(track.raw_points[:, NOSE] - expected[:, NOSE], axis=1)
    assert err.max() < 5.0


def test_a_scene_cut_restarts_the_track(tmp_path, photo_points):
    photo = astronaut()
    frames, places = [], []
    for i in range(40):
        first = i < 20
        canvas = np.full((360, 480, 3), (150, 160, 170) if first else (20, 30, 25), np.uint8)
        places.append(place(canvas, photo, 1.4, (150 + i, 160) if first else (330 - i, 190)))
        frames.append(canvas)
    track = track_video(write_clip(tmp_path / "cut.mp4", frames, fps=25))
    assert np.flatnonzero(track.cuts).tolist() == [20]
    assert track.present.all()
    expected = np.array([p.apply(photo_points) for p in places])
    err = np.linalg.norm(track.points[:, NOSE] - expected[:, NOSE], axis=1)
    assert err.max() < 4.0  # no smoothing across the cut: frames next to it are not pulled over


def test_progress_is_reported_and_can_cancel(tmp_path):
    frames, _ = moving_face_frames(n=30)
    path = write_clip(tmp_path / "p.mp4", frames, fps=25)
    seen = []
    track_video(path, progress=lambda stage, f: seen.append((stage, f)))
    assert {s for s, _ in seen} == {"faces"} and seen[-1][1] == 1.0 and len(seen) >= 5
    assert all(b >= a for (_, a), (_, b) in zip(seen, seen[1:]))

    def cancel(stage: str, fraction: float) -> None:
        if fraction > 0.2:
            raise RenderCancelled("stopped by the user")

    with pytest.raises(RenderCancelled):
        track_video(path, progress=cancel)


def test_track_video_uses_the_cache(tmp_path, monkeypatch):
    frames, _ = moving_face_frames(n=20)
    path = write_clip(tmp_path / "c.mp4", frames, fps=25)
    first = track_video(path, cache_dir=tmp_path / "cache")
    import engine.faces.track as track_mod

    def boom(*args, **kwargs):
        raise AssertionError("tracked again although cached")

    monkeypatch.setattr(track_mod, "compute_track", boom)
    again = track_video(path, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(first.points, again.points)
    with pytest.raises(AssertionError):  # another fps is another entry
        track_video(path, fps=12.5, cache_dir=tmp_path / "cache")
