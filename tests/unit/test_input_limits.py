"""Input limits: a too-large picture or too-long audio is refused from its headers, in one line that
names the file, its size, the limit and how to raise it, before anything is decoded."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from media_render import render

from engine import InvalidOptions, MediaError, RenderOptions
from engine.errors import AudioTooLong, FrameTooLarge, InputTooLarge
from engine.limits import (
    DEFAULT_MAX_AUDIO_S,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_SIDE,
    InputLimits,
    active_limits,
    limits_for,
    limits_from_env,
    limits_in_effect,
    parse_pixels,
    parse_seconds,
    parse_side,
)
from engine.media.limits import image_header_size
from engine.media.probe import probe
from engine.media.read import iter_frames
from engine.testing.media import black_png, make_test_audio, make_test_video

ROOT = Path(__file__).resolve().parents[2]
FAST = {"preset": "ultrafast", "crf": 30}
MAX_RSS_MB = 250  # the refused 10000x10000 picture alone would take 300 MB decoded, 5.7 GB rendered


png = black_png


def jpeg_header(width: int, height: int) -> bytes:
    """SOI, a JFIF APP0 and a baseline SOF0 claiming width x height (no image data follows)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("limits")
    (d / "huge.png").write_bytes(png(10000, 10000))  # about 290 KB, as in the report
    (d / "claims_huge.png").write_bytes(png(10000, 10000, rows=2))
    (d / "claims_huge.jpg").write_bytes(jpeg_header(12000, 9000))
    return {**{p.name: p for p in d.glob("*.*")},
            "video": make_test_video(d / "v.mp4", seconds=0.4, size=(160, 120)),
            "audio": make_test_audio(d / "a.wav", seconds=0.6)}


@pytest.fixture(autouse=True)
def no_limit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LIPSPOOL_MAX_PIXELS", "LIPSPOOL_MAX_SIDE", "LIPSPOOL_MAX_AUDIO_S"):
        monkeypatch.delenv(var, raising=False)


def one_line(exc: BaseException, *parts: str) -> str:
    msg = str(exc)
    assert "\n" not in msg and all(p in msg for p in parts), msg
    return msg


# --- parsing -------------------------------------------------------------------------------------------

@given(w=st.integers(1, 100_000), h=st.integers(1, 100_000), sep=st.sampled_from(["x", "X", " x ", "×", "*"]))
def test_pixels_parse_from_a_size_or_a_count(w: int, h: int, sep: str) -> None:
    assert parse_pixels(f"{w}{sep}{h}") == w * h
    assert parse_pixels(w * h) == parse_pixels(str(w * h)) == parse_pixels(float(w * h)) == w * h


@given(value=st.one_of(st.integers(max_value=0), st.floats(allow_nan=True).filter(lambda v: not float(v).is_integer()
                                                                                   or v <= 0),
                       st.text().filter(lambda t: not t.strip().isdigit() and "x" not in t.lower()),
                       st.booleans(), st.none()))
def test_bad_pixel_values_are_refused_with_the_option_name(value) -> None:
    with pytest.raises(InvalidOptions, match="max_pixels must be"):
        parse_pixels(value)


@given(seconds=st.floats(0.001, 1e7, allow_nan=False),
       unit=st.sampled_from([("", 1), ("s", 1), ("m", 60), ("H", 3600)]))
def test_seconds_parse_with_an_optional_unit(seconds: float, unit: tuple[str, int]) -> None:
    text = f"{seconds!r}{unit[0]}" if "e" not in repr(seconds) else f"{seconds:f}{unit[0]}"
    assert parse_seconds(text) == pytest.approx(float(text.rstrip("smhSMH")) * unit[1])
    assert parse_seconds(seconds) == seconds


@given(value=st.one_of(st.floats(max_value=0.0), st.just(float("inf")), st.just(float("nan")), st.booleans(),
                       st.sampled_from(["", "6 hours", "-1", "1d", "h", "0", "1e3"])))
