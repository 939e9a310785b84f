"""Integration tests: real daemon processes, real media, real renders through the `none` backend."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from pathlib import Path

import av
import pytest
from spool_helpers import copy_into, finished, run_cli, status, submit, wait_for

from engine.testing.media import make_corrupt_file
from spooler import protocol
from spooler.records import ItemState, JobState

pytestmark = pytest.mark.integration


def _decode_summary(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0]
        return {"vcodec": v.codec_context.name, "acodec": a.codec_context.name,
                "duration": float(c.duration) / 1e6, "frames": sum(1 for _ in c.decode(video=0))}


def _log_text(root: Path) -> str:
    return (root / "logs" / "lipspool.log").read_text(errors="replace")


def test_many_jobs_run_exactly_once_with_two_daemons(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_short"])
    video = copy_into(root, media["tiny"])
    d1, d2 = daemons(), daemons()
    ids = [submit(layout, audio, [video]) for _ in range(24)]
    done = wait_for(lambda: all(finished(layout, j) for j in ids), timeout=180, what="24 jobs to finish")
    assert done
    log = _log_text(root)
    for job_id in ids:
        assert len(re.findall(rf"running job {job_id} ", log)) == 1, f"job {job_id} did not run exactly once"
        assert (layout.spool_dir("done") / f"{job_id}.json").exists()
        s = status(layout, job_id)
        assert s.state == JobState.DONE and s.done == 1
        assert Path(s.items[0].output).exists() and Path(s.items[0].thumbnail).exists()
    assert protocol.active_files(layout) == [] and protocol.queued_files(layout) == []
    owners = {status(layout, j).worker.pid for j in ids}
    assert owners <= {d1.pid, d2.pid}
    assert d1.stop() == 0 and d2.stop() == 0
    assert not list(layout.spool_dir("workers").iterdir()), "clean exit removes the heartbeat file"


def test_output_is_h264_aac_as_long_as_the_audio_with_a_thumbnail(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_short"])
    video = copy_into(root, media["small"], "presenter one.mp4")
    daemons()
    job_id = submit(layout, audio, [video])
    s = wait_for(lambda: finished(layout, job_id), timeout=60, what="the job")
    out = Path(s.items[0].output)
    assert out.parent == root / "results" / job_id and out.name == "01_presenter_one.mp4"
    info = _decode_summary(out)
    assert info["vcodec"] == "h264" and info["acodec"] == "aac"
    assert abs(info["duration"] - 1.0) <= 0.08
    assert Path(s.items[0].thumbnail).read_bytes()[:2] == b"\xff\xd8"  # JPEG
    assert not list(out.parent.glob(".*.part")), "no temporary output left"


def test_bad_job_files_are_rejected_with_reasons_and_the_daemon_goes_on(root, layout, media, daemons, tmp_path) -> None:
    audio = copy_into(root, media["audio_short"])
    video = copy_into(root, media["tiny"])
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(video.read_bytes())
    new = layout.spool_dir("new")
    bad = {
        "garbage.json": "this is not json",
        "nofields.json": json.dumps({"schema": 1}),
        "future.json": json.dumps({"schema": 2, "audio": str(audio), "videos": [str(video)]}),
        "missing.json": json.dumps({"schema": 1, "audio": str(audio), "videos": [str(root / "nope.mp4")]}),
        "outside.json": json.dumps({"schema": 1, "audio": str(audio), "videos": [str(outside)]}),
        "notes.txt": "hello",
        "badcrf.json": json.dumps({"schema": 1, "audio": str(audio), "videos": [str(video)],
                                   "options": {"crf": "high"}}),
        "nobackend.json": json.dumps({"schema": 1, "audio": str(audio), "videos": [str(video)],
                                      "options": {"backend": "magic"}}),
    }
    for name, text in bad.items():
        (new / name).write_text(text)
        os.utime(new / name, (time.time() - 10, time.time() - 10))  # long settled
    d = daemons()
    reasons = {
        "garbage.json": "not valid JSON",
        "nofields.json": 'missing field "audio"',
        "future.json": "unknown schema version 2",
        "missing.json": "input file not found",
        "outside.json": "outside the allowed roots",
        "notes.txt": "not a job file",
        "badcrf.json": "bad options: crf must be a number from 0 (lossless) to 51, got 'high'",
        "nobackend.json": "bad options: unknown backend 'magic'; known backends: identity, none, rewrite, wav2lip",
    }
    for name, reason in reasons.items():
        reason_file = layout.spool_dir("rejected") / f"{name}.reason.txt"
        wait_for(reason_file.exists, timeout=30, what=f"{name} to be rejected")
        assert reason in reason_file.read_text()
        assert (layout.spool_dir("rejected") / name).read_text() == bad[name], "the file is kept as it was"
    job_id = submit(layout, audio, [video])
    assert wait_for(lambda: finished(layout, job_id), timeout=60,
                    what="a good job after the bad ones").state == JobState.DONE
    assert d.proc.poll() is None


def test_a_corrupt_video_fails_its_item_and_the_others_run(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_short"])
    good1 = copy_into(root, media["tiny"], "good1.mp4")
    bad = make_corrupt_file(root / "media" / "broken.mp4")
    good2 = copy_into(root, media["tiny"], "good2.mp4")
    d = daemons()
    job_id = submit(layout, audio, [good1, Path(bad), good2])
    s = wait_for(lambda: finished(layout, job_id), timeout=90, what="the job")
    assert s.state == JobState.DONE_WITH_FAILURES and (s.done, s.failed, s.total) == (2, 1, 3)
    assert [it.state for it in s.items] == [ItemState.DONE, ItemState.FAILED, ItemState.DONE]
    assert "broken.mp4" in s.items[1].error and "\n" not in s.items[1].error
    assert Path(s.items[0].output).exists() and Path(s.items[2].output).exists()
    assert Path(bad).exists(), "the input is kept"
    assert (layout.spool_dir("done") / f"{job_id}.json").exists()
    assert d.proc.poll() is None


def _wait_item_running(layout, job_id: str, index: int, min_progress: float = 0.05):
    def check():
        s = status(layout, job_id)
        return s if (s and s.items[index].state == ItemState.RUNNING
                     and s.items[index].progress >= min_progress) else None

    return wait_for(check, timeout=120, what=f"item {index + 1} of {job_id} to be rendering", poll=0.02)


def test_kill_9_mid_job_then_restart_resumes_without_rendering_twice(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_long"])
    videos = [copy_into(root, media["wide"], f"p{i}.mp4") for i in range(3)]
    d1 = daemons()
    job_id = submit(layout, audio, videos)
    _wait_item_running(layout, job_id, 1)
    first_output = Path(status(layout, job_id).items[0].output)
    before = first_output.stat()
    os.kill(d1.pid, signal.SIGKILL)
    d1.proc.wait(10)
    assert protocol.find_job_file(layout, job_id).parent.name == "active"

    daemons()
    s = wait_for(lambda: finished(layout, job_id), timeout=240, what="the resumed job")
    assert s.state == JobState.DONE and s.done == 3
    after = first_output.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "item 1 was rendered again"
    log = _log_text(root)
    assert f"took back job {job_id}" in log
    assert len(re.findall(rf"job {job_id} item 1/3 done", log)) == 1
    assert len(re.findall(rf"job {job_id} item 2/3 done", log)) == 1
    assert not list((root / "results" / job_id).glob(".*.part")), "the killed render's partial file is gone"


def test_sigterm_stops_cleanly_and_the_job_resumes(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_long"])
    videos = [copy_into(root, media["wide"], f"p{i}.mp4") for i in range(2)]
    d1 = daemons()
    job_id = submit(layout, audio, videos)
    _wait_item_running(layout, job_id, 0)
    t0 = time.monotonic()
    assert d1.stop(signal.SIGTERM, timeout=30) == 0
    assert time.monotonic() - t0 < 10, "SIGTERM should stop within a frame, not at the end of the item"
    s = status(layout, job_id)
    assert s.state == JobState.INTERRUPTED and s.items[0].state == ItemState.QUEUED
    assert protocol.find_job_file(layout, job_id).parent.name == "active"
    assert not list((root / "results" / job_id).glob("*.mp4"))
    daemons()
    s = wait_for(lambda: finished(layout, job_id), timeout=240, what="the resumed job")
    assert s.state == JobState.DONE and s.done == 2


def test_cancel_stops_a_running_job_between_frames(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_long"])
    videos = [copy_into(root, media["wide"], f"p{i}.mp4") for i in range(2)]
    daemons()
    job_id = submit(layout, audio, videos)
    _wait_item_running(layout, job_id, 0)
    t0 = time.monotonic()
    result = run_cli(root, "cancel", job_id)
    assert result.returncode == 0 and "cancel requested" in result.stdout
    s = wait_for(lambda: finished(layout, job_id), timeout=30, what="the cancelled job")
    assert time.monotonic() - t0 < 10
    assert s.state == JobState.CANCELLED
    assert [it.state for it in s.items] == [ItemState.CANCELLED, ItemState.CANCELLED]
    assert not list((root / "results" / job_id).glob("*.mp4")) and not list((root / "results" / job_id).glob(".*"))
    assert not protocol.cancel_requested(layout, job_id), "the request is cleared once handled"


def test_rescan_finds_jobs_without_watchdog(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_short"])
    video = copy_into(root, media["tiny"])
    daemons("--no-watch", "--rescan", "0.5")
    job_id = submit(layout, audio, [video])
    assert wait_for(lambda: finished(layout, job_id), timeout=60, what="the job").state == JobState.DONE
    assert "watchdog off" in _log_text(root)


def test_hand_dropped_job_with_relative_paths(root, layout, media, daemons) -> None:
    copy_into(root, media["audio_short"], "speech.wav")
    copy_into(root, media["tiny"], "anna.mp4")
    daemons()
    tmp = layout.spool / "by-hand.json.tmp"
    tmp.write_text(json.dumps({"schema": 1, "name": "手工任务", "audio": "../../media/speech.wav",
                               "videos": ["../../media/anna.mp4"], "options": {"backend": "none"}},
                              ensure_ascii=False))
    tmp.rename(layout.spool_dir("new") / "monday.json")
    s = wait_for(lambda: finished(layout, "monday"), timeout=60, what="the hand-dropped job")
    assert s.state == JobState.DONE and s.name == "手工任务"
    assert Path(s.items[0].output).name == "01_anna.mp4"


def test_cli_submit_status_list_and_copy(root, layout, media, daemons, tmp_path) -> None:
    outside_audio, outside_video = media["audio_short"], media["tiny"]
    refused = run_cli(root, "submit", "--audio", str(outside_audio), "--video", str(outside_video))
    assert refused.returncode == 1
    assert "outside the allowed roots" in refused.stderr and "--allow-root" in refused.stderr
    assert "--copy" in refused.stderr

    missing = run_cli(root, "submit", "--audio", str(tmp_path / "nope.wav"), "--video", str(outside_video))
    assert missing.returncode == 1 and "not found" in missing.stderr

    bad = run_cli(root, "submit", "--copy", "--audio", str(outside_audio), "--video", str(outside_video),
                  "--option", "preset=ludicrous")
    assert bad.returncode == 1 and "bad options: preset must be one of" in bad.stderr

    ok = run_cli(root, "submit", "--copy", "--name", "lecture", "--audio", str(outside_audio),
                 "--video", str(outside_video), str(outside_video), "--backend", "none")
    assert ok.returncode == 0, ok.stderr
    job_id = ok.stdout.strip().splitlines()[-1]
    inputs = sorted(p.name for p in (root / "results" / job_id / "inputs").iterdir())
    assert inputs == ["short.wav", "tiny-2.mp4", "tiny.mp4"]
    queued = json.loads(run_cli(root, "status", job_id, "--json").stdout)
    assert queued["state"] == "queued" and queued["total"] == 2

    daemons()
    wait_for(lambda: finished(layout, job_id), timeout=60, what="the job")
    final = json.loads(run_cli(root, "status", job_id, "--json").stdout)
    assert final["state"] == "done" and final["done"] == 2
    listing = run_cli(root, "list")
    assert job_id in listing.stdout and "lecture" in listing.stdout
    assert run_cli(root, "status", "no-such-job").returncode == 1
    idle = rf"^  {re.escape(socket.gethostname())}  \S+  cpu  idle: waiting  \(heartbeat \d+s ago\)$"

    def idle_summary() -> str | None:
        out = run_cli(root, "status").stdout
        return out if re.search(idle, out, re.M) else None

    summary = wait_for(idle_summary, timeout=10, what="the worker line (host, id, device, state) in `status`")
    assert "workers alive: 1" in summary


def test_a_frozen_owner_loses_its_item_to_another_daemon_and_lets_go(root, layout, media, daemons) -> None:
    """SIGSTOP freezes the owner's heartbeat; a second daemon takes the item over; on SIGCONT the
    first notices within a frame or two, abandons it, and never overwrites the new owner's record."""
    audio = copy_into(root, media["audio_long"])
    video = copy_into(root, media["wide"], "p0.mp4")
    d1 = daemons()
    job_id = submit(layout, audio, [video])
    _wait_item_running(layout, job_id, 0)
    os.kill(d1.pid, signal.SIGSTOP)
    try:
        d2 = daemons("--stale-after", "2")
        wait_for(lambda: status(layout, job_id).items[0].worker.pid == d2.pid, timeout=90,
                 what="the takeover")  # d2 starts (imports), then waits out --stale-after: slow under load
    finally:
        os.kill(d1.pid, signal.SIGCONT)
    s = wait_for(lambda: finished(layout, job_id), timeout=240, what="the job under its new owner")
    assert s.state == JobState.DONE and s.done == 1 and s.items[0].worker.pid == d2.pid
    wait_for(lambda: f"job {job_id} was taken over by another worker; abandoning item 1" in _log_text(root),
             timeout=30, what="the first daemon to let go mid-item")
    assert f"took back job {job_id} item 1 from" in _log_text(root)
    assert len(re.findall(rf"job {job_id} item 1/1 done", _log_text(root))) == 1, "item 1 finished twice"
    time.sleep(1.5)  # give a stale heartbeat write the chance to happen, if it could
    again = status(layout, job_id)
    assert again.state == JobState.DONE and again.items[0].worker.pid == d2.pid
    assert (layout.spool_dir("done") / f"{job_id}.json").exists()
    assert d1.proc.poll() is None and d2.proc.poll() is None, "both daemons keep serving"
    assert not list((root / "results" / job_id).glob(".*.part"))


