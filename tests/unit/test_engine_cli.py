"""`python -m engine`: exit codes, readable errors, probe JSON, progress output."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import ProgressPrinter, main
from engine.testing.media import make_corrupt_file, make_test_audio, make_test_video

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli_media")
    return {"video": make_test_video(d / "v.mp4", seconds=0.4), "audio": make_test_audio(d / "a.wav", seconds=0.6),
            "corrupt": make_corrupt_file(d / "broken.mp4")}


def test_render_ok(media, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    rc = main(["render", "--audio", str(media["audio"]), "--video", str(media["video"]), "--out", str(out),
               "--backend", "none", "--device", "cuda", "--crf", "28"])
    cap = capsys.readouterr()
    assert rc == 0 and out.exists()
    assert json.loads(cap.out)["n_frames"] == 15
    assert "encode 100%" in cap.err and "\r" not in cap.err  # plain lines when not a TTY


def test_render_errors_exit_1_with_one_line(media, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    rc = main(["render", "--audio", str(media["audio"]), "--video", str(media["corrupt"]), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and err[-1].startswith("error: cannot read video 'broken.mp4'") and not out.exists()
    assert "Traceback" not in "\n".join(err)
    rc = main(["render", "--audio", str(media["audio"]), "--video", str(media["video"]), "--out", str(out),
               "--backend", "nope"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 1 and err.startswith("error: unknown backend 'nope'; known backends: ") and "none" in err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["render", "--audio", "a.wav"])
    assert exc.value.code == 2


def test_probe_and_backends(media, capsys):
    assert main(["probe", str(media["video"])]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["width"], info["height"], info["has_audio"]) == (160, 120, True)
    assert main(["backends"]) == 0
    assert any(line.startswith("none\tavailable") for line in capsys.readouterr().out.splitlines())
    assert main(["probe", str(media["corrupt"])]) == 1


def test_progress_bar_on_tty():
    buf = io.StringIO()
    p = ProgressPrinter(buf, tty=True, min_interval=0.0)
    for i in range(5):
        p("encode", i / 4)
    p.finish()
    text = buf.getvalue()
    assert text.count("\r") == 5 and "[" + "#" * 28 + "]" in text and text.endswith("\n")


def test_python_dash_m(media):
    res = subprocess.run([sys.executable, "-m", "engine", "probe", str(media["audio"])], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and json.loads(res.stdout)["audio_rate"] == 16000
