"""Media layer on real files: probe, constant-rate reading, audio decoding, writer, spill, thumbnail."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from engine.errors import MediaError
from engine.media.audio import iter_audio_frames, load_audio
from engine.media.probe import audio_duration, probe
from engine.media.read import iter_frames, iter_video_frames, read_frame_at
from engine.media.write import VideoWriter
from engine.pingpong import FrameSpill, pingpong_frames, pingpong_index, replay_start
from engine.prefetch import prefetch
from engine.testing.media import (
    STRIPES,
    make_corrupt_file,
    make_test_audio,
    make_test_video,
    numbered_frame,
    read_frame_number,
)
from engine.thumbnail import write_thumbnail

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    png = d / "still.png"
    Image.fromarray(numbered_frame(5, (161, 121))).save(png)
    return {
        "video": make_test_video(d / "v.mp4", seconds=1.0, fps=25),
        "avi": make_test_video(d / "v.avi", seconds=0.6, fps=25, codec="mpeg4"),
        "rot": make_test_video(d / "rot.mp4", seconds=0.4, fps=25, rotation=90, with_audio=False),
        "wav": make_test_audio(d / "a.wav", seconds=2.0),
        "png": png,
        "corrupt": make_corrupt_file(d / "broken.mp4"),
    }


def test_probe_video(media):
    info = probe(media["video"])
    assert (info.has_video, info.has_audio, info.is_image) == (True, True, False)
    assert (info.width, info.height, info.fps, info.n_frames, info.rotation) == (160, 120, 25.0, 25, 0)
    assert info.duration_s == pytest.approx(1.0, abs=0.05)
    assert info.video_codec == "h264" and info.audio_codec == "aac"


def test_probe_audio_image_and_rotation(media):
    a = probe(media["wav"], "audio")
    assert (a.has_video, a.has_audio, a.audio_rate, a.audio_channels) == (False, True, 16000, 1)
    assert a.duration_s == pytest.approx(2.0)
    img = probe(media["png"])
    assert img.is_image and (img.width, img.height, img.n_frames) == (161, 121, 1)
    rot = probe(media["rot"])
    assert rot.rotation == 90 and (rot.width, rot.height) == (120, 160)


@pytest.mark.parametrize("name,reason", [("broken.mp4", "corrupt"), ("missing.mp4", "not found")])
def test_probe_bad_files_name_the_file(media, name, reason):
    with pytest.raises(MediaError) as exc:
        probe(media["corrupt"].parent / name)
    msg = str(exc.value)
    assert msg.startswith(f"cannot read video '{name}'") and reason in msg and "\n" not in msg


def test_iter_frames_order_avi_and_rotation(media):
    assert [read_frame_number(f) for f in iter_frames(media["video"])] == list(range(25))
    assert [read_frame_number(f) for f in iter_frames(media["avi"])] == list(range(15))
    frames = list(iter_frames(media["rot"]))
    assert frames[0].shape == (160, 120, 3)
    # a player turns the stored picture 90 degrees clockwise: the red stripe (bottom-left) is now top-left
    assert frames[0][5, 5, 0] > 150 and frames[0][5, 5, 2] < 80
    assert [read_frame_number(np.rot90(f, k=1)) for f in frames] == list(range(10))


def test_vfr_is_read_at_constant_rate(tmp_path):
    times = [0, 0.04, 0.08, 0.2, 0.22, 0.23, 0.24, 0.3]
    path = make_test_video(tmp_path / "vfr.mp4", frame_times=times, with_audio=False)
    for fps in (25, 50):
        got = [read_frame_number(f) for f in iter_frames(path, fps=fps)]
        # slot k shows the latest frame whose timestamp rounds to slot <= k: gaps repeat, crowds drop
        slots = [int(t * fps + 0.5) for t in times]
        want = [max(i for i, s in enumerate(slots) if s <= k) for k in range(len(got))]
        assert got == want
        assert slots[-1] + 1 <= len(got) <= slots[-1] + 3
    assert [read_frame_number(f) for f in iter_frames(path, fps=25)][:6] == [0, 1, 2, 2, 2, 3]


def test_still_image_repeats(media):
    frames = list(iter_frames(media["png"], max_frames=4))
    assert len(frames) == 4 and all(read_frame_number(f) == 5 for f in frames)
    assert frames[0].shape == (121, 161, 3)


@pytest.mark.parametrize("name,codec", [("s16.wav", None), ("f32.wav", "pcm_f32le"), ("s24.wav", "pcm_s24le"),
                                        ("a.flac", None), ("a.mp3", None), ("a.m4a", None), ("a.ogg", None)])
def test_audio_formats_decode(tmp_path, name, codec):
    rate = 48000 if name.endswith(".ogg") else 22050
    path = make_test_audio(tmp_path / name, seconds=1.5, rate=rate, channels=2, codec=codec)
    assert audio_duration(path) == pytest.approx(1.5, abs=0.08)
    mono = load_audio(path, rate=16000)
    assert mono.dtype == np.float32 and mono.ndim == 1
    assert len(mono) == pytest.approx(1.5 * 16000, abs=0.08 * 16000)
    assert 0.05 < np.abs(mono).max() <= 1.0
    frames = list(iter_audio_frames(path, 44100, "stereo"))
    assert frames[0].format.name == "fltp" and frames[0].layout.name == "stereo" and frames[0].sample_rate == 44100


def test_audio_of_a_video_and_missing_stream(media):
    assert audio_duration(media["video"]) == pytest.approx(1.0, abs=0.07)
    with pytest.raises(MediaError, match="cannot read audio 'rot.mp4': no audio stream"):
        audio_duration(media["rot"])


def test_writer_pads_odd_size_and_keeps_colours(tmp_path):
    out = tmp_path / "odd.mp4.part"
    with VideoWriter(out, 161, 121, 25.0, crf=12) as w:
        for i in range(5):
            w.write_frame(numbered_frame(i, (161, 121)))
        assert w.padded and w.size == (162, 122)
    info = probe(out)
    assert (info.width, info.height, info.n_frames) == (162, 122, 5)
    frames = list(iter_frames(out))
    assert [read_frame_number(f[:121, :161]) for f in frames] == list(range(5))
    f = frames[0].astype(int)
    for k, colour in enumerate(STRIPES):  # stripe centres keep their colour (BT.709 tagged both ways)
        assert np.abs(f[90, 27 + 53 * k] - np.array(colour)).max() <= 6


def test_writer_abort_deletes(tmp_path):
    out = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError), VideoWriter(out, 64, 48, 25.0) as w:
        w.write_frame(np.zeros((48, 64, 3), np.uint8))
        raise RuntimeError("stop")
    assert not out.exists()


def test_pingpong_index_sequence():
    assert [pingpong_index(k, 4) for k in range(12)] == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]
    assert [pingpong_index(k, 2) for k in range(5)] == [0, 1, 0, 1, 0]
    assert [pingpong_index(k, 1) for k in range(3)] == [0, 0, 0]


def test_frame_spill_roundtrip_leaves_no_file(tmp_path):
    spill = FrameSpill(tmp_path, (4, 5, 3))
    frames = [np.full((4, 5, 3), i, np.uint8) for i in range(3)]
    for f in frames:
        spill.append(f)
    assert list(tmp_path.iterdir()) == []  # unlinked right away (POSIX)
    assert all((spill.read(i) == frames[i]).all() for i in (2, 0, 1))
    spill.close()


def test_pingpong_frames_reopens_when_estimate_was_too_high(tmp_path):
    src = [np.full((2, 2, 3), i, np.uint8) for i in range(4)]
    opened = []

    def open_source():
        opened.append(1)
        return iter(src)

    # expected_n=10 means "no spill needed" for 8 frames; the source has only 4, so it is read again
    got = [int(f[0, 0, 0]) for f in pingpong_frames(open_source, 8, tmp_path, 10, (2, 2, 3))]
    assert got == [0, 1, 2, 3, 2, 1, 0, 1] and len(opened) == 2


class SpillSpy:
    """Records how many frames each FrameSpill created by pingpong_frames stored."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.spills: list[FrameSpill] = []
        spy = self

        class Spill(FrameSpill):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                spy.spills.append(self)

        monkeypatch.setattr("engine.pingpong.FrameSpill", Spill)

    @property
    def stored(self) -> list[int]:
        return [s.count for s in self.spills]


