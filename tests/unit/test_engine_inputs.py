"""Awkward inputs made at test time: each renders correctly (in sync) or fails with one line naming the file."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from media_render import render

from engine import MediaError
from engine.media.probe import audio_duration, probe
from engine.media.read import iter_frames
from engine.pingpong import pingpong_index
from engine.testing.media import (
    damage_payload,
    make_empty_wav,
    make_test_audio,
    make_test_video,
    read_frame_number,
)

FAST = {"preset": "ultrafast", "crf": 30}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    return {
        "video": make_test_video(d / "v.mp4", seconds=0.4),  # 10 frames at 25 fps
        "audio": make_test_audio(d / "a.wav", seconds=0.6),
    }


def out_streams(path: Path) -> dict[str, object]:
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        return {"vcodec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt, "size": (v.width, v.height),
                "fps": float(v.average_rate), "vdur": float(v.duration * v.time_base),
                "adur": float(a.duration * a.time_base)}


def assert_in_sync(path: Path, fps: float) -> dict[str, object]:
    """H.264 yuv420p + AAC whose picture and sound last the same within one frame."""
    s = out_streams(path)
    assert (s["vcodec"], s["pix_fmt"]) == ("h264", "yuv420p")
    assert abs(s["vdur"] - s["adur"]) <= 1 / fps + 1e-6, s
    return s


def numbers(path: Path, turn: int = 0) -> list[int]:
    return [read_frame_number(np.rot90(f, k=turn)) for f in iter_frames(path)]


def one_line_error(exc: BaseException, prefix: str) -> str:
    msg = str(exc)
    assert msg.startswith(prefix) and "\n" not in msg, msg
    return msg


def test_undecodable_video_payload(media, tmp_path):
    # a real MP4 whose frames are noise: what decodes is used, or the error names the file
    video = damage_payload(make_test_video(tmp_path / "damaged.mp4", seconds=4.0, with_audio=False))
    out = tmp_path / "o.mp4"
    try:
        res = render(media["audio"], video, out, FAST)
    except MediaError as exc:
        one_line_error(exc, "cannot read video 'damaged.mp4': ")
        assert not out.exists()
    else:
        assert res.n_frames == 15 and probe(out).n_frames == 15
        assert_in_sync(out, 25)


def test_undecodable_audio_payload(media, tmp_path):
    audio = damage_payload(make_test_audio(tmp_path / "damaged.mp3", seconds=3.0, rate=44100))
    out = tmp_path / "o.mp4"
    with pytest.raises(MediaError) as exc:
        render(audio, media["video"], out, FAST)
    one_line_error(exc.value, "cannot read audio 'damaged.mp3': ")
    assert not out.exists()


def test_zero_length_audio_is_an_error(media, tmp_path):
    out = tmp_path / "o.mp4"
    with pytest.raises(MediaError) as exc:
        render(make_empty_wav(tmp_path / "empty.wav"), media["video"], out)
    assert str(exc.value) == "cannot read audio 'empty.wav': the audio stream has no decodable samples"
    assert not out.exists()


def test_audio_shorter_than_a_frame_gives_one_frame(media, tmp_path):
    out = tmp_path / "o.mp4"
    res = render(make_test_audio(tmp_path / "blip.wav", seconds=0.01), media["video"], out)
    assert res.n_frames == 1 and numbers(out) == [0]
    assert_in_sync(out, 25)


def test_audio_file_given_as_video(media, tmp_path):
    with pytest.raises(MediaError) as exc:
        render(media["audio"], make_test_audio(tmp_path / "speech.m4a", seconds=0.5), tmp_path / "o.mp4")
    assert str(exc.value) == "cannot read video 'speech.m4a': no video stream (is it an audio file?)"


def test_4k_portrait_phone_video_with_rotation(tmp_path):
    # stored 3840x2160 with a 'turn 90 degrees clockwise' display matrix, as phones record portrait
    video = make_test_video(tmp_path / "phone.mp4", seconds=0.2, fps=30, size=(3840, 2160), rotation=90)
    audio = make_test_audio(tmp_path / "a.wav", seconds=0.3)
    out = tmp_path / "o.mp4"
    res = render(audio, video, out, FAST)
    assert (res.width, res.height) == (2160, 3840)
    s = assert_in_sync(out, 30)
    assert s["size"] == (2160, 3840) and probe(out).rotation == 0
    first = next(iter(iter_frames(out)))
    assert first[40, 40, 0] > 150 and first[40, 40, 2] < 80  # red stripe (stored bottom-left) now top-left
    assert numbers(out, turn=1) == [pingpong_index(k, 6) for k in range(9)]


def test_5_fps_video(tmp_path):
    video = make_test_video(tmp_path / "slow.mp4", seconds=1.0, fps=5)
    out = tmp_path / "o.mp4"
    res = render(make_test_audio(tmp_path / "a.wav", seconds=2.0), video, out)
    assert res.fps == 5.0 and res.n_frames == 10
    assert out_streams(out)["fps"] == pytest.approx(5.0)
    assert numbers(out) == [0, 1, 2, 3, 4, 3, 2, 1, 0, 1]
    assert_in_sync(out, 5)


def test_audio_far_longer_than_video(media, tmp_path):
    out = tmp_path / "o.mp4"
    res = render(make_test_audio(tmp_path / "long.wav", seconds=20.0), media["video"], out, FAST)
    assert res.n_frames == 500
    assert numbers(out) == [pingpong_index(k, 10) for k in range(500)]
    s = assert_in_sync(out, 25)
    assert s["vdur"] == pytest.approx(20.0, abs=0.04)


def test_hevc_10_bit_becomes_8_bit_h264(media, tmp_path):
    video = make_test_video(tmp_path / "hdr.mp4", seconds=0.4, codec="libx265", pix_fmt="yuv420p10le")
    assert probe(video).video_codec == "hevc"
    out = tmp_path / "o.mp4"
    render(media["audio"], video, out)
    assert_in_sync(out, 25)
    assert numbers(out) == [pingpong_index(k, 10) for k in range(15)]
    f = next(iter(iter_frames(out))).astype(int)
    assert np.abs(f[90, 27] - (200, 30, 30)).max() <= 12  # colours survive the 10 -> 8 bit step


def test_unicode_and_spaces_in_names(media, tmp_path):
    folder = tmp_path / "课程 素材"
    folder.mkdir()
    video = make_test_video(folder / "讲师 视频 1.mp4", seconds=0.4)
    audio = make_test_audio(folder / "配音 第1段.m4a", seconds=0.6)
    out = folder / "输出 结果 1.mp4"
    res = render(audio, video, out)
    assert numbers(out) == [pingpong_index(k, 10) for k in range(res.n_frames)]
    assert_in_sync(out, 25)
    with pytest.raises(MediaError) as exc:
        render(audio, damage_payload(make_test_audio(folder / "坏 文件.wav", seconds=0.2), keep_head=0), out)
    one_line_error(exc.value, "cannot read video '坏 文件.wav': ")


@pytest.mark.parametrize("name,codec", [("v.mkv", "libx264"), ("v.mov", "libx264"), ("v.webm", "libvpx-vp9"),
                                        ("v.avi", "mpeg4")])
def test_containers(media, tmp_path, name, codec):
    video = make_test_video(tmp_path / name, seconds=0.4, codec=codec)
    out = tmp_path / "o.mp4"
    render(media["audio"], video, out)
    assert numbers(out) == [pingpong_index(k, 10) for k in range(15)]
    assert_in_sync(out, 25)


@pytest.mark.parametrize("name,codec", [("s24.wav", "pcm_s24le"), ("a.aac", None), ("a.ogg", None)])
def test_more_audio_formats(media, tmp_path, name, codec):
    # s16/f32 WAV, FLAC, MP3 and M4A are covered in test_engine_render
    audio = make_test_audio(tmp_path / name, seconds=0.7, rate=48000 if name.endswith(".ogg") else 44100,
                            channels=2, codec=codec)
    out = tmp_path / "o.mp4"
    res = render(audio, media["video"], out)
    assert res.audio_duration_s == pytest.approx(audio_duration(audio))
    s = assert_in_sync(out, 25)
    assert s["adur"] == pytest.approx(audio_duration(audio), abs=1 / 25)
