"""Job-end callbacks: the final status POSTed to a URL the job named, on hosts the operator allows.

A job created with `callback_url` gets a record in <root>/api-data/callbacks/<job>.json (written before
the job is queued, so no job ends unnoticed, and kept across restarts of the API). A background
task of the API process reads the job's status every second, like any client of the spool; once
the job has ended it POSTs the status record (the JSON `GET /v1/jobs/{id}` answers) with up to
`attempts` tries, waiting `backoff_s`, then twice as long after each failure. Any 2xx answer
delivers it; redirects are not followed. Delivered and abandoned records move to callbacks/done/
and callbacks/failed/ with what happened. Hosts are allowed by LIPSPOOL_API_CALLBACK_HOSTS
(comma-separated host or host:port) or <root>/api-data/callback_hosts.txt (one a line); with neither,
no callback is accepted. One API process per root sends them.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from spooler import protocol
from spooler.atomicfile import atomic_write_json, read_json
from spooler.config import Layout
from spooler.names import is_job_id, one_line, printable
from spooler.states import now_iso

from . import API_SCHEMA
from .errors import CallbackNotAllowed, InvalidParameter

log = logging.getLogger(__name__)

MAX_URL = 2000
USER_AGENT = "LipSpool-API callback"


@dataclass
class CallbackRecord:
    """A job's callback: where to send its final status, and how the sending went."""

    job_id: str
    url: str
    created: str = field(default_factory=now_iso)
    attempts: int = 0
    next_at: float = 0.0  # epoch seconds before which no new try is made
    last_error: str = ""
    delivered: str = ""  # when a 2xx answer came
    schema: int = API_SCHEMA

    @classmethod
    def from_dict(cls, data: Any) -> CallbackRecord:
        """Parse a record's JSON; ValueError when it is not one."""
        if not isinstance(data, dict) or data.get("schema") != API_SCHEMA:
            raise ValueError("not a callback record of this schema")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def check_url(url: str, allowed: set[str]) -> str:
    """`url` if it is an http(s) URL to an allowed host; InvalidParameter or CallbackNotAllowed otherwise."""
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise InvalidParameter(f"callback_url must be an http or https URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        raise InvalidParameter("callback_url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host or any(ch.isspace() for ch in url.strip()):
        raise InvalidParameter("callback_url must be an http or https URL with a host")
    hostport = f"{host}:{port}" if port else host
    if host not in allowed and hostport not in allowed:
        shown = printable(hostport)[:100]
        raise CallbackNotAllowed(f"callbacks to {shown} are not allowed; the operator allows hosts with "
                                 "LIPSPOOL_API_CALLBACK_HOSTS or a line in <root>/api-data/callback_hosts.txt")
    return url.strip()


class CallbackStore:
    """The records under <root>/api-data/callbacks/ (pending), done/ and failed/."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "callbacks"

    def path(self, job_id: str, where: str = "") -> Path:
        """The record's file (pending, or in `where`: 'done' or 'failed')."""
        return (self.folder / where if where else self.folder) / f"{protocol.valid_id(job_id)}.json"

    def add(self, record: CallbackRecord) -> None:
        """Write a pending record."""
        atomic_write_json(self.path(record.job_id), asdict(record))

    def remove(self, job_id: str) -> None:
        """Forget a pending record (its job was never queued)."""
        self.path(job_id).unlink(missing_ok=True)

    def pending(self) -> list[CallbackRecord]:
        """Every readable pending record (an unreadable one is moved to failed/)."""
        out = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            if path.name.startswith(".") or not is_job_id(path.stem):
                continue
            try:
                out.append(CallbackRecord.from_dict(read_json(path)))
            except FileNotFoundError:
                continue
            except (OSError, ValueError, TypeError) as exc:
                log.error("unreadable callback record %s (%s); moved to failed/", path.name, exc)
                self._move(path, "failed")
        return out

    def save(self, record: CallbackRecord) -> None:
        """Rewrite a pending record (after a failed try)."""
        self.add(record)

    def close(self, record: CallbackRecord, where: str) -> None:
        """Write the record into `where` ('done' or 'failed') and drop the pending one."""
        atomic_write_json(self.path(record.job_id, where), asdict(record))
        self.remove(record.job_id)

    def _move(self, path: Path, where: str) -> None:
        (self.folder / where).mkdir(parents=True, exist_ok=True)
        try:
            path.replace(self.folder / where / path.name)
        except OSError:
            pass


class Notifier:
    """The background task that sends the final status of every ended job that asked for it."""

    def __init__(self, layout: Layout, store: CallbackStore, attempts: int = 5, backoff_s: float = 2.0,
                 timeout_s: float = 10.0, poll_s: float = 1.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.layout, self.store = layout, store
        self.attempts, self.backoff_s, self.timeout_s, self.poll_s = attempts, backoff_s, timeout_s, poll_s
        self.transport = transport

    async def run(self) -> None:
        """Check the pending records every `poll_s` until cancelled."""
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False, transport=self.transport,
                                     headers={"User-Agent": USER_AGENT}) as client:
            while True:
                try:
                    await self.tick(client)
                except Exception:  # the loop must outlive any one bad record or a full disk
                    log.exception("callback round failed")
                await asyncio.sleep(self.poll_s)

    async def tick(self, client: httpx.AsyncClient) -> None:
        """One round: send every due record whose job has ended."""
        records = await anyio.to_thread.run_sync(self.store.pending)
        for record in records:
            if record.next_at > time.time():
                continue
            status = await anyio.to_thread.run_sync(protocol.read_status, self.layout, record.job_id)
            if status is None:
                if await anyio.to_thread.run_sync(protocol.find_job_file, self.layout, record.job_id) is None:
                    record.last_error = "the job no longer exists"
                    await anyio.to_thread.run_sync(self.store.close, record, "failed")
                continue
            if not status.state.finished:
                continue
            await self.send(client, record, status.to_dict())

    async def send(self, client: httpx.AsyncClient, record: CallbackRecord, body: dict[str, Any]) -> bool:
        """One try at delivering; the record is moved or rescheduled. True when delivered."""
        record.attempts += 1
        try:
            answer = await client.post(record.url, json=body, headers={"X-LipSpool-Event": "job.finished",
                                                                       "X-LipSpool-Job": record.job_id})
            ok = 200 <= answer.status_code < 300
            record.last_error = "" if ok else f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            ok = False
            record.last_error = one_line(f"{type(exc).__name__}: {exc}")[:300]
        if ok:
            record.delivered = now_iso()
            await anyio.to_thread.run_sync(self.store.close, record, "done")
            log.info("callback of job %s delivered (try %d)", record.job_id, record.attempts)
            return True
        if record.attempts >= self.attempts:
            await anyio.to_thread.run_sync(self.store.close, record, "failed")
            log.warning("callback of job %s abandoned after %d tries: %s", record.job_id, record.attempts,
                        record.last_error)
            return False
        record.next_at = time.time() + self.backoff_s * 2 ** (record.attempts - 1)
        await anyio.to_thread.run_sync(self.store.save, record)
        log.info("callback of job %s failed (try %d: %s); next try in %.1f s", record.job_id, record.attempts,
                 record.last_error, record.next_at - time.time())
        return False
