"""Evaluator figures on synthetic numbers: canonical alignment, opening, shifted correlation, ratios."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.faces.canonical import (
    ALIGN_POINTS,
    CANONICAL_68,
    apply_affine,
    canonical_transform,
    normalise_shape,
    similarity_fit,
    to_canonical,
    to_canonical_series,
)
from measure.evaluate import metrics


def similarity(scale: float, angle_deg: float, tx: float, ty: float) -> np.ndarray:
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return np.hstack([scale * rot, [[tx], [ty]]])


def a_face(seed: int = 0) -> np.ndarray:
    """The canonical face with some jitter, placed somewhere in an image."""
    rng = np.random.default_rng(seed)
    return apply_affine(similarity(180.0, 7.0, 300.0, 220.0), CANONICAL_68 + rng.normal(0, 0.02, (68, 2)))


def test_canonical_face_has_outer_eye_corners_one_unit_apart() -> None:
    assert np.allclose(CANONICAL_68[36], [-0.5, 0.0]) and np.allclose(CANONICAL_68[45], [0.5, 0.0])
    assert CANONICAL_68[57, 1] > CANONICAL_68[30, 1] > CANONICAL_68[27, 1]  # chin below nose below brow (y down)
    assert np.allclose(normalise_shape(CANONICAL_68 * 3 + 5), CANONICAL_68)


def test_similarity_fit_recovers_a_known_transform() -> None:
    src = np.random.default_rng(1).normal(size=(21, 2))
    m = similarity(2.5, -33.0, 4.0, -7.0)
    assert np.allclose(similarity_fit(src, apply_affine(m, src)), m, atol=1e-9)


@pytest.mark.parametrize("m", [similarity(0.37, 0, 0, 0), similarity(1.0, 61.0, 0, 0),
                               similarity(1.0, 0, -250.0, 90.0), similarity(3.2, -145.0, 17.0, 4000.0)])
def test_canonical_alignment_is_invariant_to_scale_rotation_translation(m: np.ndarray) -> None:
    face = a_face()
    assert np.allclose(to_canonical(apply_affine(m, face)), to_canonical(face), atol=1e-9)


def test_alignment_maps_the_eye_and_nose_points_close_to_canonical() -> None:
    face = a_face(2)
    aligned = to_canonical(face)
    assert np.abs(aligned[ALIGN_POINTS] - CANONICAL_68[ALIGN_POINTS]).mean() < 0.03
    assert canonical_transform(face).shape == (2, 3)


def test_series_keeps_missing_frames_missing() -> None:
    series = np.stack([a_face(0), np.full((68, 2), np.nan), a_face(1)])
    out = to_canonical_series(series)
    assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all()
    assert metrics.found_share(out) == pytest.approx(2 / 3)


def test_mouth_lmd_is_zero_for_equal_shapes_and_measures_a_mouth_shift() -> None:
    a = to_canonical_series(np.stack([a_face(k) for k in range(5)]))
    assert metrics.mouth_lmd(a, a) == 0.0
    b = a.copy()
    b[:, 48:68, 1] += 0.05
    b[:, 0:48] += 9.0  # non-mouth points do not count
    assert metrics.mouth_lmd(a, b) == pytest.approx(0.05)
    b[2] = np.nan
    assert metrics.mouth_lmd(a, b) == pytest.approx(0.05)


def test_opening_is_the_mean_inner_lip_gap() -> None:
    c = np.tile(CANONICAL_68, (2, 1, 1)).copy()
    c[1, [65, 66, 67], 1] += 0.1
    gap = metrics.opening(c)
    assert gap[1] - gap[0] == pytest.approx(0.1, abs=0.01)


def test_median3_removes_single_frame_spikes_and_keeps_nans() -> None:
    x = np.array([1.0, 1.0, 9.0, 1.0, np.nan, 2.0, 2.0])
    y = metrics.median3(x)
    assert y[2] == 1.0 and np.isnan(y[4]) and y[5] == 2.0
    assert metrics.median3(np.array([])).size == 0


@pytest.mark.parametrize("true_lag", [3, -3, 0])
def test_best_shift_finds_a_known_lag_with_the_documented_sign(true_lag: int) -> None:
    leader = np.random.default_rng(4).normal(size=120)
    follower = np.roll(leader, true_lag)  # follower[t] = leader[t - lag]: it moves `lag` frames later
    res = metrics.best_shift_corr(follower, leader)
    assert res.lag == true_lag
    assert res.r == pytest.approx(1.0, abs=0.02)
    if true_lag:
        assert abs(res.r0) < 0.4


def test_correlation_handles_nan_short_and_constant_series() -> None:
    assert math.isnan(metrics.pearson(np.ones(50), np.arange(50.0)))
    assert math.isnan(metrics.pearson(np.arange(4.0), np.arange(4.0)))
    x = np.arange(40.0)
    y = x.copy()
    y[::3] = np.nan
    assert metrics.pearson(x, y) == pytest.approx(1.0)
    res = metrics.best_shift_corr(np.full(30, np.nan), x[:30])
    assert res.lag is None and math.isnan(res.r)


def test_silence_ratio() -> None:
    opening = np.array([0.1, 0.1, 0.2, 0.2, np.nan, 0.2])
    silent = np.array([True, True, False, False, False, False])
    assert metrics.silence_ratio(opening, silent) == pytest.approx(0.5)
    assert math.isnan(metrics.silence_ratio(opening, np.zeros(6, bool)))
