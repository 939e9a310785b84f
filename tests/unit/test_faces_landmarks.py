"""Landmark detection, scene cuts, smoothing and gap filling (no video files)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from engine.faces import Face, LandmarkDetector, detect_faces
from engine.faces.scenecut import CutDetector
from engine.faces.smoothing import fill_gaps, smooth_segment
from engine.testing.clips import astronaut, place


def test_detect_faces_on_the_astronaut():
    faces = detect_faces(astronaut())
    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, Face) and face.box.shape == (4,) and face.points.shape == (68, 2)
    assert face.points.dtype == np.float32 and face.score > 0.5
    x0, y0, x1, y1 = face.box
    assert 150 < x0 < 200 and 60 < y0 < 110 and 250 < x1 < 290 and 150 < y1 < 200
    nose = face.points[30]
    assert x0 < nose[0] < x1 and y0 < nose[1] < y1
    again = LandmarkDetector().landmarks_in_box(astronaut(), face.box)
    np.testing.assert_allclose(again, face.points, atol=1.0)


def test_detection_on_a_reduced_copy_returns_full_size_coordinates():
    big = np.zeros((720, 1280, 3), np.uint8)
    place(big, astronaut(), 2.5, (640, 360))
    face = LandmarkDetector(detect_width=480).detect(big)[0]
    assert abs((face.box[0] + face.box[2]) / 2 - 640) < 30 and abs((face.box[1] + face.box[3]) / 2 - 360) < 40
    assert face.box[2] - face.box[0] > 150


def test_faces_come_largest_first():
    canvas = np.full((400, 640, 3), 90, np.uint8)
    place(canvas, astronaut(), 1.0, (160, 200), head_only=True)
    place(canvas, astronaut(), 1.6, (460, 200), head_only=True)
    faces = LandmarkDetector(detect_width=640).detect(canvas)
    assert len(faces) == 2 and faces[0].area > faces[1].area and faces[0].box[0] > 300


def test_importing_faces_does_not_load_dlib():
    code = "import sys, engine.faces; assert 'dlib' not in sys.modules and 'cv2' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cut_detector_fires_on_a_new_shot_only():
    rng = np.random.default_rng(0)
    a = np.full((90, 160), 60, np.uint8)
    a[20:70, 40:120] = 200
    cuts = CutDetector()
    assert not cuts.update(a)
    assert not cuts.update(np.roll(a, 6, axis=1))  # motion is not a cut
    assert not cuts.update(np.clip(a + rng.normal(0, 4, a.shape), 0, 255).astype(np.uint8))
    assert cuts.update(255 - a)


def _trajectory(n: int = 120, fps: float = 25.0, noise: float = 1.0, seed: int = 0):
    """68 points moving together along a smooth path, plus per-frame noise."""
    rng = np.random.default_rng(seed)
    base = LandmarkDetector().detect(astronaut())[0].points.astype(np.float64)
    t = np.arange(n) / fps
    shift = np.stack([40 * np.sin(2 * np.pi * 0.4 * t), 15 * np.sin(2 * np.pi * 0.7 * t + 1)], axis=1)
    truth = base[None] + shift[:, None, :]
    return truth, truth + rng.normal(0, noise, truth.shape)


def test_smoothing_removes_jitter_without_lag():
    truth, noisy = _trajectory()
    smooth = smooth_segment(noisy, 25.0).astype(np.float64)
    eyes_nose = slice(27, 48)

    def jitter(p):
        return np.abs(np.diff(p[:, eyes_nose], 2, axis=0)).mean()

    assert jitter(smooth) < 0.3 * jitter(noisy)
    assert np.abs(smooth - truth).mean() < np.abs(noisy - truth).mean()
    for axis in (0, 1):
        x, s = truth[:, 30, axis], smooth[:, 30, axis]
        misfit = [np.mean((x[5:-5] - np.roll(s, k)[5:-5]) ** 2) for k in range(-5, 6)]
        assert int(np.argmin(misfit)) - 5 == 0
        # the peak of the motion is reached on the same frame
        assert abs(int(np.argmax(s)) - int(np.argmax(x))) <= 1


def test_short_gaps_are_interpolated_long_ones_kept():
    pts = np.zeros((20, 68, 2), np.float32)
    pts[:, :, 0] = np.arange(20)[:, None]
    present = np.ones(20, bool)
    present[5:7] = False
    present[10:16] = False
    pts[~present] = np.nan
    cuts = np.zeros(20, bool)
    filled = fill_gaps(pts, present, cuts, max_gap=3)
    assert filled.tolist() == [i in (5, 6) for i in range(20)]
    np.testing.assert_allclose(pts[5:7, 0, 0], [5, 6])
    assert np.isnan(pts[10:16]).all()