def test_one_batch_job_spreads_over_two_daemons_each_item_exactly_once(root, layout, media, daemons) -> None:
    """Items are the unit of work: a 6-presenter job on two daemons renders on both, in order,
    every item once, and the job ends once, by whichever daemon finished its last item."""
    audio = copy_into(root, media["audio_long"])
    videos = [copy_into(root, media["small"], f"p{i}.mp4") for i in range(6)]
    d1, d2 = daemons(), daemons()
    job_id = submit(layout, audio, videos)
    s = wait_for(lambda: finished(layout, job_id), timeout=240, what="the batch")
    assert s.state == JobState.DONE and s.done == 6
    log = _log_text(root)
    for i in range(6):
        assert len(re.findall(rf"job {job_id} item {i + 1}/6 done", log)) == 1, f"item {i + 1} not exactly once"
    assert {it.worker.pid for it in s.items} == {d1.pid, d2.pid}, "both daemons rendered items of the one job"
    # the job file reaches done/ a moment before its last worker logs the end: wait for the line
    def ended() -> str | None:
        text = _log_text(root)
        return text if f"job {job_id} done:" in text else None

    log = wait_for(ended, timeout=30, what="the job's end in the log")
    assert len(re.findall(rf"job {job_id} done:", log)) == 1
    assert not protocol.tickets_left(layout, job_id) and protocol.opened_jobs(layout) == []


