"""Uploads from sessions that have not passed the password gate are dropped within seconds.

Streamlit's upload endpoint (PUT /_stcore/upload_file/<session>/<file>) takes a file for any open
session, whether or not its page drew an uploader, and keeps it in memory until the session
ends. The dashboard draws no uploader before the gate and marks each session that passes it
(`allow`); `sweep`, run every few seconds, drops the files of every other session. What Streamlit
cannot be stopped from doing is receiving one request body (up to server.maxUploadSize) before
the sweep: a reverse proxy should limit request bodies and rates for that endpoint (README).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_allowed: set[str] = set()  # session ids past the gate, in this process
_lock = threading.Lock()


def allow(session_id: str | None) -> None:
    """Let the session keep its uploads (it passed the password gate, or none is set)."""
    if session_id:
        with _lock:
            _allowed.add(session_id)


def is_allowed(session_id: str) -> bool:
    """True when the session passed the gate."""
    with _lock:
        return session_id in _allowed


def sweep(manager: Any) -> int:
    """Drop the uploaded files held for sessions not allowed; returns how many sessions lost files.

    `manager` is Streamlit's in-memory uploaded-file manager (anything without its `file_storage`
    and `remove_session_files` is left alone).
    """
    storage = getattr(manager, "file_storage", None)
    if not isinstance(storage, dict) or not callable(getattr(manager, "remove_session_files", None)):
        return 0
    swept = 0
    for session_id in list(storage.keys()):
        if not is_allowed(session_id) and storage.get(session_id):
            manager.remove_session_files(session_id)
            log.warning("dropped files uploaded by session %s before it logged in", session_id)
            swept += 1
    return swept


def current_session_id() -> str | None:
    """The id of the Streamlit session running this script, or None outside one."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


def sweep_runtime() -> int:
    """`sweep` over the running Streamlit server's uploaded files (0 when no server runs)."""
    from streamlit import runtime

    if not runtime.exists():
        return 0
    return sweep(runtime.get_instance().uploaded_file_mgr)