def test_bad_seconds_are_refused(value) -> None:
    with pytest.raises(InvalidOptions, match="max_audio_s must be"):
        parse_seconds(value)


@given(side=st.integers(1, 10**6))
def test_sides_are_whole_positive_numbers(side: int) -> None:
    assert parse_side(side) == parse_side(str(side)) == side
    for bad in (-side, side + 0.5, str(-side), True):
        with pytest.raises(InvalidOptions, match="max_side must be"):
            parse_side(bad)


@given(w=st.integers(1, 20_000), h=st.integers(1, 20_000))
def test_the_default_rule_is_8k_pixels_and_8192_a_side(w: int, h: int) -> None:
    fits = InputLimits().frame_fits(w, h)
    assert fits == (w * h <= 7680 * 4320 and max(w, h) <= 8192)
    assert fits == InputLimits().frame_fits(h, w)  # a portrait frame is judged as its landscape twin


def test_defaults_environment_and_options_in_that_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limits_from_env() == InputLimits(DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, DEFAULT_MAX_AUDIO_S)
    monkeypatch.setenv("LIPSPOOL_MAX_PIXELS", "3840x2160")
    monkeypatch.setenv("LIPSPOOL_MAX_AUDIO_S", "8h")
    assert limits_from_env() == InputLimits(3840 * 2160, DEFAULT_MAX_SIDE, 8 * 3600.0)
    assert limits_for(max_pixels="100x100", max_audio_s=0) == InputLimits(10_000, DEFAULT_MAX_SIDE, 8 * 3600.0)
    monkeypatch.setenv("LIPSPOOL_MAX_SIDE", "wide")
    with pytest.raises(InvalidOptions, match="^the environment variable LIPSPOOL_MAX_SIDE must be"):
        limits_from_env()


def test_render_options_carry_the_limits() -> None:
    opts = RenderOptions.from_dict({"max_pixels": "7680x4320", "max_side": "9000", "max_audio_s": "90m"})
    assert (opts.max_pixels, opts.max_side, opts.max_audio_s) == (7680 * 4320, 9000, 5400.0)
    assert RenderOptions.from_dict(opts.to_dict()) == opts
    assert RenderOptions().max_pixels == 0  # not given: the environment's or the default
    with pytest.raises(InvalidOptions, match="max_audio_s must be"):
        RenderOptions.from_dict({"max_audio_s": "forever"})


def test_limits_in_effect_reach_worker_threads(media) -> None:
    assert active_limits() == InputLimits()
    with limits_in_effect(InputLimits(max_pixels=100)), pytest.raises(FrameTooLarge):
        list(iter_frames(media["video"]))  # decoded in a prefetch thread
    assert active_limits() == InputLimits()


# --- pictures ----------------------------------------------------------------------------------------

def test_header_sizes_of_png_and_jpeg(media) -> None:
    assert image_header_size(media["huge.png"]) == (10000, 10000)
    assert image_header_size(media["claims_huge.png"]) == (10000, 10000)
    assert image_header_size(media["claims_huge.jpg"]) == (12000, 9000)
    assert image_header_size(media["audio"]) is None


@pytest.mark.parametrize("name", ["huge.png", "claims_huge.png", "claims_huge.jpg"])
def test_a_huge_picture_is_refused_in_one_line(media, tmp_path, name: str) -> None:
    path = media[name]
    out = tmp_path / "o.mp4"
    with pytest.raises(FrameTooLarge) as exc:
        render(media["audio"], path, out, FAST)
    size = "12000x9000" if name.endswith(".jpg") else "10000x10000"
    msg = one_line(exc.value, f"video '{name}' is {size} pixels", "over the limit of 33.2 megapixels and 8192 pixels "
                   "a side", "render option max_pixels", "LIPSPOOL_MAX_PIXELS")
    assert isinstance(exc.value, InputTooLarge) and isinstance(exc.value, MediaError), msg
    assert not out.exists()


