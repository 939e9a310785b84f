"""Mouth flicker (measure/evaluate/flicker.py): the face-aligned mouth region, its frame-to-frame
change, and the flicker figures of an evaluation run (`none`, `identity`, a flickering renderer)."""
from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("dlib")

from engine.faces.canonical import apply_affine
from engine.media.audio import load_audio
from engine.media.read import iter_frames
from engine.testing.clips import moving_face_frames, write_clip
from measure.evaluate import flicker
from measure.evaluate.clips import ClipSplit, write_av
from measure.evaluate.renderers import BackendRenderer, Renderer, RendererFactory, backend_renderer
from measure.evaluate.report import SUMMARY_FIELDS, ClipReport
from measure.evaluate.run import RunResult, evaluate_clips
from measure.evaluate.synthetic import SyntheticClip, base_face
from measure.evaluate.tracking import (
    cached_track_video,
    cached_track_video_with_change,
    frame_landmarks,
    track_video_with_change,
)

FLICKER_FIELDS = ("flicker_out_median", "flicker_out_p90", "flicker_template_median", "flicker_template_p90",
                  "flicker_true_median", "flicker_true_p90", "flicker_ratio_median", "flicker_ratio_p90")


@pytest.fixture(scope="module")
def face() -> tuple[np.ndarray, np.ndarray]:
    img = base_face()
    return img, frame_landmarks(img)


def similarity(angle_deg: float, scale: float, shift: tuple[float, float], centre: tuple[float, float]) -> np.ndarray:
    m = cv2.getRotationMatrix2D(centre, angle_deg, scale)
    m[:, 2] += shift
    return m


@pytest.mark.parametrize("angle,scale,shift", [(12.0, 0.75, (30.0, -20.0)), (-20.0, 1.3, (-60.0, 40.0)),
                                               (0.0, 1.0, (0.5, 0.3))])
def test_region_is_the_same_whatever_the_pose(face: tuple[np.ndarray, np.ndarray], angle: float, scale: float,
                                              shift: tuple[float, float]) -> None:
    img, pts = face
    canvas = np.full((600, 600, 3), 40, np.uint8)
    canvas[100:500, 100:500] = img
    m = similarity(angle, scale, shift, (300.0, 300.0))
    moved = cv2.warpAffine(canvas, m, (600, 600), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ref = flicker.mouth_region(img, pts)
    assert ref is not None and ref.shape == (flicker.REGION_SIZE[1], flicker.REGION_SIZE[0], 3)
    assert ref.dtype == np.uint8
    exact = flicker.mouth_region(moved, apply_affine(m, pts + 100))  # the same landmarks, moved
    detected = flicker.mouth_region(moved, frame_landmarks(moved))  # found again in the moved frame
    unaligned = flicker.mouth_region(moved, pts + 100)  # landmarks of the unmoved face: no alignment
    assert flicker.region_change(ref, exact) < 1.0
    assert flicker.region_change(ref, detected) < 2.0
    if scale != 1.0:
        assert flicker.region_change(ref, unaligned) > 10.0


def test_region_is_the_mouth(face: tuple[np.ndarray, np.ndarray]) -> None:
    img, pts = face
    region = flicker.mouth_region(img, pts)
    assert region is not None
    lab = flicker.to_lab(region)
    h, w = lab.shape[:2]
    centre = lab[h // 4:3 * h // 4, w // 4:3 * w // 4]
    # the astronaut's smile: bright teeth and red lips in the middle, skin around
    assert centre[..., 0].max() > lab[:4, :, 0].mean() + 5  # teeth brighter than the skin above
    assert centre[..., 1].max() > lab[:4, :, 1].mean() + 10  # lips redder than the skin above


def test_missing_face_gives_no_region(face: tuple[np.ndarray, np.ndarray]) -> None:
    img, pts = face
    assert flicker.mouth_region(img, np.full((68, 2), np.nan)) is None
    broken = pts.copy()
    broken[30] = np.nan
    assert flicker.mouth_region(img, broken) is None
    assert flicker.mouth_region(img, np.zeros((68, 2))) is None  # degenerate: every point in one place


def test_change_series_handles_missing_faces() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)
    b = rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)
    s = flicker.change_series([a, a, None, a, b, b])
    assert s.shape == (6,)
    assert math.isnan(s[0]) and s[1] == 0.0
    assert math.isnan(s[2]) and math.isnan(s[3])  # both pairs with the faceless frame
    assert s[4] > 20 and s[5] == 0.0
    assert s[4] == pytest.approx(flicker.region_change(a, b))
    assert math.isnan(flicker.region_change(a, None))
    assert flicker.change_series([]).shape == (0,)
    med, p90 = flicker.median_p90(s)
    assert med == pytest.approx(np.median([0.0, s[4], 0.0])) and 0 < p90 <= s[4]
    assert all(math.isnan(v) for v in flicker.median_p90(np.array([np.nan, np.nan])))


