"""The benchmark: scaled inputs, the ffmpeg-only floor, child runs and the Markdown report (tiny inputs)."""
from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from engine.errors import EngineError
from engine.media.probe import audio_duration, probe
from engine.testing.media import make_test_audio, make_test_video
from measure.bench import markdown, run_bench
from measure.bench.floor import ffmpeg_floor
from measure.bench.inputs import closeup_crop, prepare_closeups, scale_clip, scaled_size, trim_speech
from measure.cli import main


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
    assert "| landscape 32p | 48x32 | - | 13 |" in text
    json.dumps(result)


def test_bench_cli_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--sizes", "big"])
    assert exc.value.code == 2
    assert main(["bench", "--backend", "nope", "--runs", "1"]) == 1
    assert "unknown backend 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(("portrait", "expect"), [(False, (402, 68, 1540, 708)), (True, (790, 68, 1150, 708))])
def test_closeup_crop_puts_the_face_at_half_the_height(portrait, expect):
    box = (809.0, 228.0, 1133.0, 548.0)  # a 320 px face in a 1920x1080 frame
    x0, y0, x1, y1 = crop = closeup_crop(1920, 1080, box, portrait)
    assert crop == expect and (x1 - x0) % 2 == 0 and (y1 - y0) % 2 == 0
    assert (box[3] - box[1]) / (y1 - y0) == pytest.approx(0.5, abs=0.01)
    assert (x1 - x0) / (y1 - y0) == pytest.approx(9 / 16 if portrait else 16 / 9, abs=0.01)


def test_closeup_crop_stays_inside_a_small_frame():
    x0, y0, x1, y1 = closeup_crop(300, 200, (100.0, 20.0, 200.0, 180.0), portrait=False)
    assert 0 <= x0 < x1 <= 300 and 0 <= y0 < y1 <= 200
    assert (180 - 20) / (y1 - y0) >= 0.5  # the frame is too short for 0.5: the face takes more


def test_prepare_closeups_cuts_both_orientations_round_the_face(tmp_path):
    from measure.evaluate.synthetic import make_talking_clip

    clip = make_talking_clip(tmp_path / "talk.mp4", seconds=0.4).path
    items = prepare_closeups(clip, [96], tmp_path, clip_seconds=0.2)
    assert [i.label for i in items] == ["close-up landscape 96p", "close-up portrait 96p"]
    (lw, lh), (pw, ph) = [(i.width, i.height) for i in items]
    assert lh == pw == 96 and abs(lw - 171) <= 1 and abs(ph - 171) <= 1  # 16:9 and 9:16, even sizes
    assert all(i.face_share >= 0.5 for i in items)
    assert all(probe(i.path).n_frames == 5 for i in items)


def test_bench_refuses_a_missing_closeup_video(tmp_path):
    with pytest.raises(EngineError, match="close-up video 'nope.mp4': file not found"):
        run_bench("none", sizes=(), closeup_sizes=(96,), closeup_video=tmp_path / "nope.mp4", runs=1)
