"""The ASGI application: FastAPI routes over the spool protocol, the results folder and the tokens.

`create_app(settings)` builds it; `python -m api serve` runs it under uvicorn. Every route but
GET /v1/health needs a bearer token. Blocking work (reading status files, probing media,
renaming) runs in worker threads; uploads are streamed to disk as they arrive (api.uploads).
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import ClientDisconnect

from spooler import protocol
from spooler.archive import stream_zip
from spooler.records import JobStatus
from spooler.states import ItemState, JobState

from . import API_PREFIX, errors
from .auth import Authenticator
from .body import DRAIN_MAX, Body
from .callbacks import CallbackStore, Notifier
from .errors import (
    ApiError,
    BadRequest,
    ErrorEnvelope,
    InsufficientStorage,
    JobNotFound,
    ResultNotFound,
    TruncatedUpload,
    UnsupportedContentType,
    UploadTooLarge,
)
from .jobs import MAX_JSON_BYTES, JobMaker, parse_json_body
from .models import CancelResult, Health, JobPage, ResultInfo, ResultList, WorkerList, WorkerView
from .ranges import content_type, file_response
from .settings import ApiSettings
from .tokens import TokenRecord, TokenStore
from .uploads import boundary_of, receive_form

log = logging.getLogger(__name__)

JOB_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["audio", "videos"],
            "properties": {
                "audio": {"type": "string", "format": "binary", "description": "the speech (one file)"},
                "videos": {"type": "array", "items": {"type": "string", "format": "binary"},
                           "description": "the presenter videos (one or more parts named videos)"},
                "name": {"type": "string", "description": "the job's name"},
                "options": {"type": "string", "description": 'render options as a JSON object, e.g. {"backend": '
                                                             '"rewrite"}'},
                "callback_url": {"type": "string", "format": "uri",
                                 "description": "POSTed the final status when the job ends (allowed hosts only)"},
            }}},
        "application/json": {"schema": {
            "type": "object", "required": ["audio", "videos"],
            "properties": {
                "audio": {"type": "string", "description": "a path under the allowed roots (relative: to the root)"},
                "videos": {"type": "array", "items": {"type": "string"}, "description": "paths, as for audio"},
                "name": {"type": "string"},
                "options": {"type": "object", "additionalProperties": True},
                "callback_url": {"type": "string", "format": "uri"},
            }}},
    },
}
BEARER = HTTPBearer(auto_error=False, description="a token from: python -m api token create --name NAME")
MAX_PAGE = 500  # jobs on one page of GET /v1/jobs, at most
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": text}
    for code, text in ((401, "no token, or a wrong one"), (404, "no such job or result"),
                       (422, "a value that cannot be used"), (429, "too many wrong tokens: wait (Retry-After)"))
}


def _job_id(job_id: str) -> str:
    """A job id from a path, checked before it touches any path (404 when it cannot be one)."""
    try:
        return protocol.valid_id(job_id)
    except protocol.JobNotFound:
        raise JobNotFound(f"no job {job_id[:140]!r}") from None


def _status(layout: Any, job_id: str) -> JobStatus:
    try:
        return protocol.job_status(layout, _job_id(job_id))
    except protocol.JobNotFound:
        raise JobNotFound(f"no job {job_id}") from None


def create_app(settings: ApiSettings, callbacks: bool = True) -> FastAPI:
    """The application for one root; `callbacks=False` leaves the callback sender off (tests)."""
    layout = settings.layout
    auth = Authenticator(TokenStore(settings.folder))
    callback_store = CallbackStore(settings.folder)
    maker = JobMaker(layout, callback_store, settings.allowed_callback_hosts)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = None
        if callbacks:
            notifier = Notifier(layout, callback_store, attempts=settings.callback_attempts,
                                backoff_s=settings.callback_backoff_s, timeout_s=settings.callback_timeout_s,
                                poll_s=settings.callback_poll_s)
            task = asyncio.create_task(notifier.run(), name="callbacks")
        log.info("API serving root %s", layout.root)
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="LipSpool API", version="1", lifespan=lifespan, openapi_url=None, docs_url=None,
                  redoc_url=None, description="Batch lip-sync jobs over HTTP: one speech audio and N presenter "
                  "videos in, N lip-synced videos out. Every endpoint but /v1/health needs a bearer token.")
    errors.install(app)

    def authorized(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
                   ) -> TokenRecord:
        client = request.client.host if request.client else "local"
        return auth.check(request.headers.get("authorization"), f"ip:{client}")

    @app.get(f"{API_PREFIX}/health", response_model=Health, tags=["service"],
             responses={503: {"model": Health, "description": "the spool folder is missing"}})
    def health() -> JSONResponse:
        """The service answers and its spool is there (no token needed); 503 when the spool is missing."""
        spool = layout.spool_dir("new").is_dir()
        return JSONResponse(asdict(Health("ok" if spool else "no spool", spool)), status_code=200 if spool else 503)

    v1 = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authorized)], responses=ERRORS)

    @v1.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        """This API's OpenAPI description."""
        return JSONResponse(app.openapi())

    @v1.post("/jobs", status_code=201, response_model=JobStatus, tags=["jobs"],
             openapi_extra={"requestBody": JOB_BODY},
             responses={400: {"model": ErrorEnvelope, "description": "a malformed or truncated body"},
                        403: {"model": ErrorEnvelope, "description": "a path outside the roots, a callback host "
                                                                     "not allowed"},
                        413: {"model": ErrorEnvelope, "description": "the upload is too large"},
                        415: {"model": ErrorEnvelope, "description": "neither multipart nor JSON"}})
    async def create_job(request: Request) -> Response:
        """Queue a job: upload one audio and N videos (multipart/form-data, streamed to disk), or name files
        under the allowed roots (JSON). Answers the new job's status record."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            status = await _upload(request)
        elif kind == "application/json" or kind.endswith("+json"):
            body = Body(request.receive)
            raw = await body.read(MAX_JSON_BYTES)
            if raw is None:
                await body.drain()
                raise UploadTooLarge(f"a JSON job request is at most {MAX_JSON_BYTES // 1024} KB")
            status = await run_in_threadpool(maker.submit_paths, parse_json_body(raw))
        else:
            raise UnsupportedContentType("send multipart/form-data (files) or application/json (paths)")
        log.info("job %s queued through the API (%d videos)", status.job_id, status.total)
        where = {"Location": f"{API_PREFIX}/jobs/{status.job_id}"}
        return JSONResponse(status.to_dict(), status_code=201, headers=where)

    async def _upload(request: Request) -> JobStatus:
        content_type_header = request.headers.get("content-type", "")
        boundary_of(content_type_header)  # a body without a boundary is refused before it is read
        body = Body(request.receive)
        declared = _content_length(request)
        if declared is not None and declared > settings.max_upload_bytes:
            if declared <= DRAIN_MAX:
                await body.drain()
            raise UploadTooLarge(f"the upload ({declared} bytes) is larger than this server accepts "
                                 f"({settings.max_upload_bytes} bytes)")
        job = protocol.make_job("", [])
        try:
            form = await receive_form(body.chunks(), content_type_header, layout.results / job.id / "inputs",
                                      settings.max_upload_bytes)
            return await run_in_threadpool(maker.submit_upload, job, form)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):  # removed even when the server is stopping
                await run_in_threadpool(maker.discard, job.id)
            if isinstance(exc, ClientDisconnect):
                log.info("upload for job %s broke off (client gone); removed", job.id)
                raise TruncatedUpload("the client went away before the upload ended") from None
            refusal = exc
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                refusal = InsufficientStorage("the server's disk is full")
            if isinstance(refusal, ApiError) and not body.done:
                await body.drain()  # so that a client still sending reads the answer
            if refusal is exc:
                raise
            raise refusal from None

    @v1.get("/jobs", response_model=JobPage, tags=["jobs"])
    def list_jobs(state: Annotated[list[JobState] | None, Query(description="only jobs in these states (repeatable)")
                                   ] = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="jobs per page")] = 50,
                  offset: Annotated[int, Query(ge=0, le=10**9, description="jobs skipped")] = 0) -> JSONResponse:
        """Jobs, newest first, a page at a time, optionally only those in some states."""
        jobs = protocol.all_jobs(layout)
        if state:
            jobs = [j for j in jobs if j.state in state]
        page = jobs[offset:offset + limit]
        following = offset + limit if offset + limit < len(jobs) else None
        body = asdict(JobPage([], len(jobs), offset, limit, following))
        body["jobs"] = [j.to_dict() for j in page]  # the records as the CLI prints them
        return JSONResponse(body)

    @v1.get("/jobs/{job_id}", response_model=JobStatus, tags=["jobs"])
    def job_status(job_id: str) -> JSONResponse:
        """One job's status record: the same JSON as `python -m spooler status JOB --json`."""
        return JSONResponse(_status(layout, job_id).to_dict())

    @v1.post("/jobs/{job_id}/cancel", response_model=CancelResult, tags=["jobs"])
    def cancel_job(job_id: str) -> JSONResponse:
        """Cancel a job: a queued one at once, a running one within a frame; a finished one is left as it is."""
        try:
            outcome = protocol.request_cancel(layout, _job_id(job_id))
        except protocol.JobNotFound:
            raise JobNotFound(f"no job {job_id}") from None
        log.info("cancel of job %s through the API: %s", job_id, outcome)
        body = asdict(CancelResult(job_id, outcome, JobStatus(job_id)))
        body["status"] = _status(layout, job_id).to_dict()
        return JSONResponse(body)

    def _result_files(status: JobStatus, indexes: list[int] | None = None) -> list[tuple[int, Path]]:
        folder = (layout.results / status.job_id).resolve()
        found = []
        for item in status.items:
            if item.state != ItemState.DONE or not item.output or (indexes and item.index not in indexes):
                continue
            path = Path(item.output)
            if path.resolve().parent == folder and path.is_file():
                found.append((item.index, path))
        return found

    @v1.get("/jobs/{job_id}/results", response_model=ResultList, tags=["results"])
    def list_results(job_id: str) -> JSONResponse:
        """The results rendered so far, each with its download URL (range requests work) and thumbnail."""
        status = _status(layout, job_id)
        base = f"{API_PREFIX}/jobs/{status.job_id}/results"
        infos = []
        for index, path in _result_files(status):
            item = status.items[index]
            thumb = f"{base}/{index}/thumbnail" if item.thumbnail and os.path.isfile(item.thumbnail) else None
            infos.append(ResultInfo(index, item.name, path.name, path.stat().st_size, content_type(path.name),
                                    f"{base}/{index}", thumb))
        listing = ResultList(status.job_id, status.state.value, infos, f"{base}.zip")
        return JSONResponse(asdict(listing))

    def _open_result(job_id: str, index: int, thumbnail: bool) -> tuple[int, str]:
        status = _status(layout, job_id)
        if not 0 <= index < len(status.items):
            raise ResultNotFound(f"job {job_id} has no item {index} (it has {len(status.items)}, from 0)")
        item = status.items[index]
        text = item.thumbnail if thumbnail else item.output
        if item.state != ItemState.DONE or not text:
            raise ResultNotFound(f"item {index} of job {job_id} has no result ({item.state.value})")
        path = Path(text)
        if path.resolve().parent != (layout.results / status.job_id).resolve():
            raise ResultNotFound(f"item {index} of job {job_id} has no result in its results folder")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            raise ResultNotFound(f"the result of item {index} of job {job_id} is gone") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ResultNotFound(f"the result of item {index} of job {job_id} is not a file")
        return fd, path.name

    @v1.api_route("/jobs/{job_id}/results/{index}", methods=["GET", "HEAD"], tags=["results"],
                  response_class=Response, responses={
                      200: {"content": {"video/mp4": {}}, "description": "the whole file"},
                      206: {"content": {"video/mp4": {}}, "description": "the range asked for"},
                      416: {"model": ErrorEnvelope, "description": "a range the file cannot serve"}})
    async def get_result(request: Request, job_id: str, index: int) -> Response:
        """One result (MP4), with range requests (206 and Content-Range; 416 for a bad range)."""
        fd, name = await run_in_threadpool(_open_result, job_id, index, False)
        return file_response(fd, name, request.headers.get("range"), request.headers.get("if-range"),
                             head=request.method == "HEAD")

    @v1.get("/jobs/{job_id}/results/{index}/thumbnail", tags=["results"], response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "the result's thumbnail"}})
    async def get_thumbnail(request: Request, job_id: str, index: int) -> Response:
        """A result's thumbnail (JPEG)."""
        fd, name = await run_in_threadpool(_open_result, job_id, index, True)
        return file_response(fd, name, request.headers.get("range"), request.headers.get("if-range"))

    @v1.get("/jobs/{job_id}/results.zip", tags=["results"], response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "a ZIP, streamed as it is written"}})
    def get_zip(job_id: str, index: Annotated[list[int] | None, Query(description="only these items (repeatable)")
                                              ] = None) -> StreamingResponse:
        """The job's results (or the items chosen) as one ZIP, streamed while it is written."""
        status = _status(layout, job_id)
        files = _result_files(status, index)
        if not files:
            raise ResultNotFound(f"job {status.job_id} has no results yet ({status.state.value})")
        disposition = f'attachment; filename="{status.job_id}.zip"'
        return StreamingResponse(stream_zip([(path, path.name) for _, path in files]), media_type="application/zip",
                                 headers={"Content-Disposition": disposition})

    @v1.get("/workers", response_model=WorkerList, tags=["service"])
    def workers() -> JSONResponse:
        """Every worker that left a heartbeat, whether it is alive, and what it is doing."""
        found = protocol.list_workers(layout, stale_after_s=settings.stale_after_s)
        views = [WorkerView(**{**w.info.__dict__, "alive": w.alive, "age_s": round(max(0.0, w.age_s), 3)})
                 for w in found]
        return JSONResponse(asdict(WorkerList(views, sum(1 for w in found if w.alive))))  # states are str enums

    app.include_router(v1)
    return app


def _content_length(request: Request) -> int | None:
    """The declared body length, or None (chunked); BadRequest when it does not parse."""
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise BadRequest("Content-Length is not a number")
    return int(value)
