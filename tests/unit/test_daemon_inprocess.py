"""The daemon survives a bug in a backend: the item fails with a one-line reason, the traceback
goes to the log, and the next job still runs. The daemon runs in this process (with --once) so
that a deliberately broken backend can be registered next to the real `none` one."""
from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import numpy as np
import pytest

from engine.backends import Backend, register, unregister
from engine.testing.media import make_test_audio, make_test_video
from spooler import protocol
from spooler.config import Layout
from spooler.daemon import Daemon, DaemonOptions
from spooler.records import ItemState, JobState


class ExplodingBackend(Backend):
    """A backend with a bug: it raises ZeroDivisionError after three frames."""

    name = "explode"

    def is_available(self) -> tuple[bool, str]:
        return True, "test backend that fails after three frames"

    def frames(self, ctx, progress):
        for _ in range(3):
            yield np.zeros((ctx.height, ctx.width, 3), np.uint8)
        raise ZeroDivisionError("division by zero\nsecond line of the message")


@pytest.fixture
def exploding_backend():
    register("explode", ExplodingBackend)
    yield "explode"
    unregister("explode")


@pytest.fixture
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_a_crashing_backend_fails_its_item_and_the_daemon_goes_on(tmp_path: Path, caplog, restore_signals,
                                                                   exploding_backend) -> None:
    layout = Layout(tmp_path / "root").ensure()
    video = make_test_video(layout.root / "v.mp4", seconds=0.5, size=(64, 48))
    audio = make_test_audio(layout.root / "a.wav", seconds=0.5)
    broken = protocol.make_job(str(audio), [str(video), str(video)], options={"backend": "explode"})
    fine = protocol.make_job(str(audio), [str(video)], options={"backend": "none"})
    protocol.submit(layout, broken)
    protocol.submit(layout, fine)

    caplog.set_level(logging.INFO)
    assert Daemon(layout, DaemonOptions(watch=False, once=True)).run() == 0

    s = protocol.read_status(layout, broken.id)
    assert s.state == JobState.FAILED and [it.state for it in s.items] == [ItemState.FAILED] * 2
    assert s.items[0].error == "internal error: ZeroDivisionError: division by zero"
    assert (layout.spool_dir("failed") / f"{broken.id}.json").exists()
    crash = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ZeroDivisionError]
    assert len(crash) == 2, "each crash is logged with its traceback"
    assert protocol.read_status(layout, fine.id).state == JobState.DONE
    assert not list((layout.results / broken.id).glob(".*.part"))


def test_each_item_gets_its_template_check_and_faces_are_tracked_once(tmp_path: Path, restore_signals,
                                                                       monkeypatch) -> None:
    import engine.faces.track as track_mod
    from measure.evaluate.synthetic import make_talking_clip

    layout = Layout(tmp_path / "root").ensure()
    talking = make_talking_clip(layout.root / "talking.mp4", seconds=3.0).path
    numbers = make_test_video(layout.root / "numbers.mp4", seconds=0.5, size=(64, 48))
    audio = make_test_audio(layout.root / "a.wav", seconds=1.0)
    tracked: list[str] = []
    compute = track_mod.compute_track

    def counting(path, *args, **kwargs):
        tracked.append(Path(path).name)
        return compute(path, *args, **kwargs)

    monkeypatch.setattr(track_mod, "compute_track", counting)
    job = protocol.make_job(str(audio), [str(talking)], options={"backend": "identity"})
    plain = protocol.make_job(str(audio), [str(numbers)], options={"backend": "none"})
    protocol.submit(layout, job)
    protocol.submit(layout, plain)
    assert Daemon(layout, DaemonOptions(watch=False, once=True)).run() == 0

    status = protocol.read_status(layout, job.id)
    assert status.state == JobState.DONE
    check = status.items[0].template_check
    assert check["schema"] == 1 and check["video"] == "talking.mp4" and check["source"] == "track"
    assert check["verdict"] in ("good", "usable") and check["speech_share"] > 0.5
    assert all(a["zh"] and a["en"] for a in check["advice"])
    assert tracked == ["talking.mp4"], "the check's face track is the one the render reads back"
    raw = json.loads(protocol.status_path(layout, job.id).read_text())
    assert raw["items"][0]["template_check"]["verdict"] == check["verdict"]
    # the `none` backend tracks no faces: its check samples frames; a video without a face is poor
    other = protocol.read_status(layout, plain.id)
    assert other.state == JobState.DONE and other.items[0].template_check["source"] == "sampled"
    assert other.items[0].template_check["verdict"] == "poor"


def test_a_failing_template_check_never_fails_the_item(tmp_path: Path, caplog, restore_signals, monkeypatch) -> None:
    import engine.template_check

    def broken(*args, **kwargs):
        raise RuntimeError("the check has a bug")

    monkeypatch.setattr(engine.template_check, "check_before_render", broken)
    layout = Layout(tmp_path / "root").ensure()
    video = make_test_video(layout.root / "v.mp4", seconds=0.5, size=(64, 48))
    audio = make_test_audio(layout.root / "a.wav", seconds=0.5)
    job = protocol.make_job(str(audio), [str(video)], options={"backend": "none"})
    protocol.submit(layout, job)
    caplog.set_level(logging.INFO)
    assert Daemon(layout, DaemonOptions(watch=False, once=True)).run() == 0
    status = protocol.read_status(layout, job.id)
    assert status.state == JobState.DONE and status.items[0].template_check is None
    assert "template_check" not in json.loads(protocol.status_path(layout, job.id).read_text())["items"][0]
    assert any("template check failed, rendering anyway: RuntimeError: the check has a bug" in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING)


class DiskFullBackend(Backend):
    """A backend whose output write fails the way a full disk does, on the first job only."""

    name = "diskfull"
    calls = 0

    def is_available(self) -> tuple[bool, str]:
        return True, "test backend that runs out of disk once"

    def frames(self, ctx, progress):
        DiskFullBackend.calls += 1
        if DiskFullBackend.calls == 1:
            raise OSError(28, "No space left on device", str(ctx.scratch_dir / "frame.raw"))
        for _ in range(ctx.n_frames):
            yield np.zeros((ctx.height, ctx.width, 3), np.uint8)


def test_a_full_disk_fails_the_item_with_a_reason_and_the_next_item_runs(tmp_path: Path, restore_signals,
                                                                        monkeypatch) -> None:
    register("diskfull", DiskFullBackend)
    try:
        layout = Layout(tmp_path / "root").ensure()
        video = make_test_video(layout.root / "v.mp4", seconds=0.5, size=(64, 48))
        audio = make_test_audio(layout.root / "a.wav", seconds=0.5)
        job = protocol.make_job(str(audio), [str(video), str(video)], options={"backend": "diskfull"})
        protocol.submit(layout, job)
        writes = {"n": 0}
        real_write = protocol.write_status

        def flaky_status(layout_, status):  # the status folder refuses one write mid-job
            writes["n"] += 1
            if writes["n"] == 3:
                raise OSError(30, "Read-only file system")
            real_write(layout_, status)

        monkeypatch.setattr(protocol, "write_status", flaky_status)
        assert Daemon(layout, DaemonOptions(watch=False, once=True)).run() == 0
    finally:
        unregister("diskfull")
    s = protocol.read_status(layout, job.id)
    assert s.state == JobState.DONE_WITH_FAILURES and [it.state for it in s.items] == [ItemState.FAILED, ItemState.DONE]
    assert s.items[0].error.startswith("cannot write the output: No space left on device")
    assert (layout.spool_dir("done") / f"{job.id}.json").exists()
