"""Editing a region of a yuv420p frame: only the edited pixels (and their chroma blocks) change."""
from __future__ import annotations

import av
import numpy as np

from engine.media.yuv import align_region, changed_pixels, edit_region, read_region, region_rgb


def _frame(w: int = 64, h: int = 48) -> av.VideoFrame:
    rng = np.random.default_rng(1)
    rgb = rng.integers(30, 220, (h, w, 3), dtype=np.uint8)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def _planes(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray().copy()


def test_an_edit_that_changes_nothing_returns_the_same_pixels() -> None:
    frame = _frame()
    out = edit_region(frame, (10, 7, 41, 33), lambda rgb: rgb)
    assert np.array_equal(_planes(out), _planes(frame))


def test_only_changed_pixels_and_their_chroma_blocks_are_rewritten() -> None:
    frame = _frame()

    def paint(rgb: np.ndarray) -> np.ndarray:
        rgb[4:8, 6:10] = (250, 20, 20)  # a 4x4 red square inside the crop
        return rgb

    region = align_region((10, 7, 41, 33), 64, 48)
    out = edit_region(frame, region, paint)
    before, after = _planes(frame), _planes(out)
    y_changed = np.argwhere(before[:48] != after[:48])
    x0, y0 = region[:2]
    assert y_changed.size and y_changed[:, 0].min() >= y0 + 4 and y_changed[:, 0].max() <= y0 + 7
    assert y_changed[:, 1].min() >= x0 + 6 and y_changed[:, 1].max() <= x0 + 9
    back = out.to_ndarray(format="rgb24")[y0 + 5, x0 + 7]
    assert back[0] > 200 and back[1] < 80 and back[2] < 80


def test_regions_are_aligned_for_4_2_0_and_clipped() -> None:
    assert align_region((3, 5, 20, 30), 64, 48) == (2, 4, 20, 32)
    x0, y0, x1, y1 = align_region((61, 45, 80, 90), 64, 48)
    assert (x0 % 2, y0 % 4, (x1 - x0) % 2, (y1 - y0) % 4) == (0, 0, 0, 0) and x1 <= 64 and y1 <= 48


def test_an_edit_that_changes_nothing_hands_back_the_frame_itself() -> None:
    frame = _frame()
    assert edit_region(frame, (10, 7, 41, 33), lambda rgb: rgb) is frame  # the writer can pass it through


def test_an_edited_frame_is_a_new_frame_and_the_source_is_untouched() -> None:
    frame = _frame()
    frame.pts = 7
    before = _planes(frame)

    def paint(rgb: np.ndarray) -> np.ndarray:
        rgb[:] = 0
        return rgb

    out = edit_region(frame, (10, 8, 40, 32), paint)
    assert out is not frame and out.pts == 7 and out.colorspace == frame.colorspace
    assert np.array_equal(_planes(frame), before), "the decoded frame (maybe a reference frame) is never written"
    assert not np.array_equal(_planes(out), before)


def test_region_rgb_is_exactly_the_region_of_the_crop_conversion() -> None:
    frame = _frame()
    aligned = align_region((9, 5, 40, 31), 64, 48)
    whole = read_region(frame, aligned)
    part = region_rgb(frame, (9, 5, 40, 31))
    assert part.shape == (26, 31, 3)
    assert np.array_equal(part, whole[5 - aligned[1]: 31 - aligned[1], 9 - aligned[0]: 40 - aligned[0]])
    rgb = frame.to_ndarray(format="rgb24")
    assert np.array_equal(region_rgb(rgb, (9, 5, 40, 31)), rgb[5:31, 9:40])
    assert np.abs(part.astype(int) - rgb[5:31, 9:40]).mean() < 3  # the same picture, converted a little differently


def test_changed_pixels_sees_a_change_in_any_one_channel() -> None:
    a = np.zeros((4, 5, 3), np.uint8)
    b = a.copy()
    b[1, 2, 2] = 1
    b[3, 0, 0] = 255
    assert np.argwhere(changed_pixels(a, b)).tolist() == [[1, 2], [3, 0]]
