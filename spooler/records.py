"""The records that travel as JSON through the spool: jobs, job status, worker heartbeats.

Every record carries a `schema` version. Readers refuse a schema they do not know instead of
guessing; writers always write the current one.
"""
from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from enum import Enum
from typing import Any

JOB_SCHEMA = 1
STATUS_SCHEMA = 1
WORKER_SCHEMA = 1


class JobState(str, Enum):
    """Where a job is in its life; the folder it sits in tells the coarse state too."""

    QUEUED = "queued"
    RUNNING = "running"
    INTERRUPTED = "interrupted"  # its daemon stopped; another start resumes it
    DONE = "done"
    DONE_WITH_FAILURES = "done_with_failures"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def finished(self) -> bool:
        """True for the states a job never leaves."""
        return self in FINISHED_STATES


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


def now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_job_id() -> str:
    """A sortable, unique job id: UTC time plus random hex."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _pick(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The keys of `data` that are fields of dataclass `cls` (newer writers may add fields)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class Job:
    """A job file: one audio spoken by each of several presenter videos."""

    id: str
    audio: str
    videos: list[str]
    name: str = ""
    created: str = field(default_factory=now_iso)
    options: dict[str, Any] = field(default_factory=dict)
    submitted_at: float = field(default_factory=time.time)  # epoch seconds, for latency figures
    schema: int = JOB_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)


@dataclass
class ItemStatus:
    """Progress and outcome of one item (one presenter video) of a job."""

    index: int
    video: str
    name: str
    state: ItemState = ItemState.QUEUED
    stage: str = ""
    progress: float = 0.0
    error: str = ""
    output: str = ""
    thumbnail: str = ""
    started: str = ""
    finished: str = ""
    render_s: float = 0.0
    duration_s: float = 0.0
    # the engine's template check of the video (engine.template_check.TemplateReport.to_dict()), set
    # before rendering; None (absent from the JSON) until then, when the check failed, or in files
    # written before it existed
    template_check: dict[str, Any] | None = None


@dataclass
class WorkerRef:
    """Which daemon owns a job, and when it last said so."""

    worker_id: str = ""
    host: str = ""
    pid: int = 0
    heartbeat: float = 0.0  # epoch seconds


@dataclass
class JobStatus:
    """The status file of a job, rewritten atomically by its owner as the job runs."""

    job_id: str
    name: str = ""
    audio: str = ""
    state: JobState = JobState.QUEUED
    items: list[ItemStatus] = field(default_factory=list)
    current_item: str = ""
    done: int = 0
    failed: int = 0
    total: int = 0
    progress: float = 0.0
    eta_s: float | None = None
    message: str = ""
    created: str = ""
    started: str = ""
    finished: str = ""
    updated: str = ""
    claimed_at: float = 0.0  # epoch seconds of the (last) claim
    overhead_s: float = 0.0  # daemon time spent on the job outside engine.render
    backend: str = ""
    worker: WorkerRef = field(default_factory=WorkerRef)
    schema: int = STATUS_SCHEMA

    def recount(self) -> None:
        """Derive done/failed/total/progress from the items."""
        self.total = len(self.items)
        self.done = sum(1 for it in self.items if it.state == ItemState.DONE)
        self.failed = sum(1 for it in self.items if it.state == ItemState.FAILED)
        if self.total:
            finished = sum(1 for it in self.items if it.state in (ItemState.DONE, ItemState.FAILED, ItemState.CANCELLED))
            running = sum(it.progress for it in self.items if it.state == ItemState.RUNNING)
            self.progress = min(1.0, (finished + running) / self.total)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (enums as their string values)."""
        data = asdict(self)
        data["state"] = self.state.value
        for item in data["items"]:
            item["state"] = ItemState(item["state"]).value
            if item.get("template_check") is None:
                item.pop("template_check", None)  # optional: absent rather than null
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobStatus":
        """Parse a status file's JSON; unknown keys are ignored."""
        if data.get("schema") != STATUS_SCHEMA:
            raise ValueError(f"unknown status schema {data.get('schema')!r} (this LipSpool reads {STATUS_SCHEMA})")
        kw = _pick(cls, data)
        kw["state"] = JobState(kw.get("state", "queued"))
        kw["items"] = [
            ItemStatus(**{**_pick(ItemStatus, it), "state": ItemState(it.get("state", "queued"))})
            for it in data.get("items", [])
        ]
        kw["worker"] = WorkerRef(**_pick(WorkerRef, data.get("worker") or {}))
        return cls(**kw)


@dataclass
class WorkerInfo:
    """A daemon's heartbeat file in spool/workers/, rewritten every second while it lives."""

    worker_id: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    device: str = "cpu"
    started: str = field(default_factory=now_iso)
    heartbeat: float = field(default_factory=time.time)
    state: str = "idle"  # idle, busy, stopping, stopped
    current_job: str = ""
    version: str = ""
    backends: list[str] = field(default_factory=list)  # the lip-sync backends usable on its machine
    checkpoints: list[str] = field(default_factory=list)  # model files in <root>/models it can load
    schema: int = WORKER_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WorkerInfo":
        """Parse a worker file's JSON."""
        if data.get("schema") != WORKER_SCHEMA:
            raise ValueError(f"unknown worker schema {data.get('schema')!r}")
        return cls(**_pick(cls, data))
