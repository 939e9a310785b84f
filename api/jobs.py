"""Creating jobs from the API, through the spool protocol only, the way the CLI and the dashboard do.

Two ways in: uploaded files (copied into results/<job>/inputs/ as they arrive, like the
dashboard's uploads) or paths under the allowed roots (used in place, like `submit`). Either way
the options are checked against the declarations (spooler.daemon.check_declared_options, which
the daemon repeats when it claims the job), the callback URL against the allowed hosts, every
input is probed as media (spooler.uploads, the dashboard's check), and only then is the job
queued with protocol.submit. Any refusal removes whatever was written for the job.
"""
from __future__ import annotations

import errno
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spooler import protocol
from spooler.config import Layout, allowed_roots
from spooler.daemon import check_declared_options
from spooler.names import printable
from spooler.records import JOB_SCHEMA, Job, JobStatus
from spooler.uploads import UploadRejected, check_audio, check_video

from .callbacks import CallbackRecord, CallbackStore, check_url
from .errors import (
    BadRequest,
    InsufficientStorage,
    InvalidInput,
    InvalidOptions,
    InvalidParameter,
    MissingField,
    NotMedia,
    PathOutsideRoots,
)
from .uploads import Form

MAX_JSON_BYTES = 1 << 20  # a JSON job request lists paths; it never holds media
MAX_JSON_DEPTH = protocol.MAX_JOB_DEPTH


@dataclass
class JobRequest:
    """What a client asks for, before anything is checked against the disk."""

    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    callback_url: str = ""
    audio: str = ""  # paths (JSON requests); uploads bring files instead
    videos: list[str] = field(default_factory=list)


def _text(value: Any, name: str, limit: int = protocol.MAX_TEXT_CHARS) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParameter(f'"{name}" must be text')
    if len(value) > limit or "\0" in value:
        raise InvalidParameter(f'"{name}" must be at most {limit} characters, without NUL')
    return value


def _options(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidOptions('"options" must be a JSON object of option names and values')
    return value


def parse_json_body(raw: bytes) -> JobRequest:
    """A JobRequest from a JSON body naming files by path; BadRequest, MissingField or InvalidParameter."""
    if len(raw) > MAX_JSON_BYTES:
        raise BadRequest(f"a JSON job request is at most {MAX_JSON_BYTES // 1024} KB; upload files as multipart")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(data) - {"name", "options", "callback_url", "audio", "videos"})
    if unknown:
        raise BadRequest(f"unknown field {printable(unknown[0])[:40]!r}; the fields are audio, videos, name, "
                         "options, callback_url")
    for key in ("audio", "videos"):
        if data.get(key) in (None, "", []):
            raise MissingField(f'missing field "{key}"')
    videos = data["videos"]
    if isinstance(videos, str):
        videos = [videos]
    if not isinstance(videos, list) or len(videos) > protocol.MAX_VIDEOS:
        raise InvalidParameter(f'"videos" must be a list of 1 to {protocol.MAX_VIDEOS} paths')
    return JobRequest(name=_text(data.get("name"), "name"), options=_options(data.get("options")),
                      callback_url=_text(data.get("callback_url"), "callback_url"),
                      audio=_text(data["audio"], "audio"), videos=[_text(v, "videos") or "" for v in videos])


def form_request(form: Form) -> JobRequest:
    """A JobRequest from an upload's text fields (its files are checked by `submit_upload`)."""
    text = form.fields.get("options", "").strip()
    options: Any = {}
    if text:
        try:
            options = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise InvalidOptions(f'"options" is not valid JSON: {str(exc)[:200]}') from None
    if not any(f.field == "audio" for f in form.files):
        raise MissingField('missing field "audio" (one audio file)')
    if not any(f.field == "videos" for f in form.files):
        raise MissingField('missing field "videos" (one or more presenter videos)')
    if sum(f.field == "audio" for f in form.files) > 1:
        raise BadRequest('field "audio" is given more than once; a job has one audio')
    return JobRequest(name=_text(form.fields.get("name"), "name"), options=_options(options),
                      callback_url=_text(form.fields.get("callback_url"), "callback_url"))


