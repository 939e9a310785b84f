"""Unit tests of the spool protocol: records, atomic writes, claiming, rejecting, cancelling."""
from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from spooler import atomicfile, protocol
from spooler.config import Layout, allowed_roots
from spooler.names import is_job_id
from spooler.records import (
    ItemState,
    JobState,
    JobStatus,
    WorkerInfo,
    new_job_id,
)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "root").ensure()


def _inputs(layout: Layout, n_videos: int = 2) -> tuple[str, list[str]]:
    media = layout.root / "media"
    media.mkdir(exist_ok=True)
    audio = media / "a.wav"
    audio.write_bytes(b"RIFF")
    videos = []
    for i in range(n_videos):
        v = media / f"v{i}.mp4"
        v.write_bytes(b"\0")
        videos.append(str(v))
    return str(audio), videos


def test_status_round_trips_through_json_with_enums_as_strings(layout: Layout) -> None:
    audio, videos = _inputs(layout)
    job = protocol.make_job(audio, videos, name="lecture 1", options={"backend": "none"})
    status = protocol.initial_status(job)
    status.items[1].state = ItemState.FAILED
    status.items[1].error = "cannot read video 'v1.mp4'"
    status.recount()
    protocol.write_status(layout, status)
    raw = json.loads(protocol.status_path(layout, job.id).read_text())
    assert raw["schema"] == 1 and raw["state"] == "queued" and raw["items"][1]["state"] == "failed"
    back = protocol.read_status(layout, job.id)
    assert back == status
    assert (back.done, back.failed, back.total) == (0, 1, 2)


def test_an_items_template_check_is_optional_and_round_trips(layout: Layout) -> None:
    audio, videos = _inputs(layout)
    job = protocol.make_job(audio, videos, options={"backend": "none"})
    status = protocol.initial_status(job)
    report = {"schema": 1, "video": "v0.mp4", "verdict": "usable",
              "advice": [{"code": "short_speech", "zh": "请录制 10 秒以上正对镜头讲话的视频。",
                          "en": "Record 10 s or more of the presenter speaking, facing the camera."}]}
    status.items[0].template_check = report
    protocol.write_status(layout, status)
    raw = json.loads(protocol.status_path(layout, job.id).read_text())
    assert raw["items"][0]["template_check"] == report
    assert "template_check" not in raw["items"][1]  # absent, not null, until a check is done
    assert protocol.read_status(layout, job.id) == status
    # a status file written before the field existed still loads
    for item in raw["items"]:
        item.pop("template_check", None)
    old = JobStatus.from_dict(raw)
    assert [it.template_check for it in old.items] == [None, None] and old.items[0].video == videos[0]


def test_status_of_unknown_schema_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown status schema 99"):
        JobStatus.from_dict({"schema": 99, "job_id": "x"})


def test_atomic_write_never_shows_a_partial_file(layout: Layout) -> None:
    """A reader polling while a writer rewrites a large file only ever sees complete JSON."""
    path = layout.spool_dir("status") / "big.json"
    atomicfile.atomic_write_json(path, {"n": 0, "pad": "x" * 200_000})
    stop = threading.Event()
    seen, errors = [], []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append(atomicfile.read_json(path)["n"])
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    for n in range(1, 60):
        atomicfile.atomic_write_json(path, {"n": n, "pad": "x" * 200_000})
    stop.set()
    t.join()
    assert not errors
    assert seen and seen == sorted(seen)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")], "temporary files left behind"


