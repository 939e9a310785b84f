"""Compositing: a mouth from one image put onto another face, on a real portrait (skimage's astronaut)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from engine import composite as c
from engine.faces import detect_faces


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray]:
    img = np.ascontiguousarray(data.astronaut())
    faces = detect_faces(img)
    assert faces, "dlib should find the astronaut's face"
    return img, faces[0].points


def _move(img: np.ndarray, pts: np.ndarray, dx: float, dy: float, scale: float, angle: float):
    """The image and its landmarks under a known similarity (a head that moved)."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += (dx, dy)
    moved = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return moved, (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def test_own_mouth_reproduces_the_frame(portrait) -> None:
    img, pts = portrait
    out = c.composite_mouth(img, pts, img, pts)
    assert c.psnr(out, img, c.lower_face_mask(pts, img.shape)) >= 45.0
    assert c.psnr(out, img) >= 45.0


def test_a_moved_source_is_warped_back_onto_the_face(portrait) -> None:
    """The source is the same face shifted, scaled and turned: the warp must undo it."""
    img, pts = portrait
    src, src_pts = _move(img, pts, dx=9.3, dy=-6.1, scale=1.06, angle=4.0)
    out = c.composite_mouth(img, pts, src, src_pts, c.CompositeOptions(colour_match=False))
    inner = cv2.erode(c.lower_face_mask(pts, img.shape), np.ones((15, 15), np.uint8))
    assert c.psnr(out, img, inner) >= 33.0  # only the two resamplings differ
    naive = np.where(inner[..., None] > 0, src, img)  # pasting without the warp
    assert c.psnr(naive, img, inner) < 25.0


def test_nothing_changes_outside_the_lower_face(portrait) -> None:
    img, pts = portrait
    src, src_pts = _move(img, pts, dx=5, dy=3, scale=0.97, angle=-3)
    src = np.clip(src.astype(int) + 40, 0, 255).astype(np.uint8)  # brighter: colour match has work to do
    out = c.composite_mouth(img, pts, src, src_pts)
    outside = c.lower_face_mask(pts, img.shape) == 0
    assert np.array_equal(out[outside], img[outside])
    assert not np.array_equal(out, img)


def test_colour_match_takes_the_destination_lighting(portrait) -> None:
    img, pts = portrait
    darker = (img.astype(np.float32) * 0.7).astype(np.uint8)
    inner = cv2.erode(c.lower_face_mask(pts, img.shape), np.ones((21, 21), np.uint8)) > 0
    matched = c.composite_mouth(img, pts, darker, pts)
    unmatched = c.composite_mouth(img, pts, darker, pts, c.CompositeOptions(colour_match=False))
    gap = lambda im: abs(float(im[inner].mean()) - float(img[inner].mean()))  # noqa: E731
    assert gap(matched) < 2.0 < 10.0 < gap(unmatched)


def test_the_seam_is_soft(portrait) -> None:
    """Across the mask edge the alpha rises over several pixels, never in one step."""
    img, pts = portrait
    roi = c._roi(pts, img.shape)
    alpha = c.blend_mask(pts, roi, c.CompositeOptions())
    assert alpha.max() == pytest.approx(1.0, abs=1e-3) and alpha.min() == 0.0
    steps = np.abs(np.diff(alpha, axis=0)).max(), np.abs(np.diff(alpha, axis=1)).max()
    assert max(steps) < 0.25


def test_a_closed_destination_mouth_does_not_break_the_warp(portrait) -> None:
    """Inner-lip triangles of zero area (a closed mouth) fall back to the global fit, no NaN."""
    img, pts = portrait
    closed = pts.copy()
    closed[[65, 66, 67]] = closed[[63, 62, 61]]
    out = c.composite_mouth(img, closed, img, pts)
    assert out.dtype == np.uint8 and np.isfinite(out.astype(float)).all()


def test_similarity_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (20, 2))
    theta, s, t = 0.3, 1.7, np.array([5.0, -2.0])
    rot = s * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    m = c.similarity(src, src @ rot.T + t)
    assert np.allclose(m[:, :2], rot) and np.allclose(m[:, 2], t)