def _source(n: int, opened: list[int]):
    def open_source():
        opened.append(1)
        return iter([np.full((2, 2, 3), i, np.uint8) for i in range(n)])
    return open_source


@pytest.mark.parametrize("n,n_out,expected_n,max_stored,opens", [
    (50, 40, 50, 0, 1),  # output shorter than the source: nothing spilled
    (50, 50, 50, 3, 1),  # as long: only a 3-frame margin in case the source is a little shorter than probed
    (100, 130, 100, 31 + 4, 1),  # one backward pass: the last (T - n) + 1 frames (+ a 4-frame margin)
    (100, 199, 100, 100, 1),  # the backward pass reaches frame 0: all frames
    (10, 500, 10, 10, 1),  # several passes: all frames
    (90, 130, 100, 41, 2),  # estimate 10 too high: the early spill misses frames, so decode again
    (120, 130, 100, 55, 1),  # estimate too low: the spill holds more than needed (from 100's view)
])
def test_pingpong_spills_only_replayed_frames(tmp_path, monkeypatch, n, n_out, expected_n, max_stored, opens):
    spy, opened = SpillSpy(monkeypatch), []
    got = [int(f[0, 0, 0]) for f in pingpong_frames(_source(n, opened), n_out, tmp_path, expected_n)]
    assert got == [pingpong_index(k, n) for k in range(n_out)]
    assert (spy.stored[-1] if spy.stored else 0) <= max_stored and len(opened) == opens
    assert list(tmp_path.iterdir()) == []


