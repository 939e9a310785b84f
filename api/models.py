"""The JSON objects the API answers with (besides the job status record of spooler.records), as
dataclasses with a schema version; FastAPI describes them in the OpenAPI document."""
from __future__ import annotations

from dataclasses import dataclass, field

from spooler.records import JobStatus, WorkerInfo

from . import API_SCHEMA


@dataclass
class Health:
    """GET /v1/health: the service answers and the spool is there."""

    status: str = "ok"
    spool: bool = True
    schema: int = API_SCHEMA


@dataclass
class JobPage:
    """GET /v1/jobs: one page of job status records, newest first."""

    jobs: list[JobStatus]
    total: int  # jobs matching the filter, on every page
    offset: int
    limit: int
    next_offset: int | None = None  # the next page's offset; null on the last page
    schema: int = API_SCHEMA


@dataclass
class CancelResult:
    """POST /v1/jobs/{id}/cancel: what happened, and the job's status now."""

    job_id: str
    outcome: str  # "cancelled" (it was queued), "requested" (its workers stop within a frame), or its final state
    status: JobStatus
    schema: int = API_SCHEMA


@dataclass
class ResultInfo:
    """One rendered result of a job: where to download it (with range requests) and its thumbnail."""

    index: int  # the item's index in the job (0-based, as in the status record)
    name: str  # the presenter video's name
    file: str  # the result's file name
    size: int
    content_type: str
    url: str
    thumbnail_url: str | None = None


@dataclass
class ResultList:
    """GET /v1/jobs/{id}/results: the results rendered so far, and the ZIP of all of them."""

    job_id: str
    state: str
    results: list[ResultInfo] = field(default_factory=list)
    zip_url: str = ""
    schema: int = API_SCHEMA


@dataclass
class WorkerView(WorkerInfo):
    """A worker's heartbeat record, whether it is alive, and its heartbeat's age in seconds."""

    alive: bool = False
    age_s: float = 0.0


@dataclass
class WorkerList:
    """GET /v1/workers: every worker that left a heartbeat."""

    workers: list[WorkerView]
    alive: int
    schema: int = API_SCHEMA
