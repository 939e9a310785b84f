"""Hostile and unlucky input against a real daemon process: every bad file ends in rejected/ or
failed/ with a reason and a status, no job adopts another's outputs or records, nothing is read
or written outside the allowed roots, and the daemon stays idle while a file is being written."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from spool_helpers import copy_into, finished, run_cli, submit, wait_for

from engine.testing.media import black_png
from spooler import protocol
from spooler.records import ItemState, JobState

CHINESE_STEM = "讲座" * 40  # 80 characters, 240 bytes: a legal file name whose output name would not be


def _drop(layout, name: str, content: str | bytes, age_s: float = 10.0) -> Path:
    """A hand-written job file in new/, already settled."""
    path = layout.spool_dir("new") / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    os.utime(path, (time.time() - age_s, time.time() - age_s))
    return path


def _rejected_status(layout, job_id: str):
    def check():
        s = protocol.read_status(layout, job_id)
        return s if s and s.state == JobState.REJECTED else None

    return wait_for(check, timeout=60, what=f"{job_id} to be rejected with a status")


def test_every_bad_job_file_ends_rejected_with_a_status_and_none_stays_in_active(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_short"])
    video = copy_into(root, media["tiny"])
    good = {"schema": 1, "audio": str(audio), "videos": [str(video)]}
    deep = "[" * 200000 + "]" * 200000
    nested = f'{{"schema": 1, "audio": "{audio}", "videos": ["{video}"], "options": {deep}}}'
    cases = {
        "nested": (nested, "nested"),
        "wrongtype": (json.dumps({**good, "submitted_at": "yesterday"}), "submitted_at"),
        "nametype": (json.dumps({**good, "name": {"x": 1}}), '"name"'),
        "nul": (json.dumps({**good, "audio": str(audio) + "\u0000.wav"}), "NUL"),
        "longpath": (json.dumps({**good, "videos": [str(root / ("x" * 300) / "v.mp4")]}), "too long"),
        "huge": (json.dumps({**good, "name": "x" * 2_000_000}), "too big"),
        "otherid": (json.dumps({**good, "id": "somebody-else"}), "must match"),
        "cachedir": (json.dumps({**good, "options": {"backend": "none", "cache_dir": "/tmp"}}), "cache_dir"),
        "checkpoint": (json.dumps({**good, "options": {"backend": "wav2lip", "checkpoint": "/etc/passwd"}}),
                       "outside the allowed roots"),
        "mouthmodel": (json.dumps({**good, "options": {"backend": "rewrite", "mouth_model": "/etc/hostname"}}),
                       "outside the allowed roots"),
        "otheroption": (json.dumps({**good, "options": {"backend": "none", "mouth_model": "/etc/hostname"}}),
                        "unknown option 'mouth_model'"),
        "ownlimit": (json.dumps({**good, "options": {"backend": "none", "max_pixels": "100000x100000"}}),
                     "LIPSPOOL_MAX_PIXELS"),
    }
    for job_id, (text, _) in cases.items():
        _drop(layout, f"{job_id}.json", text)
    d = daemons("--rescan", "0.5")
    for job_id, (_, reason) in cases.items():
        s = _rejected_status(layout, job_id)
        assert reason in s.message, (job_id, s.message)
        assert "\n" not in s.message and len(s.message) < 600
        assert (layout.spool_dir("rejected") / f"{job_id}.json").exists(), "the file is kept in rejected/"
    assert not list(layout.spool_dir("active").iterdir()), "nothing is left in active/"
    job_id = submit(layout, audio, [video])
    assert wait_for(lambda: finished(layout, job_id), timeout=60, what="a good job after").state == JobState.DONE
    assert d.proc.poll() is None
    log = (root / "logs" / "lipspool.log").read_text(errors="replace")
    assert log.count("rejected nested.json") == 1 and "Traceback" not in log


def test_a_chinese_file_name_of_80_characters_renders_with_its_neighbours(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_short"])
    first = copy_into(root, media["tiny"], f"{CHINESE_STEM}.mp4")
    second = copy_into(root, media["tiny"], "second.mp4")
    daemons()
    job_id = submit(layout, audio, [first, second])
    s = wait_for(lambda: finished(layout, job_id), timeout=90, what="the job")
    assert s.state == JobState.DONE, [it.error for it in s.items]
    for item in s.items:
        out = Path(item.output)
        assert out.exists() and len(out.name.encode()) <= 255 and len(Path(item.thumbnail).name.encode()) <= 255
    assert Path(s.items[0].output).name.startswith("01_讲座")


def test_an_unwritable_results_folder_fails_the_job_and_the_daemon_recovers(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_short"])
    video = copy_into(root, media["tiny"])
    job = protocol.make_job(str(audio), [str(video)], options={"backend": "none"})
    (layout.results / job.id).write_text("a file where the job's results folder should be")
    d = daemons("--rescan", "0.5")
    protocol.submit(layout, job)
    s = wait_for(lambda: finished(layout, job.id), timeout=60, what="the job to fail")
    assert s.state == JobState.FAILED and "results" in s.message, s.message
    assert protocol.folder_of(protocol.find_job_file(layout, job.id)) == "failed"
    later = submit(layout, audio, [video])
    assert wait_for(lambda: finished(layout, later), timeout=60, what="the next job").state == JobState.DONE
    assert d.proc.poll() is None


def test_a_job_file_reusing_a_finished_jobs_id_never_adopts_its_outputs(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_short"])
    other_audio = copy_into(root, media["audio_long"])
    video = copy_into(root, media["tiny"])
    daemons("--rescan", "0.5")
    job_id = submit(layout, audio, [video])
    first = wait_for(lambda: finished(layout, job_id), timeout=60, what="the first job")
    output = Path(first.items[0].output)
    before = output.read_bytes()
    _drop(layout, f"{job_id}.json", json.dumps({"schema": 1, "audio": str(other_audio), "videos": [str(video)]}))
    _drop(layout, "broken-twin.json", json.dumps({"schema": 1, "id": job_id}))

    def refused():
        return [p for p in layout.spool_dir("rejected").glob("*.json") if p.name.startswith(job_id)]

    wait_for(lambda: len(refused()) == 1, timeout=60, what="the duplicate to be refused")
    reason = Path(str(refused()[0]) + ".reason.txt").read_text()
    assert job_id in reason and "already exists" in reason
    wait_for(lambda: (layout.spool_dir("rejected") / "broken-twin.json").exists(), timeout=60, what="the twin")
    again = protocol.read_status(layout, job_id)
    assert again.state == JobState.DONE and again.audio == first.audio, "the first job's record is untouched"
    assert output.read_bytes() == before


def test_a_file_still_being_written_keeps_the_daemon_idle_and_is_rejected_once(root, layout, media, daemons) -> None:
    d = daemons()
    time.sleep(3)  # let it start
    partial = layout.spool_dir("new") / "growing.json"
    partial.write_text('{"schema": 1, "audio": ')
    cpu0 = _cpu_seconds(d.pid)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.5:  # a slow writer: the file stays fresh and unparsable
        os.utime(partial)
        time.sleep(0.3)
    cpu = _cpu_seconds(d.pid) - cpu0
    assert cpu < 0.5, f"the daemon used {cpu:.2f} s of CPU in 1.5 s while a file was being written"
    _rejected_status(layout, "growing")
    time.sleep(2)
    log = (root / "logs" / "lipspool.log").read_text(errors="replace")
    assert log.count("rejected growing.json") == 1


def test_cli_refuses_job_ids_that_are_paths_and_touches_nothing_outside(root, layout, tmp_path) -> None:
    secret = layout.spool / "status.json"
    secret.write_text(json.dumps({"schema": 1, "job_id": "x", "state": "done"}))
    for job in ("../status", "../../x", "abc\n", "a/b", "."):
        for command in ("status", "cancel"):
            r = run_cli(root, command, job)
            assert r.returncode == 1 and "bad job id" in r.stderr, (job, command, r.stdout, r.stderr)
    assert not (layout.spool / "x").exists() and not list(layout.spool.glob("*.json"))[1:]


def test_names_with_newlines_and_escapes_never_reach_the_log_or_terminal_raw(root, layout, media, daemons) -> None:
    audio = copy_into(root, media["audio_short"])
    video = copy_into(root, media["tiny"])
    evil = "lecture\n2026-01-01 00:00:00 ERROR forged line\x1b[2J"
    job = protocol.make_job(str(audio), [str(video)], name=evil, options={"backend": "none"})
    daemons()
    protocol.submit(layout, job)
    wait_for(lambda: finished(layout, job.id), timeout=60, what="the job")
    log = (root / "logs" / "lipspool.log").read_text(errors="replace")
    assert "\x1b" not in log and "\nforged" not in log and "ERROR forged" not in log.replace("\\n", "\n").split("\n")[0]
    assert not any(line.startswith("2026-01-01") for line in log.splitlines())
    r = run_cli(root, "status", job.id)
    assert r.returncode == 0 and "\x1b" not in r.stdout and "lecture\\n2026" in r.stdout


def test_an_item_state_survives_in_status_even_when_every_input_is_odd(root, layout, media, daemons) -> None:
    """Names that are legal but awkward (spaces, quotes, a leading dash, emoji) render like any other."""
    audio = copy_into(root, media["audio_short"], "-a 'quoted' \"x\".wav")
    video = copy_into(root, media["tiny"], "--help 🎬 $(id).mp4")
    daemons()
    job_id = submit(layout, audio, [video])
    s = wait_for(lambda: finished(layout, job_id), timeout=60, what="the job")
    assert s.state == JobState.DONE and s.items[0].state == ItemState.DONE


def test_a_huge_picture_fails_its_item_in_one_line_and_the_daemon_stays_small(root, layout, media, daemons) -> None:
    """A 10000x10000 PNG of a few hundred KB once took the daemon to 5.7 GB."""
    audio = copy_into(root, media["audio_short"])
    huge = root / "media" / "poster.png"
    huge.write_bytes(black_png(10000, 10000))
    fine = copy_into(root, media["tiny"])
    d = daemons()
    job_id = submit(layout, audio, [huge, fine])
    s = wait_for(lambda: finished(layout, job_id), timeout=90, what="the job")
    assert [it.state for it in s.items] == [ItemState.FAILED, ItemState.DONE]
    assert "10000x10000" in s.items[0].error and "LIPSPOOL_MAX_PIXELS" in s.items[0].error
    peak_kb = int(next(line for line in Path(f"/proc/{d.pid}/status").read_text().splitlines()
                       if line.startswith("VmHWM")).split()[1])
    assert peak_kb < 1_000_000, f"the daemon peaked at {peak_kb // 1024} MB"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
