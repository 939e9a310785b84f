"""Fixtures for integration tests: real daemon processes on a temporary root, real media files."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest
from spool_helpers import DaemonProcess

from engine.testing.media import make_test_audio, make_test_video
from spooler.config import Layout


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def layout(root: Path) -> Layout:
    return Layout(root).ensure()


@pytest.fixture
def daemons(root: Path):
    """Factory for daemon processes; every one still running is stopped at the end."""
    started: list[DaemonProcess] = []

    def start(*args: str) -> DaemonProcess:
        d = DaemonProcess(root, *args, name=f"daemon{len(started)}")
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.stop(signal.SIGKILL, timeout=10)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small real media files shared by the integration tests."""
    folder = tmp_path_factory.mktemp("media")
    files = {
        "tiny": make_test_video(folder / "tiny.mp4", seconds=0.6, fps=25, size=(96, 64)),
        "small": make_test_video(folder / "small.mp4", seconds=1.0, fps=25, size=(160, 120)),
        "wide": make_test_video(folder / "wide.mp4", seconds=1.0, fps=25, size=(1280, 720)),
        "audio_short": make_test_audio(folder / "short.wav", seconds=1.0),
        "audio_long": make_test_audio(folder / "long.wav", seconds=20.0),  # ~2.5 s per item: room to act mid-item
    }
    return {k: Path(v) for k, v in files.items()}
