"""The benchmark: scaled inputs, the ffmpeg-only floor, child runs and the Markdown report (tiny inputs)."""
from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from engine.bench import markdown, run_bench
from engine.bench.floor import ffmpeg_floor
from engine.bench.inputs import scale_clip, scaled_size, trim_speech
from engine.cli import main
from engine.media_probe import audio_duration, probe
from engine.testmedia import make_test_audio, make_test_video


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bench_media")
    return {"video": make_test_video(d / "v.mp4", seconds=0.4, size=(96, 64)),
            "audio": make_test_audio(d / "a.wav", seconds=1.0)}


def test_scaled_size_keeps_aspect_and_even():
    assert scaled_size(1080, 1920, 720) == (720, 1280)
    assert scaled_size(1920, 1080, 480) == (854, 480)
    assert scaled_size(512, 512, 480) == (480, 480)


def test_scale_clip_and_trim_speech(media, tmp_path):
    item = scale_clip(media["video"], tmp_path / "s.mp4", 32, max_seconds=0.2)
    assert (item.width, item.height, item.label) == (48, 32, "landscape 32p") and probe(item.path).n_frames == 5
    speech = trim_speech(media["audio"], tmp_path / "t.wav", 0.8, 0.5)  # runs past the end: loops
    assert audio_duration(speech) == pytest.approx(0.5, abs=1e-3)


def test_floor_encodes_the_same_frame_count_with_sound(media, tmp_path):
    out = tmp_path / "floor.mp4"
    assert ffmpeg_floor(media["video"], media["audio"], out, 25, 30, "ultrafast") == 25  # input looped 2.5 times
    with av.open(str(out)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.frames == 25 and (v.width, v.height) == (96, 64) and v.codec_context.name == "h264"
        assert float(a.duration * a.time_base) == pytest.approx(1.0, abs=0.05)


def test_run_bench_end_to_end(media):
    result = run_bench("none", sizes=(32,), runs=1, seconds=0.5, videos=[media["video"]], audio=media["audio"],
                       crf=30, preset="ultrafast", say=lambda line: None)
    row = result["rows"][0]
    assert row["frames"] == 13 and row["label"] == "landscape 32p"  # 0.5 s at 25 fps, rounded
    for name in ("floor", "render", "repeat"):
        assert row[name]["seconds"] > 0 and row[name]["peak_rss"] > 10 * 2**20
    assert result["machine"]["backend"] == "none" and result["machine"]["threads"]["cpu_count"]
    text = markdown(result)
    assert "| landscape 32p | 48x32 | 13 |" in text
    json.dumps(result)


def test_bench_cli_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--sizes", "big"])
    assert exc.value.code == 2
    assert main(["bench", "--backend", "nope", "--runs", "1"]) == 1
    assert "unknown backend 'nope'" in capsys.readouterr().err