def test_submit_goes_through_tmp_into_new_with_a_queued_status(layout: Layout) -> None:
    audio, videos = _inputs(layout)
    job = protocol.make_job(audio, videos)
    path = protocol.submit(layout, job)
    assert path == layout.spool_dir("new") / f"{job.id}.json"
    assert list(layout.spool_dir("tmp").iterdir()) == []
    assert protocol.load_job(path) == job
    assert protocol.read_status(layout, job.id).state == JobState.QUEUED
    with pytest.raises(protocol.InvalidJob, match="already exists"):
        protocol.submit(layout, job)


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{not json", "not valid JSON"),
        ('["a"]', "must hold a JSON object"),
        ('{"audio": "a.wav", "videos": ["v.mp4"]}', 'missing field "schema"'),
        ('{"schema": 7, "audio": "a.wav", "videos": ["v.mp4"]}', "unknown schema version 7"),
        ('{"schema": 1, "videos": ["v.mp4"]}', 'missing field "audio"'),
        ('{"schema": 1, "audio": "a.wav", "videos": []}', "non-empty list"),
        ('{"schema": 1, "audio": "a.wav", "videos": ["v.mp4"], "id": "../x"}', "bad job id"),
    ],
)
def test_bad_job_files_give_a_reason(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "job.json"
    path.write_text(content)
    with pytest.raises(protocol.InvalidJob, match=reason.replace("(", r"\(").replace('"', '"')):
        protocol.load_job(path)


def test_hand_written_job_takes_its_id_from_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "monday-lecture.json"
    path.write_text('{"schema": 1, "audio": "a.wav", "videos": "v.mp4"}')
    job = protocol.load_job(path)
    assert job.id == "monday-lecture" and job.videos == ["v.mp4"]


def test_relative_inputs_resolve_against_new_and_must_lie_under_allowed_roots(layout: Layout, tmp_path: Path) -> None:
    (layout.root / "media").mkdir()
    (layout.root / "media" / "a.wav").write_bytes(b"x")
    (layout.root / "media" / "v.mp4").write_bytes(b"x")
    job = protocol.parse_job({"schema": 1, "audio": "../../media/a.wav", "videos": ["../../media/v.mp4"]}, "j")
    resolved = protocol.resolve_job_inputs(job, layout, allowed_roots(layout.root))
    assert resolved.audio == str((layout.root / "media" / "a.wav").resolve())

    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(b"x")
    job = protocol.parse_job({"schema": 1, "audio": "../../media/a.wav", "videos": [str(outside)]}, "j")
    with pytest.raises(protocol.InvalidJob, match="outside the allowed roots.*--allow-root"):
        protocol.resolve_job_inputs(job, layout, allowed_roots(layout.root))
    assert protocol.resolve_job_inputs(job, layout, allowed_roots(layout.root, [str(tmp_path)]))

    job = protocol.parse_job({"schema": 1, "audio": "../../media/a.wav", "videos": ["../../media/gone.mp4"]}, "j")
    with pytest.raises(protocol.InvalidJob, match="not found"):
        protocol.resolve_job_inputs(job, layout, allowed_roots(layout.root))


def test_symlink_out_of_the_root_is_refused(layout: Layout, tmp_path: Path) -> None:
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"x")
    (layout.root / "link.mp4").symlink_to(secret)
    with pytest.raises(protocol.InvalidJob, match="outside the allowed roots"):
        protocol.resolve_input(str(layout.root / "link.mp4"), layout.root, allowed_roots(layout.root), layout.root)


def test_allowed_roots_come_from_file_and_environment(layout: Layout, tmp_path: Path, monkeypatch) -> None:
    (layout.root / "allowed_roots.txt").write_text(f"# shared media\n{tmp_path / 'a'}\n")
    monkeypatch.setenv("LIPSPOOL_ALLOWED_ROOTS", f"{tmp_path / 'b'}{os.pathsep}{tmp_path / 'c'}")
    roots = allowed_roots(layout.root, [str(tmp_path / "d")])
    assert roots == [layout.root.resolve(), *((tmp_path / x).resolve() for x in "dbca")]


def _race_claim(args: tuple[str, str, str]) -> str | None:
    root, name, worker = args
    layout = Layout(Path(root))
    got = protocol.claim(layout.spool_dir("new") / name, layout, worker)
    return worker if got else None