def test_ratios_need_a_template_that_changes() -> None:
    assert flicker.ratio(3.0, 2.0) == pytest.approx(1.5)
    assert math.isnan(flicker.ratio(3.0, 0.0))  # a still template: no ratio
    assert math.isnan(flicker.ratio(float("nan"), 2.0)) and math.isnan(flicker.ratio(1.0, float("nan")))
    figs = flicker.flicker_figures(np.array([np.nan, 2.0, 4.0, 6.0]), np.array([1.0, 2.0, 3.0]))
    assert figs.flicker_out_median == 4.0 and figs.flicker_template_median == 2.0
    assert figs.flicker_ratio_median == pytest.approx(2.0)
    assert figs.flicker_ratio_p90 == pytest.approx(np.percentile([2, 4, 6], 90) / np.percentile([1, 2, 3], 90))
    assert math.isnan(figs.flicker_true_median)


def test_a_static_clip_does_not_change(face: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    img, _ = face
    clip = write_clip(tmp_path / "static.mp4", [img] * 12)
    tracked = track_video_with_change(clip)
    assert tracked.points.shape == (12, 68, 2) and tracked.change.shape == (12,)
    assert math.isnan(tracked.change[0]) and np.isfinite(tracked.change[1:]).all()
    # only the encoder's noise (ultrafast: up to 0.6 dE with fixed landmarks) and whole-pixel landmark
    # jumps (up to 0.4 more) remain: the floor of the figure, well under a pop (see the alternating clip)
    assert np.nanmax(tracked.change) < 1.5
    assert np.nanmedian(tracked.change) < 1.0


def test_a_still_face_moving_about_does_not_change(tmp_path: Path) -> None:
    frames, _ = moving_face_frames(n=16, scale=(1.2, 1.6), travel=(80.0, 30.0))
    tracked = track_video_with_change(write_clip(tmp_path / "moving.mp4", frames))
    assert np.isfinite(tracked.change[1:]).all()
    # the face moves about 5 px a frame and grows by a third: cut with the first frame's landmarks,
    # the region changes a lot; aligned frame by frame, only the noise floor is left
    unaligned = flicker.change_series(flicker.mouth_region(f, tracked.points[0])
                                      for f in iter_frames(tmp_path / "moving.mp4"))
    assert np.nanmedian(tracked.change) < 2.0
    assert np.nanmedian(tracked.change) < 0.4 * np.nanmedian(unaligned)


def alternate_mouth(img: np.ndarray, pts: np.ndarray, odd: bool, seed: int = 1) -> np.ndarray:
    """img with its mouth box (points 48-67, grown 6 px) in one of two textures: as it is, or tinted and grained."""
    if not odd:
        return img.copy()
    x0, y0 = (pts[48:68].min(axis=0) - 6).astype(int)
    x1, y1 = (pts[48:68].max(axis=0) + 6).astype(int)
    out = img.astype(np.float32)
    grain = np.random.default_rng(seed).normal(0, 18, (y1 - y0, x1 - x0, 1))
    out[y0:y1, x0:x1] += grain + np.array([30.0, -15.0, -15.0])
    return np.clip(out, 0, 255).round().astype(np.uint8)


def test_a_mouth_alternating_between_two_textures_changes_a_lot(face: tuple[np.ndarray, np.ndarray],
                                                                tmp_path: Path) -> None:
    img, pts = face
    clip = write_clip(tmp_path / "alternating.mp4", [alternate_mouth(img, pts, k % 2 == 1) for k in range(12)])
    tracked = track_video_with_change(clip)
    assert np.isfinite(tracked.change[1:]).all()
    assert np.nanmedian(tracked.change) > 4.0
    assert np.nanmin(tracked.change) > 3.0  # every pair pops, not a few


def test_two_workers_give_the_same_series(face: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    img, pts = face
    clip = write_clip(tmp_path / "alt.mp4", [alternate_mouth(img, pts, k % 3 == 0) for k in range(8)])
    one, two = track_video_with_change(clip, workers=1), track_video_with_change(clip, workers=2)
    assert np.array_equal(one.points, two.points)
    assert np.allclose(one.change, two.change, equal_nan=True)


def test_change_is_cached_beside_the_landmarks(face: tuple[np.ndarray, np.ndarray], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    img, pts = face
    clip = write_clip(tmp_path / "c.mp4", [alternate_mouth(img, pts, k % 2 == 1) for k in range(6)])
    fresh = track_video_with_change(clip, 25.0)
    # landmarks cached by an older run (no change series yet): the regions are cut with them
    old_cache = tmp_path / "old"
    cached_track_video(clip, 25.0, old_cache)
    import measure.evaluate.tracking as tracking

    def no_detection(rgb: np.ndarray) -> np.ndarray:
        raise AssertionError("landmarks were detected again")

    monkeypatch.setattr(tracking, "frame_landmarks", no_detection)
    from_old = cached_track_video_with_change(clip, 25.0, old_cache)
    assert np.array_equal(from_old.points, fresh.points)
    assert np.allclose(from_old.change, fresh.change, equal_nan=True)
    assert len(list((old_cache / "evaluate-landmarks").glob(f"*mouth-change-v{flicker.VERSION}.npy"))) == 1
    monkeypatch.undo()
    # an empty cache: one pass finds both and saves both; the next call reads them without decoding
    cache = tmp_path / "new"
    first = cached_track_video_with_change(clip, 25.0, cache)
    assert np.allclose(first.change, fresh.change, equal_nan=True)
    monkeypatch.setattr(tracking, "iter_frames", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded")))
    again = cached_track_video_with_change(clip, 25.0, cache)
    assert np.array_equal(again.points, first.points) and np.allclose(again.change, first.change, equal_nan=True)


def test_old_json_records_still_load() -> None:
    keys = {f.name for f in fields(ClipReport)}
    assert set(FLICKER_FIELDS) <= keys
    record = {f.name: 1.0 for f in fields(ClipReport) if f.name not in FLICKER_FIELDS}
    record.update(clip="a.mp4", renderer="none", voice="own", kind="clip", lag=0, loudness_lag=0,
                  baseline_lag=0, frames=10, template_frames=10, out_frames=10, short_clip=True, schema=2)
    old = ClipReport(**record)  # a reader of an older line that lacks the flicker fields
    assert math.isnan(old.flicker_ratio_median)
    assert json.loads(old.to_json())["flicker_ratio_median"] is None
    assert {"flicker_ratio_median", "flicker_ratio_p90"} <= set(SUMMARY_FIELDS)


# ---- the evaluation run -------------------------------------------------------------------------


def run(talking: SyntheticClip, cache: Path, factory: RendererFactory, name: str, tmp: Path) -> ClipReport:
    result: RunResult = evaluate_clips([talking.path], factory, name, workdir=tmp, landmark_cache=cache)
    assert not result.failures, result.failures
    assert len(result.reports) == 1 and result.summary is not None
    report = result.reports[0]
    for name_ in ("flicker_ratio_median", "flicker_ratio_p90", "flicker_out_median", "flicker_template_median"):
        assert result.summary.medians[name_] == pytest.approx(getattr(report, name_))
    return report


class FlickeringNone:
    """A test renderer: the `none` backend's output with alternating grain and tint on the mouth."""

    name = "flicker-test"

    def __init__(self, split: ClipSplit) -> None:
        self.split = split

    def __call__(self, template: Path, audio: Path, out: Path) -> None:
        """Render with `none`, then re-encode with every odd frame's mouth box textured."""
        plain = out.with_name(f"{out.stem}.plain.mp4")
        BackendRenderer("none", {})(template, audio, plain)
        first = next(iter_frames(template))
        pts = frame_landmarks(first)  # the synthetic face does not move
        cut = self.split.cut
        frames = (alternate_mouth(f, pts, k % 2 == 1) for k, f in enumerate(iter_frames(plain, cut.fps)))
        sound = load_audio(audio, cut.audio_rate, mono=True)[None, :]
        write_av(out, frames, sound, cut, crf=18)


def flickering(split: ClipSplit) -> Renderer:
    return FlickeringNone(split)


@pytest.fixture(scope="module")
def reports(talking: SyntheticClip, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClipReport]:
    out = {}
    for name, factory in (("none", backend_renderer("none")), ("identity", backend_renderer("identity")),
                          ("flicker-test", flickering)):
        out[name] = run(talking, cache, factory, name, tmp_path_factory.mktemp(name))
    return out


def test_every_run_gives_finite_figures(reports: dict[str, ClipReport]) -> None:
    for name, r in reports.items():
        values = [getattr(r, f) for f in FLICKER_FIELDS]
        assert all(math.isfinite(v) and v >= 0 for v in values), (name, values)
        assert r.flicker_ratio_median == pytest.approx(r.flicker_out_median / r.flicker_template_median)
        assert r.flicker_ratio_p90 == pytest.approx(r.flicker_out_p90 / r.flicker_template_p90)
        assert r.flicker_out_p90 >= r.flicker_out_median
        line = json.loads(r.to_json())
        assert all(line[f] is not None for f in FLICKER_FIELDS)


def test_template_figures_do_not_depend_on_the_renderer(reports: dict[str, ClipReport]) -> None:
    a, b, c = reports["none"], reports["identity"], reports["flicker-test"]
    assert a.flicker_template_median == b.flicker_template_median == c.flicker_template_median
    assert a.flicker_true_p90 == b.flicker_true_p90 == c.flicker_true_p90
    # the synthetic mouth opens and closes, so the template does change
    assert a.flicker_template_median > 0.5


@pytest.mark.parametrize("backend", ["none", "identity"])
def test_backends_that_show_the_template_add_no_flicker(reports: dict[str, ClipReport], backend: str) -> None:
    r = reports[backend]
    assert 0.8 < r.flicker_ratio_median < 1.15
    assert 0.8 < r.flicker_ratio_p90 < 1.15


def test_a_flickering_renderer_is_caught(reports: dict[str, ClipReport]) -> None:
    r, plain = reports["flicker-test"], reports["none"]
    assert r.flicker_ratio_median > 2.0 and r.flicker_ratio_p90 > 1.5
    assert r.flicker_ratio_median > 1.2 and r.flicker_ratio_p90 > 1.2
    assert r.flicker_out_median > 2 * plain.flicker_out_median
