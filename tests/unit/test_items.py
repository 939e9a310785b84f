"""Items as the unit of work: tickets, their claims, the assembled status, the job's end, the state
machine that derives a job's state from its items, and how many workers `--workers` starts."""
from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from spooler import protocol
from spooler.config import Layout
from spooler.records import ItemState, Job, JobState, WorkerRef
from spooler.states import derive_job_state, finish_item, requeue_item, start_item
from spooler.workers import WorkersError, plan_workers


def _opened(layout: Layout, n: int = 3) -> Job:
    job = Job(id="batch", audio="/a.wav", videos=[f"/v{i}.mp4" for i in range(n)], name="n")
    protocol.submit(layout, job)
    claimed = protocol.claim(protocol.find_job_file(layout, job.id), layout, "opener")
    status = protocol.read_status(layout, job.id)
    status.state = JobState.RUNNING
    protocol.write_status(layout, status)
    protocol.open_job(layout, claimed, job, status)
    return job


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "root").ensure()


def test_opening_queues_one_ticket_per_item_in_order_and_releases_the_job(layout: Layout) -> None:
    job = _opened(layout)
    tickets = protocol.queued_tickets(layout)
    assert [protocol.ticket_of(t) for t in tickets] == [("batch", 0), ("batch", 1), ("batch", 2)]
    assert protocol.load_ticket(tickets[1]).video == "/v1.mp4"
    assert protocol.opened_jobs(layout) == [layout.spool_dir("active") / "batch.json"]
    assert protocol.orphaned_jobs(layout, 30.0) == [], "an opened job has no owner to lose"
    again = protocol.claim(layout.spool_dir("active") / "batch.json", layout, "second-opener")
    protocol.open_job(layout, again, job, protocol.read_status(layout, job.id))
    assert len(protocol.queued_tickets(layout)) == 3, "opening again after a crash doubles nothing"


def _claim_all(args) -> list[str]:
    root, worker = args
    layout = Layout(Path(root))
    won = []
    for path in protocol.queued_tickets(layout):
        if protocol.claim_ticket(path, layout, worker) is not None:
            won.append(path.name)
    return won


def test_each_ticket_is_claimed_by_exactly_one_of_many_processes(layout: Layout) -> None:
    _opened(layout, n=40)
    with mp.get_context("fork").Pool(4) as pool:
        results = pool.map(_claim_all, [(str(layout.root), f"w{i}") for i in range(8)])
    names = [n for r in results for n in r]
    assert len(names) == 40 and len(set(names)) == 40


def test_item_records_are_assembled_into_the_jobs_status_and_the_last_finisher_ends_it(layout: Layout) -> None:
    _opened(layout)
    paths = [protocol.claim_ticket(p, layout, f"w{i}") for i, p in enumerate(protocol.queued_tickets(layout))]
    status = protocol.read_status(layout, "batch")
    for i, item in enumerate(status.items):
        start_item(item)
        item.worker = WorkerRef(f"w{i}", "host", 100 + i, 0.0)
        protocol.write_item(layout, "batch", item)
    running = protocol.read_status(layout, "batch")
    assert running.state == JobState.RUNNING and running.current_item == "v0.mp4, v1.mp4, v2.mp4"
    for i, (item, path) in enumerate(zip(status.items, paths)):
        finish_item(item, ItemState.DONE if i != 1 else ItemState.FAILED, "" if i != 1 else "broken")
        protocol.write_item(layout, "batch", item)
        protocol.finish_ticket(path, layout)
        ended = protocol.conclude_job(layout, "batch")
        assert (ended is None) == (i < 2), "only the last finisher ends the job"
    assert protocol.conclude_job(layout, "batch") is None, "a second end changes nothing"
    final = protocol.read_status(layout, "batch")
    assert final.state == JobState.DONE_WITH_FAILURES and (final.done, final.failed) == (2, 1)
    assert final.message == "1 of 3 items failed" and [it.worker.pid for it in final.items] == [100, 101, 102]
    assert (layout.spool_dir("done") / "batch.json").exists()


def test_a_requeued_item_makes_the_job_interrupted_until_a_worker_takes_it(layout: Layout) -> None:
    _opened(layout, n=2)
    path = protocol.claim_ticket(protocol.queued_tickets(layout)[0], layout, "w1")
    item = protocol.read_status(layout, "batch").items[0]
    start_item(item)
    requeue_item(item)
    item.interrupted = True
    protocol.write_item(layout, "batch", item)
    protocol.requeue_ticket(path, layout)
    s = protocol.read_status(layout, "batch")
    assert s.state == JobState.INTERRUPTED and s.items[0].state == ItemState.QUEUED
    assert len(protocol.queued_tickets(layout)) == 2