def test_claim_is_won_by_exactly_one_of_many_processes(layout: Layout) -> None:
    audio, videos = _inputs(layout)
    names = []
    for _ in range(30):
        names.append(protocol.submit(layout, protocol.make_job(audio, videos)).name)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        for name in names:
            winners = [w for w in pool.map(_race_claim, [(str(layout.root), name, f"w{i}") for i in range(8)]) if w]
            assert len(winners) == 1
    assert len(protocol.active_files(layout)) == 30


def test_take_back_from_a_dead_owner_is_one_rename_only_one_wins(layout: Layout) -> None:
    audio, videos = _inputs(layout)
    path = protocol.submit(layout, protocol.make_job(audio, videos))
    active = protocol.claim(path, layout, "hostA-1-dead")
    # the owner left no heartbeat: the job is orphaned
    assert protocol.orphaned_jobs(layout, stale_after_s=30) == [active]
    first = protocol.claim(active, layout, "hostB-2-abcd")
    second = protocol.claim(active, layout, "hostC-3-abcd")
    assert first is not None and second is None
    assert protocol.owner_of(first) == "hostB-2-abcd"


def test_a_live_worker_keeps_its_jobs_and_a_stale_one_loses_them(layout: Layout) -> None:
    audio, videos = _inputs(layout)
    path = protocol.claim(protocol.submit(layout, protocol.make_job(audio, videos)), layout, "me")
    info = WorkerInfo(worker_id="me")  # this process: alive
    protocol.write_worker(layout, info)
    assert protocol.orphaned_jobs(layout, stale_after_s=30) == []
    beat = layout.spool_dir("workers") / "me.json"
    os.utime(beat, (time.time() - 60, time.time() - 60))  # its heartbeat file was last written a minute ago
    assert protocol.orphaned_jobs(layout, stale_after_s=30) == [path]


def _other_host_worker(layout: Layout, worker_id: str, written_s_ago: float, its_clock_off_s: float) -> None:
    """A heartbeat file of a worker on another host whose clock is `its_clock_off_s` off ours."""
    info = WorkerInfo(worker_id=worker_id, host="another-host.example", pid=1)
    protocol.write_worker(layout, info)
    data = info.to_dict()
    data["heartbeat"] = time.time() - written_s_ago + its_clock_off_s
    beat = layout.spool_dir("workers") / f"{worker_id}.json"
    beat.write_text(json.dumps(data))
    os.utime(beat, (time.time() - written_s_ago, time.time() - written_s_ago))


def test_heartbeats_are_judged_by_file_age_not_by_the_writers_clock(layout: Layout) -> None:
    """A worker whose host clock is an hour behind but whose file is fresh is alive; one whose clock
    is an hour ahead but whose file is a minute old is dead."""
    audio, videos = _inputs(layout)
    slow = protocol.claim(protocol.submit(layout, protocol.make_job(audio, videos)), layout, "slow-clock")
    fast = protocol.claim(protocol.submit(layout, protocol.make_job(audio, videos)), layout, "fast-clock")
    _other_host_worker(layout, "slow-clock", written_s_ago=0.5, its_clock_off_s=-3600)
    _other_host_worker(layout, "fast-clock", written_s_ago=60, its_clock_off_s=+3600)
    assert protocol.orphaned_jobs(layout, stale_after_s=30) == [fast]
    health = {w.info.worker_id: w for w in protocol.list_workers(layout, stale_after_s=30)}
    assert health["slow-clock"].alive and not health["fast-clock"].alive
    assert 55 < health["fast-clock"].age_s < 70
    assert slow.exists()


def test_the_spool_clock_is_the_file_systems_not_this_hosts(layout: Layout) -> None:
    """With this host's clock an hour fast, the spool clock still reads the file system's time, so a
    heartbeat written a second ago is a second old, not an hour in the future."""
    fast_host = protocol.SpoolClock(layout, host_clock=lambda: time.time() + 3600)
    assert abs(fast_host.now() - time.time()) < 2
    protocol.write_worker(layout, WorkerInfo(worker_id="other", host="another-host.example", pid=1))
    beat = layout.spool_dir("workers") / "other.json"
    assert -2 < fast_host.age(beat) < 2
    assert [w.alive for w in protocol.list_workers(layout, stale_after_s=5, clock=fast_host)] == [True]
    os.utime(beat, (time.time() - 10, time.time() - 10))
    assert [w.alive for w in protocol.list_workers(layout, stale_after_s=5, clock=fast_host)] == [False]
    assert not [p for p in layout.spool_dir("workers").iterdir() if p.name.startswith(".clock")], "probe removed"