def test_probe_refuses_before_decoding_and_the_cli_says_so_in_one_line(media) -> None:
    with pytest.raises(FrameTooLarge):
        probe(media["huge.png"], "video")
    proc = subprocess.run([sys.executable, "-m", "engine", "render", "--audio", str(media["audio"]), "--video",
                           str(media["huge.png"]), "--out", str(media["huge.png"].with_suffix(".mp4"))],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: video 'huge.png' is 10000x10000 pixels")


def test_refusing_a_huge_picture_takes_little_memory(media, tmp_path) -> None:
    """Peak memory (VmHWM: this process image only, unlike ru_maxrss, which a child inherits from its
    parent on Linux) of a whole render call on the 10000x10000 PNG, in a fresh process."""
    script = ("import json, re, engine\n"
              "try:\n"
              f"    engine.render({str(media['audio'])!r}, {str(media['huge.png'])!r}, {str(tmp_path / 'o.mp4')!r})\n"
              "except engine.MediaError as exc:\n"
              "    error = str(exc)\n"
              "status = open('/proc/self/status').read()\n"
              "print(json.dumps([error, int(re.search(r'VmHWM:\\s*(\\d+)', status).group(1)) / 1024]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    error, peak_mb = json.loads(proc.stdout.strip().splitlines()[-1])
    assert error.startswith("video 'huge.png' is 10000x10000 pixels")
    assert peak_mb < MAX_RSS_MB, f"peak {peak_mb:.0f} MB"


def test_a_video_over_a_lowered_limit_is_refused_and_a_raised_one_lets_it_through(media, tmp_path,
                                                                                   monkeypatch) -> None:
    with pytest.raises(FrameTooLarge) as exc:
        render(media["audio"], media["video"], tmp_path / "o.mp4", {**FAST, "max_pixels": "100x100"})
    one_line(exc.value, "video 'v.mp4' is 160x120 pixels (19200 pixels), over the limit of 10000 pixels")
    monkeypatch.setenv("LIPSPOOL_MAX_SIDE", "150")
    with pytest.raises(FrameTooLarge, match="and 150 pixels a side"):
        render(media["audio"], media["video"], tmp_path / "o.mp4", FAST)
    res = render(media["audio"], media["video"], tmp_path / "o.mp4", {**FAST, "max_side": 160})
    assert res.width == 160 and (tmp_path / "o.mp4").exists()


# --- audio ---------------------------------------------------------------------------------------------

def test_audio_over_the_limit_is_refused_in_one_line(media, tmp_path, monkeypatch) -> None:
    out = tmp_path / "o.mp4"
    with pytest.raises(AudioTooLong) as exc:
        render(media["audio"], media["video"], out, {**FAST, "max_audio_s": 0.5})
    one_line(exc.value, "audio 'a.wav' lasts 0:00:01 (h:mm:ss), over the limit of 0:00:00", "max_audio_s",
             "LIPSPOOL_MAX_AUDIO_S")
    assert not out.exists()
    monkeypatch.setenv("LIPSPOOL_MAX_AUDIO_S", "0.5s")
    with pytest.raises(AudioTooLong):
        probe(media["audio"], "audio")
    probe(media["audio"], "media")  # inspecting a file is not using it
    assert render(media["audio"], media["video"], out, {**FAST, "max_audio_s": "1m"}).n_frames == 15


def test_audio_whose_header_tells_no_duration_is_refused_once_counted(media, tmp_path, monkeypatch) -> None:
    import engine.media.probe as media_probe

    monkeypatch.setattr(media_probe, "_stream_duration", lambda stream, container: 0.0)  # no duration in the header
    probe(media["audio"], "audio")  # nothing to judge yet
    with pytest.raises(AudioTooLong, match="^audio 'a.wav' lasts 0:00:01"):
        render(media["audio"], media["video"], tmp_path / "o.mp4", {**FAST, "max_audio_s": 0.5})


def test_hours_of_audio_are_allowed_by_default() -> None:
    assert InputLimits().audio_fits(6 * 3600) and not InputLimits().audio_fits(6 * 3600 + 1)
