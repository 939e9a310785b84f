"""The states of jobs, items and workers, and the only functions that change them.

Every state is a str Enum (it compares equal to its JSON value). A job's state while it runs is
derived from its items (`derive_job_state`); an item changes state only through the transition
functions below, which also stamp its times and reason, so the daemon, the runner, the CLI and
the dashboard never set or compare raw strings. Modelled on rq's JobStatus and WorkerStatus.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import Protocol


class JobState(str, Enum):
    """Where a job is in its life; the folder its file sits in tells the coarse state too."""

    QUEUED = "queued"
    RUNNING = "running"
    INTERRUPTED = "interrupted"  # its workers stopped with items left; the next worker resumes it
    DONE = "done"
    DONE_WITH_FAILURES = "done_with_failures"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def finished(self) -> bool:
        """True for the states a job never leaves."""
        return self in FINISHED_STATES

    @property
    def folder(self) -> str:
        """The spool folder a finished job's file goes to."""
        return "failed" if self is JobState.FAILED else "rejected" if self is JobState.REJECTED else "done"


FINISHED_STATES = frozenset(
    {JobState.DONE, JobState.DONE_WITH_FAILURES, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED}
)


class ItemState(str, Enum):
    """The state of one (audio, video) pair of a job."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True for the states an item never leaves."""
        return self in (ItemState.DONE, ItemState.FAILED, ItemState.CANCELLED)


class WorkerState(str, Enum):
    """What a worker (one daemon process) is doing, as its heartbeat file says."""

    IDLE = "idle"
    BUSY = "busy"
    STOPPING = "stopping"
    STOPPED = "stopped"


class ItemLike(Protocol):
    state: ItemState
    stage: str
    progress: float
    error: str
    started: str
    finished: str


class JobLike(Protocol):
    state: JobState
    message: str
    items: list
    current_item: str
    eta_s: float | None
    started: str
    finished: str
    updated: str
    done: int
    failed: int
    total: int

    def recount(self) -> None: ...


def now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def start_item(item: ItemLike) -> None:
    """queued -> running."""
    item.state, item.stage, item.progress, item.error = ItemState.RUNNING, "starting", 0.0, ""
    item.started, item.finished = now_iso(), ""


def finish_item(item: ItemLike, state: ItemState, error: str = "") -> None:
    """running (or queued, for a cancelled one) -> done, failed or cancelled, with the reason."""
    if not state.finished:
        raise ValueError(f"{state.value} is not a final item state")
    item.state, item.error, item.finished = state, error, now_iso()
    if state is ItemState.DONE:
        item.progress, item.stage = 1.0, "done"


def requeue_item(item: ItemLike) -> None:
    """running -> queued: its worker stopped; the next worker renders it from the start."""
    item.state, item.stage, item.progress, item.error = ItemState.QUEUED, "", 0.0, ""


def derive_job_state(items: Iterable[ItemState], cancelled: bool = False, interrupted: bool = False) -> JobState:
    """A job's state from its items': running while any is unfinished, then done, done with
    failures, failed (every item failed) or cancelled; interrupted when items are left and none runs
    because their workers stopped."""
    states = list(items)
    if not states:
        return JobState.FAILED
    if not all(s.finished for s in states):
        if interrupted and not any(s is ItemState.RUNNING for s in states):
            return JobState.INTERRUPTED
        return JobState.RUNNING
    if cancelled or any(s is ItemState.CANCELLED for s in states):
        return JobState.CANCELLED
    done = sum(s is ItemState.DONE for s in states)
    if done == len(states):
        return JobState.DONE
    return JobState.FAILED if done == 0 else JobState.DONE_WITH_FAILURES


def running_job_state(items: Iterable[ItemState], interrupted: bool) -> JobState:
    """The state shown for an opened job before it ends: running or interrupted (a job whose items
    are all finished is still running until its last worker has ended it)."""
    state = derive_job_state(items, interrupted=interrupted)
    return JobState.RUNNING if state.finished else state


def open_job(job: JobLike) -> None:
    """queued (or interrupted) -> running: its items are queued for every worker."""
    job.state, job.message = JobState.RUNNING, ""
    job.started = job.started or now_iso()
    job.updated = now_iso()


def end_job(job: JobLike, cancelled: bool = False) -> JobState:
    """running -> its final state, derived from its finished items, with the message that goes with it."""
    job.recount()
    state = derive_job_state([it.state for it in job.items], cancelled=cancelled)
    job.state, job.current_item, job.eta_s = state, "", 0.0
    job.finished = job.updated = now_iso()
    if state is JobState.FAILED:
        job.message = "every item failed"
    elif state is JobState.DONE_WITH_FAILURES:
        job.message = f"{job.failed} of {job.total} items failed"
    elif state is JobState.CANCELLED:
        job.message = job.message if job.message.startswith("cancelled") else "cancelled by request"
    else:
        job.message = ""
    return state


def cancel_queued_job(job: JobLike) -> None:
    """queued -> cancelled, before any worker opened it: every unfinished item cancelled too."""
    for item in job.items:
        if not item.state.finished:
            finish_item(item, ItemState.CANCELLED, "cancelled before it started")
    job.recount()
    job.state, job.message = JobState.CANCELLED, "cancelled before it started"
    job.finished = job.updated = now_iso()


def fail_job(job: JobLike, reason: str) -> None:
    """queued/running -> failed with one reason, shared by every unfinished item."""
    for item in job.items:
        if not item.state.finished:
            finish_item(item, ItemState.FAILED, reason)
    job.recount()
    job.state, job.message, job.current_item, job.eta_s = JobState.FAILED, reason, "", 0.0
    job.finished = job.updated = now_iso()


def reject_job(job: JobLike, reason: str) -> None:
    """(a file that is not a valid job) -> rejected, with the reason."""
    job.state, job.message = JobState.REJECTED, reason
    job.finished = job.updated = now_iso()
