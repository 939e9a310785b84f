"""The API's errors: each a stable code, an HTTP status and a message a person can act on.

Every error answer is JSON: {"schema": 1, "error": {"code": ..., "message": ..., "details": [...]}}.
Bad input is always a 4xx naming the reason; a 5xx means a fault on the server's side.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from spooler.names import one_line

from . import API_SCHEMA

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as JSON with `status` and the stable `code`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = one_line(message)[:2000]
        self.details = details or []
        self.headers = headers or {}


class BadRequest(ApiError):
    """The request is malformed (a body that does not parse, an unknown or repeated field)."""


class MissingField(ApiError):
    """A required field is missing."""

    code = "missing_field"


class TruncatedUpload(ApiError):
    """The upload ended before its last part did."""

    code = "truncated_upload"


class Unauthorized(ApiError):
    """No bearer token was given."""

    status, code = 401, "unauthorized"


class InvalidToken(ApiError):
    """The bearer token is not one of this server's (or was revoked)."""

    status, code = 401, "invalid_token"


class PathOutsideRoots(ApiError):
    """An input path lies outside the allowed roots."""

    status, code = 403, "path_outside_roots"


class CallbackNotAllowed(ApiError):
    """The callback URL's host is not one the operator allows."""

    status, code = 403, "callback_not_allowed"


class NotFound(ApiError):
    """No such endpoint."""

    status, code = 404, "not_found"


class JobNotFound(ApiError):
    """No job with that id."""

    status, code = 404, "job_not_found"


class ResultNotFound(ApiError):
    """The job has no such result (not rendered, failed, or deleted)."""

    status, code = 404, "result_not_found"


class MethodNotAllowed(ApiError):
    """The endpoint does not take this method."""

    status, code = 405, "method_not_allowed"


class UploadTooLarge(ApiError):
    """The request body is larger than the server accepts."""

    status, code = 413, "upload_too_large"


class UnsupportedContentType(ApiError):
    """The body is neither multipart/form-data nor JSON."""

    status, code = 415, "unsupported_content_type"


class RangeNotSatisfiable(ApiError):
    """The Range header asks for bytes the file does not have, or does not parse."""

    status, code = 416, "range_not_satisfiable"


class InvalidInput(ApiError):
    """An input path that cannot be used (missing, not a file, unreadable)."""

    status, code = 422, "invalid_input"


class NotMedia(ApiError):
    """An input is not usable media; `details` names each refused file and why."""

    status, code = 422, "not_media"


class InvalidOptions(ApiError):
    """Render options the engine or the chosen backend refuses."""

    status, code = 422, "invalid_options"


class InvalidParameter(ApiError):
    """A query or path parameter, or a field's value, is not valid."""

    status, code = 422, "invalid_parameter"


class TooManyAttempts(ApiError):
    """This client sent wrong tokens; it must wait (Retry-After) before trying again."""

    status, code = 429, "too_many_attempts"


class InsufficientStorage(ApiError):
    """The server's disk is full."""

    status, code = 507, "insufficient_storage"


@dataclass
class ErrorBody:
    """The JSON of an error answer."""

    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ErrorEnvelope:
    """{"schema": 1, "error": {...}}: what every error answer holds."""

    error: ErrorBody
    schema: int = API_SCHEMA


def error_response(exc: ApiError) -> JSONResponse:
    """The JSON answer of an ApiError."""
    body = ErrorBody(exc.code, exc.message, exc.details)
    return JSONResponse(asdict(ErrorEnvelope(body)), status_code=exc.status, headers=exc.headers)


_BY_STATUS: dict[int, type[ApiError]] = {404: NotFound, 405: MethodNotAllowed}


def install(app: FastAPI) -> None:
    """Answer every error of the app as JSON with a stable code."""

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        cls = _BY_STATUS.get(exc.status_code)
        if cls is not None:
            message = "no such endpoint" if cls is NotFound else f"{request.method} is not allowed here"
            error = cls(message, headers=dict(exc.headers or {}))
        else:
            error = ApiError(str(exc.detail))
            error.status, error.code = exc.status_code, f"http_{exc.status_code}"
        return error_response(error)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [{"where": ".".join(str(p) for p in err.get("loc", ())), "reason": str(err.get("msg", ""))[:300]}
                   for err in exc.errors()[:20]]
        where = ", ".join(d["where"] for d in details) or "the request"
        return error_response(InvalidParameter(f"invalid value in {where}", details))

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        error = ApiError("internal error; the server's log says more")
        error.status, error.code = 500, "internal_error"
        return error_response(error)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, internal_error)