class JobMaker:
    """Checks and submits jobs for one root."""

    def __init__(self, layout: Layout, callbacks: CallbackStore, callback_hosts: Any) -> None:
        self.layout = layout
        self.callbacks = callbacks
        self.callback_hosts = callback_hosts  # a callable giving the allowed hosts now

    def check_request(self, request: JobRequest) -> dict[str, Any]:
        """The options checked (InvalidOptions) and the callback URL allowed; returns the options to queue."""
        if request.callback_url:
            check_url(request.callback_url, self.callback_hosts())
        try:  # the job file's own rules (sizes, nesting), as the daemon will read it
            protocol.parse_job({"schema": JOB_SCHEMA, "audio": "-", "videos": ["-"], "name": request.name,
                                "options": request.options}, "check")
        except protocol.InvalidJob as exc:
            raise InvalidParameter(str(exc)) from None
        try:
            return check_declared_options(request.options, self.layout, self.allowed())
        except protocol.InvalidJob as exc:
            raise InvalidOptions(str(exc)) from None

    def allowed(self) -> list[Path]:
        """The allowed roots, read now (the file under the root may have changed)."""
        return allowed_roots(self.layout.root)

    def resolve(self, text: str, field_name: str) -> Path:
        """A path given by a client, made absolute (relative to the root) and checked."""
        allowed = self.allowed()
        try:
            path = Path(text).expanduser()
            path = (path if path.is_absolute() else self.layout.root / path).resolve()
        except (ValueError, OSError, RuntimeError) as exc:
            raise InvalidInput(f'unusable path in "{field_name}": {exc}') from None
        if not any(path.is_relative_to(r) for r in allowed):
            raise PathOutsideRoots(f'"{field_name}": {printable(text)[:300]} lies outside the allowed roots; the '
                                   "operator allows more with LIPSPOOL_ALLOWED_ROOTS or <root>/allowed_roots.txt")
        try:
            return protocol.resolve_input(str(path), self.layout.root, allowed, self.layout.root)
        except protocol.InvalidJob as exc:
            raise InvalidInput(f'"{field_name}": {exc}') from None

    def submit_paths(self, request: JobRequest) -> JobStatus:
        """Queue a job whose inputs are files on the server (used in place)."""
        options = self.check_request(request)
        audio = self.resolve(request.audio, "audio")
        videos = [self.resolve(v, "videos") for v in request.videos]
        check_media([("audio", request.audio, audio)] + [("videos", v, p) for v, p in zip(request.videos, videos)])
        job = protocol.make_job(str(audio), [str(v) for v in videos], name=request.name.strip(), options=options)
        return self._queue(job, request.callback_url)

    def submit_upload(self, job: Job, form: Form) -> JobStatus:
        """Queue a job from an upload already written into results/<job>/inputs/."""
        request = form_request(form)
        options = self.check_request(request)
        check_media([(f.field, f.filename, f.path) for f in form.files])
        job.name, job.options = request.name.strip(), options
        job.audio = str(next(f.path for f in form.files if f.field == "audio"))
        job.videos = [str(f.path) for f in form.files if f.field == "videos"]
        return self._queue(job, request.callback_url)

    def discard(self, job_id: str) -> None:
        """Remove what an upload wrote for a job that was not queued."""
        folder = self.layout.results / job_id
        if folder.resolve().parent == self.layout.results.resolve():
            shutil.rmtree(folder, ignore_errors=True)

    def _queue(self, job: Job, callback_url: str) -> JobStatus:
        if callback_url:
            self.callbacks.add(CallbackRecord(job_id=job.id, url=callback_url))
        try:
            protocol.submit(self.layout, job)
        except BaseException as exc:
            self.callbacks.remove(job.id)
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise InsufficientStorage("the server's disk is full") from None
            if isinstance(exc, protocol.InvalidJob):
                raise InvalidParameter(str(exc)) from None
            raise
        return protocol.job_status(self.layout, job.id)


def check_media(inputs: list[tuple[str, str, Path]]) -> None:
    """Probe each (field, name the client gave, path) as the dashboard does; NotMedia naming every refused one."""
    problems = []
    for field_name, shown, path in inputs:
        try:
            (check_audio if field_name == "audio" else check_video)(path)
        except UploadRejected as exc:
            problems.append({"field": field_name, "file": printable(shown)[:300], "reason": str(exc)[:500]})
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise NotMedia(f"{first['field']} {first['file']!r} is not usable media: {first['reason']}{more}",
                       details=problems)


__all__ = ["JobMaker", "JobRequest", "check_media", "form_request", "parse_json_body"]
