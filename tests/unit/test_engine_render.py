"""engine.render end to end on real files: length, format, ping-pong order, sync, errors, cancel."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from media_render import render
from PIL import Image

import engine
from engine import MediaError, RenderCancelled, RenderOptions, UnknownBackendError
from engine.media.audio import load_audio
from engine.media.probe import audio_duration, probe
from engine.media.read import iter_frames
from engine.testing.media import make_corrupt_file, make_test_audio, make_test_video, numbered_frame, read_frame_number
from measure.bench.inputs import SHARED_MEDIA as SHARED  # beside the repository, or LIPSPOOL_SHARED_MEDIA

FPS = 25


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("render_media")
    png = d / "still.png"
    Image.fromarray(numbered_frame(9, (160, 120))).save(png)
    return {
        "video": make_test_video(d / "v.mp4", seconds=0.8, fps=FPS),  # 20 frames
        "silent_video": make_test_video(d / "silent.mp4", seconds=0.4, fps=FPS, with_audio=False),
        "long": make_test_audio(d / "long.wav", seconds=2.6),
        "short": make_test_audio(d / "short.wav", seconds=0.5),
        "png": png,
        "corrupt": make_corrupt_file(d / "broken.mp4"),
    }


def streams(path: Path) -> dict[str, object]:
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        return {"vcodec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt, "size": (v.width, v.height),
                "fps": float(v.average_rate), "acodec": a.codec_context.name, "n_audio": len(c.streams.audio),
                "vdur": float(v.duration * v.time_base), "adur": float(a.duration * a.time_base)}


def numbers(path: Path) -> list[int]:
    return [read_frame_number(f) for f in iter_frames(path)]


def test_longer_audio_pingpong_extends(media, tmp_path):
    out = tmp_path / "long.mp4"
    res = render(media["long"], media["video"], out)
    assert res.out == out and res.backend == "none" and res.n_frames == 65
    s = streams(out)
    assert (s["vcodec"], s["pix_fmt"], s["acodec"], s["n_audio"]) == ("h264", "yuv420p", "aac", 1)
    assert s["size"] == (160, 120) and s["fps"] == pytest.approx(FPS)
    assert s["vdur"] == pytest.approx(2.6, abs=1 / FPS) and s["adur"] == pytest.approx(2.6, abs=1 / FPS)
    assert probe(out).duration_s == pytest.approx(audio_duration(media["long"]), abs=1 / FPS)
    forward, backward = list(range(20)), list(range(18, 0, -1))
    want = (forward + backward) * 3
    assert numbers(out) == want[:65]  # 0..19, 18..1, 0..19, ... never a jump, turning frames once


def test_none_passes_decoded_frames_through(media, tmp_path):
    res = render(media["long"], media["video"], tmp_path / "p.mp4")
    assert res.passed_through == res.n_frames == 65  # decoded and replayed frames, none converted


def test_subclass_overriding_frames_only_is_used(media, tmp_path):
    from engine.backends import register, unregister
    from engine.backends.none import NoneBackend

    class Inverted(NoneBackend):
        name = "inverted-test"

        def frames(self, ctx, progress):
            for frame in super().frames(ctx, progress):
                yield 255 - frame

    register("inverted-test", Inverted)
    try:
        res = render(media["short"], media["video"], tmp_path / "i.mp4", {"backend": "inverted-test"})
    finally:
        unregister("inverted-test")
    assert res.passed_through == 0
    assert [read_frame_number(255 - f) for f in iter_frames(tmp_path / "i.mp4")] == list(range(13))


def test_shorter_audio_cuts(media, tmp_path):
    out = tmp_path / "short.mp4"
    res = render(media["short"], media["video"], out, {"crf": 30, "preset": "ultrafast"})
    assert res.n_frames == 13 and numbers(out) == list(range(13))
    s = streams(out)
    assert s["vdur"] == pytest.approx(0.5, abs=1 / FPS) and s["adur"] == pytest.approx(0.5, abs=1 / FPS)


def test_audio_in_sync(media, tmp_path):
    out = tmp_path / "sync.mp4"
    render(media["long"], media["video"], out)
    src, got = load_audio(media["long"], 8000), load_audio(out, 8000)
    n = min(len(src), len(got))
    env_src = np.abs(src[:n]).reshape(-1, 40).mean(1)  # 5 ms envelope
    env_got = np.abs(got[:n]).reshape(-1, 40).mean(1)
    lags = range(-8, 9)
    corr = [np.corrcoef(np.roll(env_got, lag), env_src)[0, 1] for lag in lags]
    assert abs(list(lags)[int(np.argmax(corr))]) * 5 <= 20 and max(corr) > 0.9  # within 20 ms


def test_still_image_presenter(media, tmp_path):
    out = tmp_path / "still.mp4"
    res = render(media["short"], media["png"], out)
    assert (res.fps, res.width, res.height) == (25.0, 160, 120)
    assert set(numbers(out)) == {9} and len(numbers(out)) == 13


def test_odd_size_is_padded(media, tmp_path):
    video = make_test_video(tmp_path / "odd.mp4", seconds=0.4, fps=FPS, size=(161, 121))
    out = tmp_path / "odd_out.mp4"
    res = render(media["short"], video, out)
    assert res.padded and (res.width, res.height) == (162, 122)
    got = [read_frame_number(f[:121, :161]) for f in iter_frames(out)]
    assert got == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 7, 6]


@pytest.mark.parametrize("name,codec", [("s16.wav", None), ("f32.wav", "pcm_f32le"), ("a.flac", None),
                                        ("a.mp3", None), ("a.m4a", None)])
def test_audio_formats(media, tmp_path, name, codec):
    audio = make_test_audio(tmp_path / name, seconds=1.2, rate=44100, channels=2, codec=codec)
    out = tmp_path / "out.mp4"
    res = render(audio, media["video"], out)
    expected = audio_duration(audio)
    assert res.audio_duration_s == pytest.approx(expected)
    s = streams(out)
    assert s["vdur"] == pytest.approx(expected, abs=1 / FPS) and s["adur"] == pytest.approx(expected, abs=1 / FPS)


def test_audio_from_a_video_file_and_part_name(media, tmp_path):
    out = tmp_path / "x.mp4.part"
    res = render(media["video"], media["silent_video"], out, RenderOptions(backend="none", device="cuda"))
    assert out.exists() and streams(out)["vcodec"] == "h264"
    assert res.n_frames == round(audio_duration(media["video"]) * FPS)  # AAC pads to 1024 samples: ~0.83 s


@pytest.mark.parametrize("audio,video,message", [
    ("long", "corrupt", "cannot read video 'broken.mp4': "),
    ("corrupt", "video", "cannot read audio 'broken.mp4': "),
    ("silent_video", "silent_video", "cannot read audio 'silent.mp4': no audio stream"),
    ("long", "long", "cannot read video 'long.wav': no video stream"),
])
def test_bad_inputs_raise_media_error(media, tmp_path, audio, video, message):
    out = tmp_path / "bad.mp4"
    with pytest.raises(MediaError) as exc:
        render(media[audio], media[video], out)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)
    assert not out.exists()


def test_missing_file_and_unknown_backend(media, tmp_path):
    with pytest.raises(MediaError, match="cannot read video 'nope.mp4': file not found"):
        render(media["long"], tmp_path / "nope.mp4", tmp_path / "o.mp4")
    with pytest.raises(UnknownBackendError, match="unknown backend 'magic'; available: (.*, )?none"):
        render(media["long"], media["video"], tmp_path / "o.mp4", {"backend": "magic"})
    assert "none" in engine.available_backends()


@pytest.mark.parametrize("stop_at", [0.0, 0.3, 1.0])
def test_cancel_from_progress_leaves_nothing(media, tmp_path, stop_at):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    calls: list[tuple[str, float]] = []

    def progress(stage: str, fraction: float) -> None:
        calls.append((stage, fraction))
        if stage == "encode" and fraction >= stop_at and (stop_at < 1.0 or len(calls) > 60):
            raise RenderCancelled("cancelled by user")

    with pytest.raises(RenderCancelled):
        render(media["long"], media["video"], out_dir / "x.mp4.part", progress=progress)
    assert list(out_dir.iterdir()) == []  # neither the partial output nor the ping-pong spill


def test_progress_stages(media, tmp_path):
    calls: list[tuple[str, float]] = []
    res = render(media["long"], media["video"], tmp_path / "p.mp4", progress=lambda s, f: calls.append((s, f)))
    stages = [s for s, _ in calls]
    assert set(stages) <= set(engine.render.__globals__["STAGES"])
    assert stages[0] == "decode" and calls[-1] == ("encode", 1.0)
    enc = [f for s, f in calls if s == "encode"]
    assert len(enc) >= res.n_frames and enc == sorted(enc) and all(0.0 <= f <= 1.0 for f in enc)
    assert set(res.timings) >= {"decode", "audio", "encode", "total"}


@pytest.mark.skipif(not (SHARED / "vretalking_face_1.mp4").exists(), reason="shared media not present")
def test_real_vfr_clip(tmp_path):
    video, audio = SHARED / "vretalking_face_1.mp4", SHARED / "sadtalker_chinese_news.wav"
    out = tmp_path / "real.mp4"
    res = render(audio, video, out)
    info = probe(video)
    assert (res.width, res.height) == (700, 700) and res.fps == pytest.approx(info.fps)
    s = streams(out)
    assert s["vdur"] == pytest.approx(8.0, abs=1 / info.fps) and s["adur"] == pytest.approx(8.0, abs=1 / info.fps)
    assert probe(out).n_frames == res.n_frames == round(8.0 * info.fps)
