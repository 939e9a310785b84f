"""Several machines on one spool over a real network file system: the root mounted through sshfs
(a local sshd) in two "hosts" with their own host names and mount namespaces, one daemon each."""
from __future__ import annotations

import os
import re
import time
from datetime import datetime

import pytest
from netfs import LoopbackSshd, NetworkHost, missing_tools
from spool_helpers import copy_into, finished, status, submit, wait_for

from engine.testing.media import make_test_audio
from spooler import protocol
from spooler.records import ItemState, JobState

pytestmark = pytest.mark.integration

ITEMS = 42
STALE_AFTER_S = 3.0


@pytest.fixture
def network(tmp_path):
    """Start hosts with `network(name, *daemon_args)`; all of them and the sshd go down at the end."""
    missing = missing_tools()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the network-file-system test; missing: {', '.join(missing)} (scripts/netfs.sh)")
        pytest.skip(f"needs {', '.join(missing)} (scripts/netfs.sh installs them)")
    sshd = LoopbackSshd(tmp_path / "sshd")
    hosts: list[NetworkHost] = []

    def start(root, name: str, *args: str) -> NetworkHost:
        host = NetworkHost(sshd, root, name, *args)
        hosts.append(host)
        return host

    yield start
    for host in hosts:
        host.close()
    sshd.stop()


def _b_is_rendering(layout, job_id: str):
    """An item of the job that host nfs-b is rendering (past its start), with its claimed ticket."""
    s = status(layout, job_id)
    for item in s.items if s else []:
        if item.state == ItemState.RUNNING and item.worker and item.worker.host == "nfs-b" and item.progress >= 0.05:
            ticket = protocol.ticket_stem(job_id, item.index)
            held = list(layout.spool_dir("working").glob(f"{ticket}@*.json"))
            if held and s.done >= 3:
                return item.index, held[0]
    return None


def test_two_hosts_render_a_42_item_batch_exactly_once_through_a_kill_9(root, layout, media, network, tmp_path) -> None:
    """Both hosts claim items of one batch through sshfs; host B is killed -9 mid-item; host A
    judges B dead by its heartbeat file's age on the file system's clock (another host name: no
    process check), takes the item back, and every item is rendered and finished exactly once."""
    audio = copy_into(root, make_test_audio(tmp_path / "speech.wav", seconds=4.0))
    videos = [copy_into(root, media["tiny"], f"p{i:02d}.mp4") for i in range(ITEMS)]
    args = ("--stale-after", str(STALE_AFTER_S), "--rescan", "0.5")
    host_a = network(root, "nfs-a", *args)
    host_b = network(root, "nfs-b", *args)
    wait_for(lambda: len(protocol.list_workers(layout, stale_after_s=STALE_AFTER_S)) == 2, timeout=60,
             what=f"both hosts' heartbeats ({host_a.output()} {host_b.output()})")
    job_id = submit(layout, audio, videos)

    index, ticket = wait_for(lambda: _b_is_rendering(layout, job_id), timeout=180, what="host B mid-item")
    host_b.kill_daemon()
    killed_at = time.time()
    assert ticket.exists(), "host B held the item when it died"

    s = wait_for(lambda: finished(layout, job_id), timeout=300, what=f"the batch ({host_a.output()[-2000:]})")
    assert s.state == JobState.DONE and s.done == ITEMS, [(it.state, it.error) for it in s.items]
    log_a, log_b = host_a.log(), host_b.log()
    took_back = re.search(rf"^(\S+ \S+) .*took back job {job_id} item {index + 1} from nfs-b-", log_a, re.M)
    assert took_back, log_a[-3000:]
    waited = datetime.strptime(took_back[1], "%Y-%m-%d %H:%M:%S,%f").timestamp() - killed_at
    # judged dead by its heartbeat file's age (mtimes in whole seconds over SFTP), not by a process check
    assert STALE_AFTER_S - 1.5 <= waited < STALE_AFTER_S + 10, waited
    for i in range(ITEMS):
        finishes = re.findall(rf"job {job_id} item {i + 1}/{ITEMS} done", log_a + log_b)
        assert len(finishes) == 1, f"item {i + 1} finished {len(finishes)} times"
    assert {it.worker.host for it in s.items} == {"nfs-a", "nfs-b"}, "both hosts rendered items of the batch"
    assert s.items[index].worker.host == "nfs-a"
    assert len({it.output for it in s.items}) == ITEMS and all(os.path.exists(it.output) for it in s.items)
    assert len(list(layout.spool_dir("finished").glob(f"{job_id}~*.json"))) == ITEMS
    assert not list(layout.spool_dir("working").iterdir()) and not list(layout.spool_dir("queue").iterdir())
    assert not list((root / "results" / job_id).glob(".*.part")), "no half-written output left"
    alive = {w.info.host: w.alive for w in protocol.list_workers(layout, stale_after_s=STALE_AFTER_S)}
    assert alive == {"nfs-a": True, "nfs-b": False}
    assert host_a.stop() == 0


def _running_on(layout, job_id: str, host: str, min_progress: float = 0.05):
    s = status(layout, job_id)
    return next((it for it in (s.items if s else []) if it.state == ItemState.RUNNING and it.worker
                 and it.worker.host == host and it.progress >= min_progress), None)


def test_cancel_reaches_both_hosts_and_sigterm_hands_an_item_back(root, layout, media, network) -> None:
    """A cancel stops the items rendering on both machines at once; a SIGTERM'd daemon puts its
    item back in the queue, exits cleanly, and the other machine renders that item once."""
    audio = copy_into(root, media["audio_long"])
    videos = [copy_into(root, media["small"], f"p{i}.mp4") for i in range(6)]
    args = ("--stale-after", "30", "--rescan", "0.5")
    host_a, host_b = network(root, "nfs-a", *args), network(root, "nfs-b", *args)
    wait_for(lambda: len(protocol.list_workers(layout, stale_after_s=30)) == 2, timeout=60, what="both hosts")

    job_id = submit(layout, audio, videos)
    wait_for(lambda: _running_on(layout, job_id, "nfs-a") and _running_on(layout, job_id, "nfs-b"),
             timeout=120, what="an item rendering on each host")
    t0 = time.monotonic()
    assert protocol.request_cancel(layout, job_id) == "requested"
    s = wait_for(lambda: finished(layout, job_id), timeout=60, what="the cancelled batch")
    took = time.monotonic() - t0
    assert s.state == JobState.CANCELLED and s.done == 0, [it.state for it in s.items]
    assert all(it.state == ItemState.CANCELLED for it in s.items)
    assert took < 5, f"cancel took {took:.1f}s over sshfs"
    assert not list((root / "results" / job_id).glob("*.mp4")) and not list((root / "results" / job_id).glob(".*"))

    second = submit(layout, audio, videos[:2])
    item = wait_for(lambda: _running_on(layout, second, "nfs-b"), timeout=120, what="host B rendering an item")
    assert host_b.stop() == 0, host_b.output()[-2000:]
    assert "goes back to the queue" in host_b.log()
    s = wait_for(lambda: finished(layout, second), timeout=120, what="the second batch on host A alone")
    assert s.state == JobState.DONE and s.done == 2
    assert s.items[item.index].worker.host == "nfs-a"
    for i in range(2):
        assert len(re.findall(rf"job {second} item {i + 1}/2 done", host_a.log() + host_b.log())) == 1
    assert host_a.stop() == 0
