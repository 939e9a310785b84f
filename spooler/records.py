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
from datetime import UTC, datetime
from typing import Any

from .states import ItemState, JobState, WorkerState, now_iso

JOB_SCHEMA = 1
STATUS_SCHEMA = 1
WORKER_SCHEMA = 1
TICKET_SCHEMA = 1


def new_job_id() -> str:
    """A sortable, unique job id: UTC time plus random hex."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


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
class ItemTicket:
    """One item of an opened job, waiting for any worker: everything needed to render it, with the
    paths resolved and checked when the job was opened. Written once, then only renamed."""

    job_id: str
    index: int
    total: int
    audio: str
    video: str
    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    schema: int = TICKET_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemTicket:
        """Parse a ticket's JSON."""
        if data.get("schema") != TICKET_SCHEMA:
            raise ValueError(f"unknown ticket schema {data.get('schema')!r}")
        return cls(**_pick(cls, data))


@dataclass
class WorkerRef:
    """Which daemon owns a job, and when it last said so."""

    worker_id: str = ""
    host: str = ""
    pid: int = 0
    heartbeat: float = 0.0  # epoch seconds


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
    worker: WorkerRef | None = None  # the worker that rendered (or renders) it
    interrupted: bool = False  # its worker stopped mid-render; it waits for the next one
    eta_s: float | None = None  # seconds its worker expects it to take still
    overhead_s: float = 0.0  # its worker's time on it outside engine.render (claim, records, renames)


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
            finished = sum(1 for it in self.items
                           if it.state in (ItemState.DONE, ItemState.FAILED, ItemState.CANCELLED))
            running = sum(it.progress for it in self.items if it.state == ItemState.RUNNING)
            self.progress = min(1.0, (finished + running) / self.total)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (enums as their string values)."""
        data = asdict(self)
        data["state"] = self.state.value
        for item in data["items"]:
            item["state"] = ItemState(item["state"]).value
            for optional in ("template_check", "worker", "eta_s"):
                if item.get(optional) is None:
                    item.pop(optional, None)  # optional: absent rather than null
            if not item.get("interrupted"):
                item.pop("interrupted", None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobStatus:
        """Parse a status file's JSON; unknown keys are ignored."""
        if data.get("schema") != STATUS_SCHEMA:
            raise ValueError(f"unknown status schema {data.get('schema')!r} (this LipSpool reads {STATUS_SCHEMA})")
        kw = _pick(cls, data)
        kw["state"] = JobState(kw.get("state", "queued"))
        kw["items"] = [item_from_dict(it) for it in data.get("items", [])]
        kw["worker"] = WorkerRef(**_pick(WorkerRef, data.get("worker") or {}))
        return cls(**kw)


def item_from_dict(data: dict[str, Any]) -> ItemStatus:
    """An ItemStatus from its JSON (unknown keys ignored)."""
    kw = {**_pick(ItemStatus, data), "state": ItemState(data.get("state", "queued"))}
    if isinstance(data.get("worker"), dict):
        kw["worker"] = WorkerRef(**_pick(WorkerRef, data["worker"]))
    return ItemStatus(**kw)


def item_to_dict(item: ItemStatus) -> dict[str, Any]:
    """The JSON form of one item (as inside a job's status)."""
    return JobStatus(job_id="x", items=[item]).to_dict()["items"][0]


@dataclass
class WorkerInfo:
    """A daemon's heartbeat file in spool/workers/, rewritten every second while it lives."""

    worker_id: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    device: str = "cpu"
    started: str = field(default_factory=now_iso)
    heartbeat: float = field(default_factory=time.time)
    state: WorkerState = WorkerState.IDLE
    current_job: str = ""
    item_number: int = 0  # 1-based item of current_job being rendered; 0 when none
    version: str = ""
    backends: list[str] = field(default_factory=list)  # the lip-sync backends usable on its machine
    checkpoints: list[str] = field(default_factory=list)  # model files in <root>/models it can load
    schema: int = WORKER_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerInfo:
        """Parse a worker file's JSON."""
        if data.get("schema") != WORKER_SCHEMA:
            raise ValueError(f"unknown worker schema {data.get('schema')!r}")
        kw = _pick(cls, data)
        kw["state"] = WorkerState(kw.get("state", "idle"))
        return cls(**kw)