def test_default_backend_lip_syncs_a_face_and_fails_a_faceless_item(root, layout, media, daemons) -> None:
    """A job with no options uses `rewrite`: the presenter renders, a video without a face fails
    with a reason naming the file, and the job ends done-with-failures with the output kept."""
    from measure.evaluate.synthetic import make_talking_clip

    faceless = copy_into(root, media["tiny"], "nobody.mp4")
    presenter = make_talking_clip(root / "media" / "presenter.mp4", seconds=2.0).path
    audio = copy_into(root, media["audio_short"])
    daemons()
    job = protocol.make_job(str(audio), [str(presenter), str(faceless)])  # no options: the default backend
    protocol.submit(layout, job)
    s = wait_for(lambda: finished(layout, job.id), timeout=120, what="the job")
    assert s.state == JobState.DONE_WITH_FAILURES and s.backend == "rewrite"
    assert s.items[0].state == "done" and Path(s.items[0].output).is_file()
    assert s.items[1].state == "failed" and "no face found in nobody.mp4" in s.items[1].error



def test_workers_2_runs_two_worker_processes_that_share_a_batch_and_stop_on_sigterm(root, layout, media,
                                                                                    daemons) -> None:
    audio = copy_into(root, media["audio_long"])
    videos = [copy_into(root, media["small"], f"p{i}.mp4") for i in range(4)]
    supervisor = daemons("--workers", "2")
    job_id = submit(layout, audio, videos)
    s = wait_for(lambda: finished(layout, job_id), timeout=240, what="the batch")
    assert s.state == JobState.DONE and s.done == 4
    pids = {it.worker.pid for it in s.items}
    assert len(pids) == 2 and supervisor.pid not in pids, "two worker processes, neither the supervisor"
    workers = [json.loads(p.read_text()) for p in layout.spool_dir("workers").glob("*.json")]
    assert len(workers) == 2
    assert supervisor.stop(signal.SIGTERM, timeout=60) == 0
    wait_for(lambda: not list(layout.spool_dir("workers").glob("*.json")), timeout=30,
             what="both workers to remove their heartbeat files")