def test_replay_start():
    assert [replay_start(10, t) for t in (5, 10, 11, 12, 19, 20, 40)] == [10, 10, 8, 7, 0, 0, 0]
    assert replay_start(1, 5) == 1


def test_frame_spill_keeps_yuv_frames_and_their_tags(tmp_path):
    spill = FrameSpill(tmp_path)
    frames = []
    for i in range(3):
        frame = av.VideoFrame.from_ndarray(np.full((12, 8), 10 * i, np.uint8), format="yuv420p")
        frame.colorspace, frame.color_range = 6, 1
        frames.append(frame)
        spill.append(frame)
    assert spill.frame_bytes == 8 * 8 * 3 // 2
    back = spill.read(1)
    assert isinstance(back, av.VideoFrame) and (back.width, back.height) == (8, 8)
    assert (back.to_ndarray() == frames[1].to_ndarray()).all() and (back.colorspace, back.color_range) == (6, 1)
    with pytest.raises(ValueError):
        spill.append(np.zeros((8, 8, 3), np.uint8))
    spill.close()


def test_video_frames_pass_through_the_writer_unconverted(media, tmp_path):
    frames = list(iter_video_frames(media["video"]))
    assert all(isinstance(f, av.VideoFrame) and f.format.name == "yuv420p" for f in frames)
    info = probe(media["video"])
    assert info.matrix == "bt601"  # untagged SD: players assume BT.601, and so does the output
    out = tmp_path / "yuv.mp4"
    with VideoWriter(out, 160, 120, 25.0, crf=12, matrix=info.matrix) as w:
        for f in frames[:10]:
            w.write_frame(f)
        w.write_frame(numbered_frame(10))  # an RGB frame (as a lip-sync backend makes) among them
        assert w.passed_through == 10
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.colorspace == 6  # tagged BT.601 (SMPTE 170M)
    got = list(iter_frames(out))
    assert [read_frame_number(f) for f in got] == list(range(11))
    for f in (got[0], got[10]):
        for k, colour in enumerate(STRIPES):
            assert np.abs(f[90, 27 + 53 * k].astype(int) - np.array(colour)).max() <= 8


def test_video_frames_turned_and_full_range_converted(media, tmp_path):
    turned = list(iter_video_frames(media["rot"]))
    assert (turned[0].width, turned[0].height) == (120, 160)
    rgb = list(iter_frames(media["rot"]))
    from engine.media.read import to_rgb

    assert np.abs(to_rgb(turned[3]).astype(int) - rgb[3]).max() <= 3  # same picture both ways
    mjpeg = make_test_video(tmp_path / "full.mov", seconds=0.2, codec="mjpeg", pix_fmt="yuvj420p", with_audio=False)
    frame = next(iter(iter_video_frames(mjpeg)))
    assert frame.format.name == "yuv420p" and frame.color_range == 1  # full range squeezed to limited
    assert read_frame_number(to_rgb(frame)) == 0


def test_prefetch_propagates_errors_and_stops():
    def boom():
        yield 1
        raise ValueError("bad")

    it = prefetch(boom(), depth=2)
    assert next(it) == 1
    with pytest.raises(ValueError):
        next(it)
    closed = []

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    it = prefetch(endless(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert closed == [True]


def test_thumbnail_atomic_jpeg(media, tmp_path):
    out = write_thumbnail(media["video"], tmp_path / "thumb.jpg", max_side=80)
    img = Image.open(out)
    assert img.format == "JPEG" and max(img.size) == 80
    assert [p.name for p in tmp_path.iterdir()] == ["thumb.jpg"]
    assert abs(read_frame_number(read_frame_at(media["video"], 1 / 3)) - 8) <= 1
    write_thumbnail(media["png"], tmp_path / "still.jpg")
    assert Image.open(tmp_path / "still.jpg").size == (161, 121)


def test_import_engine_is_light():
    code = "import sys, engine; assert 'av' not in sys.modules and 'numpy' not in sys.modules; print('ok')"
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "ok", res.stderr