@pytest.mark.parametrize(("items", "cancelled", "interrupted", "expected"), [
    ([ItemState.DONE, ItemState.DONE], False, False, JobState.DONE),
    ([ItemState.DONE, ItemState.FAILED], False, False, JobState.DONE_WITH_FAILURES),
    ([ItemState.FAILED, ItemState.FAILED], False, False, JobState.FAILED),
    ([ItemState.DONE, ItemState.CANCELLED], False, False, JobState.CANCELLED),
    ([ItemState.DONE, ItemState.DONE], True, False, JobState.CANCELLED),
    ([ItemState.DONE, ItemState.RUNNING], False, True, JobState.RUNNING),
    ([ItemState.DONE, ItemState.QUEUED], False, True, JobState.INTERRUPTED),
    ([ItemState.QUEUED, ItemState.QUEUED], False, False, JobState.RUNNING),
    ([], False, False, JobState.FAILED),
])
def test_a_jobs_state_follows_from_its_items(items, cancelled, interrupted, expected) -> None:
    assert derive_job_state(items, cancelled, interrupted) == expected


def test_an_item_cannot_be_finished_into_a_state_that_is_not_final() -> None:
    item = protocol.initial_status(Job(id="j", audio="a", videos=["v"])).items[0]
    with pytest.raises(ValueError):
        finish_item(item, ItemState.RUNNING)


GiB = 2**30


@pytest.mark.parametrize(("requested", "device", "gpus", "cores", "memory", "count", "threads", "pinned"), [
    ("1", "cpu", 0, 16, 64 * GiB, 1, "16", None),
    ("2", "cpu", 0, 2, 64 * GiB, 2, "1", None),
    ("auto", "cpu", 0, 2, 20 * GiB, 2, "1", None),
    ("auto", "cpu", 0, 16, 64 * GiB, 16, "1", None),
    ("auto", "cpu", 0, 16, 6 * GiB, 4, "4", None),  # memory for 4 renders: 4 workers of 4 threads
    ("auto", "cpu", 0, 4, GiB, 1, "4", None),
    ("auto", "cuda", 4, 16, 64 * GiB, 4, "4", ["0", "1", "2", "3"]),
])
def test_workers_are_sized_to_the_cores_and_memory_and_pinned_one_per_gpu(requested, device, gpus, cores, memory,
                                                                          count, threads, pinned) -> None:
    plans = plan_workers(requested, device, gpus, cores, memory)
    assert len(plans) == count and all(p.env["OMP_NUM_THREADS"] == threads for p in plans)
    assert [p.env.get("CUDA_VISIBLE_DEVICES") for p in plans] == (pinned or [None] * count)


@pytest.mark.parametrize("bad", ["0", "-1", "many", "1000"])
def test_bad_worker_counts_are_refused(bad: str) -> None:
    with pytest.raises(WorkersError, match="--workers"):
        plan_workers(bad, "cpu", 0, 4, 64 * GiB)


def test_job_transitions_set_state_message_and_items_together() -> None:
    from spooler.states import cancel_queued_job, end_job, fail_job, open_job, reject_job

    def fresh():
        return protocol.initial_status(Job(id="j", audio="a", videos=["v1", "v2", "v3"]))

    job = fresh()
    open_job(job)
    assert job.state == JobState.RUNNING and job.started
    finish_item(job.items[0], ItemState.DONE)
    finish_item(job.items[1], ItemState.FAILED, "broken")
    finish_item(job.items[2], ItemState.DONE)
    assert end_job(job) == JobState.DONE_WITH_FAILURES and job.message == "1 of 3 items failed" and job.finished
    job = fresh()
    finish_item(job.items[0], ItemState.DONE)
    cancel_queued_job(job)
    assert job.state == JobState.CANCELLED and [it.state for it in job.items] == [
        ItemState.DONE, ItemState.CANCELLED, ItemState.CANCELLED]
    job = fresh()
    fail_job(job, "cannot write results")
    assert job.state == JobState.FAILED and {it.error for it in job.items} == {"cannot write results"}
    job = fresh()
    reject_job(job, "not JSON")
    assert job.state == JobState.REJECTED and job.message == "not JSON"