def test_an_unwritable_spool_falls_back_to_this_hosts_clock(layout: Layout, tmp_path: Path) -> None:
    clock = protocol.SpoolClock(layout)
    clock._probe = tmp_path / "no-such-folder" / "probe"  # creating it fails like a read-only mount would
    assert abs(clock.now() - time.time()) < 1


def test_worker_on_this_host_with_a_dead_pid_is_dead_at_once(layout: Layout) -> None:
    proc = multiprocessing.get_context("fork").Process(target=lambda: None)
    proc.start()
    proc.join()
    info = WorkerInfo(worker_id="gone", pid=proc.pid)
    protocol.write_worker(layout, info)
    assert not protocol.worker_alive(protocol.read_worker(layout, "gone"), age_s=0.0, stale_after_s=3600)


def test_reject_moves_the_file_and_writes_the_reason(layout: Layout) -> None:
    bad = layout.spool_dir("new") / "oops.json"
    bad.write_text("{")
    active = protocol.claim(bad, layout, "w1")
    dest = protocol.reject(active, layout, "not valid JSON: Expecting property name")
    assert dest == layout.spool_dir("rejected") / "oops.json"
    assert dest.read_text() == "{"
    assert (layout.spool_dir("rejected") / "oops.json.reason.txt").read_text().startswith("not valid JSON")


def test_cancel_of_a_queued_job_finishes_it_at_once(layout: Layout) -> None:
    audio, videos = _inputs(layout)
    job = protocol.make_job(audio, videos)
    protocol.submit(layout, job)
    assert protocol.request_cancel(layout, job.id) == "cancelled"
    assert protocol.find_job_file(layout, job.id) == layout.spool_dir("done") / f"{job.id}.json"
    status = protocol.read_status(layout, job.id)
    assert status.state == JobState.CANCELLED
    assert {it.state for it in status.items} == {ItemState.CANCELLED}


def test_cancel_of_a_running_job_leaves_a_request(layout: Layout) -> None:
    audio, videos = _inputs(layout)
    job = protocol.make_job(audio, videos)
    protocol.claim(protocol.submit(layout, job), layout, "w1")
    assert protocol.request_cancel(layout, job.id) == "requested"
    assert protocol.cancel_requested(layout, job.id)
    protocol.clear_cancel(layout, job.id)
    assert not protocol.cancel_requested(layout, job.id)
    with pytest.raises(protocol.JobNotFound):
        protocol.request_cancel(layout, "no-such-job")


def test_queued_files_skip_dotfiles_and_editor_temps_oldest_first(layout: Layout) -> None:
    new = layout.spool_dir("new")
    for i, name in enumerate(["b.json", ".hidden.json", "a.json~", "c.json", "d.json.swp"]):
        (new / name).write_text("{}")
        os.utime(new / name, (1000 + i, 1000 + i))
    assert [p.name for p in protocol.queued_files(layout)] == ["b.json", "c.json"]


def test_job_ids_sort_by_time_and_are_unique() -> None:
    ids = [new_job_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(is_job_id(i) for i in ids)


def test_spool_files_follow_the_umask_not_mkstemps_0600(layout: Layout) -> None:
    path = layout.spool_dir("status") / "x.json"
    atomicfile.atomic_write_json(path, {"a": 1})
    assert path.stat().st_mode & 0o777 == atomicfile.FILE_MODE
    assert atomicfile.FILE_MODE & 0o044, "readable by the dashboard even when it runs as another user"
