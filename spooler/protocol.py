"""The spool protocol: the only code that reads or writes spool files.

Maildir-style, rename is the only state transition of a job file:

    tmp/X.json --rename--> new/X.json                      submitted, complete, queued
    new/X.json --rename--> active/X@<worker>.json          claimed to be opened: one claimer wins
    active/X@A.json --rename--> active/X@B.json            taken back from a dead opener A
    active/X@A.json --rename--> active/X.json              opened: its items are queued as tickets
    active/X.json --rename--> done/ | failed/ X.json       finished (by whoever finished its last item)
    any --rename--> rejected/X.json  (+ X.json.reason.txt) not a valid job

A job's items are the unit of work. Opening a job writes one ticket per item (everything needed
to render it, paths resolved), and any worker renders any ticket:

    queue/X~0003.json --rename--> working/X~0003@<worker>.json    claimed: one claimer wins
    working/X~0003@A.json --rename--> working/X~0003@B.json       taken back from a dead worker A
    working/X~0003@A.json --rename--> queue/X~0003.json           its worker stopped (SIGTERM)
    working/X~0003@A.json --rename--> finished/X~0003.json        done, failed or cancelled

The owner's worker id is part of a claimed file's name, so taking work back from a dead worker
is one rename that only one taker can win, and a slow taker can never steal it from the worker
that won. Job files and tickets are never modified after delivery. Status files are rewritten
whole (temporary file, fsync, rename): status/X.json by whoever opens or finishes the job, and
status/X.items/NNNN.json by the one worker that owns item NNNN; `read_status` assembles the two,
so two workers finishing items of one job at once never lose each other's update. Worker
heartbeats (workers/W.json) are rewritten the same way; a heartbeat's age is its file's mtime on
the spool's own clock (`SpoolClock`), so workers on hosts whose clocks differ judge each other
fairly over a network file system.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import states
from .atomicfile import atomic_write_bytes, atomic_write_json, read_json
from .config import Layout, how_to_allow
from .names import MAX_NAME_BYTES, BadJobId, check_job_id, fit_file_name, is_job_id, one_line, printable, safe_stem
from .records import (
    JOB_SCHEMA,
    ItemState,
    ItemStatus,
    ItemTicket,
    Job,
    JobState,
    JobStatus,
    WorkerInfo,
    item_from_dict,
    item_to_dict,
    new_job_id,
    now_iso,
)
from .states import WorkerState

log = logging.getLogger(__name__)

SETTLE_S = 2.0  # a hand-written file this fresh that does not parse yet may still be written
OWNER_SEP = "@"
TICKET_SEP = "~"  # job id ~ item number: never part of a job id
MAX_JOB_BYTES = 1024 * 1024  # a job file larger than this is refused unread
MAX_JOB_DEPTH = 16  # nesting of objects and lists in a job file (options included)
MAX_VIDEOS = 10000
MAX_TEXT_CHARS = 4096  # any one string field (a path, a name)
REASON_SUFFIX = ".reason.txt"


class SpoolError(Exception):
    """A spool operation could not be done."""


class InvalidJob(SpoolError):
    """A job file that cannot be run; the message is the reason a user reads."""


class UnparsableJob(InvalidJob):
    """A job file that is not (yet) valid JSON; a hand-copied file may still be growing."""


class JobNotFound(SpoolError):
    """No job with that id in this spool."""


class DuplicateJob(InvalidJob):
    """A job file whose id is already taken by another job."""


def valid_id(job_id: object) -> str:
    """`job_id` when it is a valid job id; raise JobNotFound (for lookups by id) otherwise."""
    try:
        return check_job_id(job_id)
    except BadJobId as exc:
        raise JobNotFound(str(exc)) from None


# --- job files ----------------------------------------------------------------------------


def job_id_of(path: Path) -> str:
    """The job id a spool file name stands for ('X@worker.json' and 'X.json' -> 'X')."""
    stem = path.name[: -len(".json")] if path.name.endswith(".json") else path.name
    return stem.split(OWNER_SEP, 1)[0]


def owner_of(path: Path) -> str:
    """The worker id encoded in an active/ file name ('' when none)."""
    stem = path.name[: -len(".json")] if path.name.endswith(".json") else path.name
    return stem.split(OWNER_SEP, 1)[1] if OWNER_SEP in stem else ""


def parse_job(data: Any, fallback_id: str) -> Job:
    """Validate a job file's JSON and build the Job; raise InvalidJob with the reason.

    Every field is checked for its type; a job's id is its file name, and an "id" field, where
    present, must say the same (so a file can never speak for another job).
    """
    if not isinstance(data, dict):
        raise InvalidJob("a job file must hold a JSON object")
    _check_depth(data)
    if "schema" not in data:
        raise InvalidJob(f'missing field "schema" (use "schema": {JOB_SCHEMA})')
    if data["schema"] != JOB_SCHEMA or isinstance(data["schema"], bool):
        raise InvalidJob(f"unknown schema version {printable(repr(data['schema']))[:40]}; this LipSpool reads "
                         f"schema {JOB_SCHEMA}")
    for key in ("audio", "videos"):
        if key not in data:
            raise InvalidJob(f'missing field "{key}"')
    audio = _path_text(data["audio"], '"audio" must be a file path')
    videos = data["videos"]
    if isinstance(videos, str):
        videos = [videos]
    if not isinstance(videos, list) or not videos:
        raise InvalidJob('"videos" must be a non-empty list of file paths')
    if len(videos) > MAX_VIDEOS:
        raise InvalidJob(f'"videos" lists {len(videos)} files; one job takes at most {MAX_VIDEOS}')
    videos = [_path_text(v, '"videos" must be a non-empty list of file paths') for v in videos]
    options = data.get("options") or {}
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise InvalidJob('"options" must be an object')
    fallback_id = fallback_id if is_job_id(fallback_id) else ""
    given = data.get("id")
    if given is not None and given != "":
        if not is_job_id(given):
            raise InvalidJob(f"bad job id {printable(str(given))[:140]!r}: use letters, digits, '.', '_' and '-' only")
        if fallback_id and given != fallback_id:
            raise InvalidJob(f'the "id" field ({given}) must match the file name ({fallback_id}.json); '
                             'rename the file or leave the field out')
    job_id = given or fallback_id
    if not job_id:
        raise InvalidJob(f"bad job id {printable(fallback_id or str(given))[:140]!r}: name the file with letters, "
                         "digits, '.', '_' and '-' only")
    submitted = data.get("submitted_at", None)
    if submitted is not None and (isinstance(submitted, bool) or not isinstance(submitted, (int, float))
                                  or not 0 <= submitted < 1e11):
        raise InvalidJob('"submitted_at" must be a time in seconds since 1970')
    return Job(
        id=job_id,
        audio=audio,
        videos=videos,
        name=_text(data.get("name"), "name"),
        created=_text(data.get("created"), "created") or now_iso(),
        options=options,
        submitted_at=float(submitted or time.time()),
    )


def _text(value: Any, field_name: str) -> str:
    """An optional string field ("" when absent or null)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidJob(f'"{field_name}" must be text')
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidJob(f'"{field_name}" is longer than {MAX_TEXT_CHARS} characters')
    return value


def _path_text(value: Any, message: str) -> str:
    """A path field: non-empty text without NUL characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidJob(message)
    if "\0" in value:
        raise InvalidJob(f"the path {printable(value)[:200]!r} contains a NUL character")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidJob(f"a path is longer than {MAX_TEXT_CHARS} characters (too long)")
    return value


def _check_depth(data: Any) -> None:
    """Raise InvalidJob when objects and lists nest deeper than MAX_JOB_DEPTH (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JOB_DEPTH:
            raise InvalidJob(f"the job file is nested more than {MAX_JOB_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def resolve_input(path_text: str, base: Path, allowed: list[Path], root: Path) -> Path:
    """An input path made absolute (relative to `base`) and checked; raise InvalidJob if unusable."""
    shown_text = printable(path_text)[:300]
    try:
        path = Path(path_text).expanduser()
        if not path.is_absolute():
            path = base / path
        path = path.resolve()
        if not any(path.is_relative_to(r) for r in allowed):
            shown = ", ".join(str(r) for r in allowed)
            raise InvalidJob(f"{printable(str(path))[:300]} lies outside the allowed roots ({shown}); "
                             f"{how_to_allow(path.parent, root)}")
        if not path.exists():
            raise InvalidJob(f"input file not found: {printable(str(path))[:300]}")
        if not path.is_file():
            raise InvalidJob(f"input is not a file: {printable(str(path))[:300]}")
        if not os.access(path, os.R_OK):
            raise InvalidJob(f"input file is not readable: {printable(str(path))[:300]}")
    except ValueError as exc:  # e.g. an embedded NUL
        raise InvalidJob(f"unusable path {shown_text!r}: {exc}") from None
    except OSError as exc:  # e.g. a name longer than the file system allows, a loop of links
        reason = "too long for the file system" if exc.errno == errno.ENAMETOOLONG else (exc.strerror or str(exc))
        raise InvalidJob(f"unusable path {shown_text!r}: {reason}") from None
    return path


def resolve_job_inputs(job: Job, layout: Layout, allowed: list[Path]) -> Job:
    """A copy of the job whose paths are absolute and checked (relative ones against new/)."""
    base = layout.spool_dir("new")
    audio = resolve_input(job.audio, base, allowed, layout.root)
    videos = [resolve_input(v, base, allowed, layout.root) for v in job.videos]
    return Job(**{**job.to_dict(), "audio": str(audio), "videos": [str(v) for v in videos]})


def load_job(path: Path) -> Job:
    """Read and validate a job file; raise InvalidJob with a reason a user can act on."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_JOB_BYTES + 1)
    except OSError as exc:
        raise InvalidJob(f"cannot read the job file: {exc.strerror or exc}") from None
    if len(raw) > MAX_JOB_BYTES:
        raise InvalidJob(f"the job file is too big (over {MAX_JOB_BYTES // 1024} KB); a job file lists paths, "
                         "it never holds media")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UnparsableJob("the file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UnparsableJob(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidJob(f"the job file is nested more than {MAX_JOB_DEPTH} levels deep") from None
    return parse_job(data, fallback_id=job_id_of(path))


def existing_job(layout: Layout, job_id: str, besides: Path | None = None) -> str:
    """Where a job with this id already lives ("" when the id is free), ignoring the file `besides`.

    A job exists when any spool folder holds its file, its status is past "queued", or its results
    folder holds anything but the inputs a `submit --copy` put there first.
    """
    for p in job_files(layout, job_id):
        if p != besides:
            return f"its job file is in {folder_of(p)}/"
    status = read_status(layout, job_id)
    if status is not None and status.state != JobState.QUEUED:
        return f"its status says {status.state.value}"
    results = layout.results / job_id
    if results.is_dir() and any(p.name != "inputs" for p in results.iterdir()):
        return f"results/{job_id} exists"
    return ""


# --- submitting ---------------------------------------------------------------------------


def submit(layout: Layout, job: Job) -> Path:
    """Deliver a job: write it in tmp/, its queued status, then rename into new/.

    Nothing is left behind when any step fails: no status of a job that was never queued.
    """
    try:
        check_job_id(job.id)
    except BadJobId as exc:
        raise InvalidJob(str(exc)) from None
    where = existing_job(layout, job.id)
    if where:
        raise DuplicateJob(f"a job with id {job.id} already exists ({where})")
    tmp = layout.spool_dir("tmp") / f"{job.id}.{socket.gethostname()[:60]}.{os.getpid()}.json"
    dest = layout.spool_dir("new") / f"{job.id}.json"
    wrote_status = False
    try:
        atomic_write_json(tmp, job.to_dict())
        write_status(layout, initial_status(job))
        wrote_status = True
        os.rename(tmp, dest)
    except BaseException:
        for leftover in (tmp, status_path(layout, job.id) if wrote_status else None):
            if leftover is not None:
                try:
                    leftover.unlink()
                except OSError:
                    pass
        raise
    log.info("submitted job %s (%d videos)", job.id, len(job.videos))
    return dest


def make_job(audio: str, videos: list[str], name: str = "", options: dict[str, Any] | None = None) -> Job:
    """A new Job with a fresh id."""
    return Job(id=new_job_id(), audio=audio, videos=list(videos), name=name, options=dict(options or {}))


def initial_status(job: Job) -> JobStatus:
    """The status of a job that has been submitted and not yet claimed."""
    items = [ItemStatus(index=i, video=v, name=Path(v).name) for i, v in enumerate(job.videos)]
    status = JobStatus(
        job_id=job.id,
        name=job.name,
        audio=job.audio,
        items=items,
        created=job.created,
        updated=now_iso(),
        backend=str(job.options.get("backend", "")),
    )
    status.recount()
    return status


# --- listing and claiming -----------------------------------------------------------------


def _is_candidate(path: Path) -> bool:
    name = path.name
    return not name.startswith(".") and not name.endswith(("~", ".tmp", ".part", ".swp"))


def queued_files(layout: Layout) -> list[Path]:
    """Files waiting in new/, oldest first (editor temp files and dotfiles are ignored)."""
    entries = []
    with os.scandir(layout.spool_dir("new")) as it:
        for entry in it:
            if entry.is_file() and _is_candidate(Path(entry.path)):
                try:
                    entries.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
                except FileNotFoundError:
                    continue  # claimed by someone else meanwhile
    return [p for _, _, p in sorted(entries)]


def active_files(layout: Layout) -> list[Path]:
    """Job files in active/."""
    return sorted(p for p in layout.spool_dir("active").glob("*.json") if _is_candidate(p))


def claim(path: Path, layout: Layout, worker_id: str) -> Path | None:
    """Claim a job file for `worker_id` by one rename into active/X@worker.json.

    Works for a queued file in new/ and for an orphaned one in active/ (taking it back from a
    dead owner). Returns None when another daemon renamed it first.
    """
    return rename_if_there(path, layout.spool_dir("active") / f"{job_id_of(path)}{OWNER_SEP}{worker_id}.json")


def rename_if_there(path: Path, dest: Path) -> Path | None:
    """Rename `path` to `dest` (the one state transition); None when someone else moved it first."""
    try:
        os.rename(path, dest)
    except FileNotFoundError:
        return None
    return dest


def finish(path: Path, layout: Layout, state: JobState) -> Path:
    """Move a claimed job file to done/ or failed/ according to its final state."""
    dest = layout.spool_dir(state.folder) / f"{job_id_of(path)}.json"
    os.rename(path, dest)
    return dest


def reject(path: Path, layout: Layout, reason: str, as_name: str | None = None) -> Path | None:
    """Move a file that is not a valid job to rejected/, with <name>.reason.txt beside it.

    The rejected file keeps its name (`as_name` when given), cut by bytes so that the reason
    file's name fits too. Returns None when the file was gone (another daemon took it first).
    """
    name = as_name or (f"{job_id_of(path)}.json" if owner_of(path) else path.name)
    name = fit_file_name(name, max_bytes=MAX_NAME_BYTES, reserve=len(REASON_SUFFIX) + 14)
    dest = layout.spool_dir("rejected") / name
    if dest.exists() or dest.with_name(dest.name + REASON_SUFFIX).exists():
        dest = dest.with_name(f"{int(time.time() * 1000)}-{dest.name}")
    try:
        os.rename(path, dest)
    except FileNotFoundError:
        return None
    line = one_line(reason)
    atomic_write_bytes(dest.with_name(dest.name + REASON_SUFFIX), (line + "\n").encode("utf-8"))
    log.warning("rejected %s: %s", printable(name), line)
    return dest


def is_settling(path: Path, clock: SpoolClock, settle_s: float = SETTLE_S) -> bool:
    """True while a file is younger than settle_s (a hand-copied file may still be growing)."""
    try:
        return clock.age(path) < settle_s
    except FileNotFoundError:
        return False


def find_job_file(layout: Layout, job_id: str) -> Path | None:
    """The job file of an id, wherever it is in the spool (None if absent); JobNotFound for a bad id."""
    return next(job_files(layout, job_id), None)


def job_files(layout: Layout, job_id: str) -> Iterator[Path]:
    """Every file of the id in the job folders ('X.json', or 'X@worker.json' in active/), in the
    order new, active, done, failed, rejected; JobNotFound for a bad id."""
    valid_id(job_id)
    for folder in ("new", "active", "done", "failed", "rejected"):
        d = layout.spool_dir(folder)
        exact = d / f"{job_id}.json"
        if exact.exists():
            yield exact
        yield from d.glob(f"{glob_escape(job_id)}{OWNER_SEP}*.json")


def glob_escape(text: str) -> str:
    """Escape glob metacharacters."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def folder_of(path: Path) -> str:
    """The spool folder a job file is in (new, active, done, failed, rejected)."""
    return path.parent.name


# --- cancel requests ----------------------------------------------------------------------


def request_cancel(layout: Layout, job_id: str) -> str:
    """Ask for a job to stop. A queued job is cancelled at once; a running one between frames.

    Returns what happened: "cancelled" (it was still queued), "requested" (its daemon will stop
    it), or the final state it already had.
    """
    path = find_job_file(layout, job_id)
    if path is None:
        raise JobNotFound(f"no job {job_id} in {layout.spool}")
    where = folder_of(path)
    if where == "new":
        try:
            os.rename(path, layout.spool_dir("done") / f"{job_id}.json")
        except FileNotFoundError:
            pass  # a daemon claimed it meanwhile: ask it to stop
        else:
            status = read_status(layout, job_id) or JobStatus(job_id=job_id)
            states.cancel_queued_job(status)
            write_status(layout, status)
            return "cancelled"
    elif where != "active":
        found = read_status(layout, job_id)
        return found.state.value if found else where
    atomic_write_bytes(layout.spool_dir("cancel") / job_id, b"")
    return "requested"


def cancel_requested(layout: Layout, job_id: str) -> bool:
    """True when someone asked for the job to stop."""
    valid_id(job_id)
    return (layout.spool_dir("cancel") / job_id).exists()


def cancel_markers(layout: Layout) -> list[str]:
    """The ids of jobs someone asked to stop (their markers in cancel/)."""
    return [p.name for p in layout.spool_dir("cancel").iterdir() if is_job_id(p.name)]


def clear_cancel(layout: Layout, job_id: str) -> None:
    """Remove a handled cancel request."""
    valid_id(job_id)
    try:
        (layout.spool_dir("cancel") / job_id).unlink()
    except FileNotFoundError:
        pass


def delete_job(layout: Layout, job_id: str) -> None:
    """Forget a finished job: its job file (and rejection reason), status and cancel marker.

    Refuses a job that is queued or running (cancel it first); its results folder is the
    caller's to remove. Raises JobNotFound when nothing of the job is left.
    """
    path = find_job_file(layout, job_id)
    if path is not None and folder_of(path) in ("new", "active"):
        raise InvalidJob(f"job {job_id} is {'queued' if folder_of(path) == 'new' else 'running'}; cancel it first")
    found = False
    for target in (path, path.with_name(path.name + ".reason.txt") if path else None, status_path(layout, job_id),
                   layout.spool_dir("cancel") / job_id):
        if target is None:
            continue
        try:
            target.unlink()
            found = True
        except FileNotFoundError:
            pass
    for ticket in _tickets(layout, "finished", job_id):
        ticket.unlink(missing_ok=True)
    records = layout.spool_dir("status") / f"{job_id}.items"
    if records.is_dir():
        shutil.rmtree(records, ignore_errors=True)
        found = True
    if not found:
        raise JobNotFound(f"no job {job_id} in {layout.spool}")
    log.info("deleted job %s", job_id)


# --- status files -------------------------------------------------------------------------


def status_path(layout: Layout, job_id: str) -> Path:
    """status/<job_id>.json (JobNotFound for an id that is not of the allowed form)."""
    valid_id(job_id)
    return layout.spool_dir("status") / f"{job_id}.json"


def write_status(layout: Layout, status: JobStatus) -> None:
    """Write a job's status atomically."""
    atomic_write_json(status_path(layout, status.job_id), status.to_dict())


def read_status(layout: Layout, job_id: str) -> JobStatus | None:
    """A job's status, or None if it has none (or an unreadable one)."""
    try:
        return _assemble(layout, JobStatus.from_dict(read_json(status_path(layout, job_id))))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("unreadable status for %s: %s", job_id, exc)
        return None


def all_jobs(layout: Layout) -> list[JobStatus]:
    """Statuses of every job, plus hand-dropped queued files that have none yet; newest first."""
    statuses = {s.job_id: s for s in iter_statuses(layout)}
    for path in queued_files(layout):
        job_id = job_id_of(path)
        if job_id not in statuses:
            statuses[job_id] = JobStatus(job_id=job_id, message="dropped in by hand; not claimed yet")
    return sorted(statuses.values(), key=lambda s: (s.created, s.job_id), reverse=True)


def job_status(layout: Layout, job_id: str) -> JobStatus:
    """One job's status (what `status JOB --json` prints): its status file, or a stand-in for a job
    file that has none yet; JobNotFound when the id names no job."""
    status = read_status(layout, job_id)
    if status is None:
        path = find_job_file(layout, job_id)
        if path is None:
            raise JobNotFound(f"no job {job_id} in {layout.spool}")
        status = JobStatus(job_id=job_id, message=f"job file in {folder_of(path)}/, no status yet")
    return status


def iter_statuses(layout: Layout) -> Iterator[JobStatus]:
    """Every readable status, newest job first."""
    paths = sorted(layout.spool_dir("status").glob("*.json"), reverse=True)
    for path in paths:
        if path.name.startswith(".") or not is_job_id(path.stem):
            continue
        status = read_status(layout, path.stem)
        if status is not None:
            yield status


# --- workers ------------------------------------------------------------------------------


class SpoolClock:
    """The spool file system's clock: ages of spool files are measured against it, never against
    this host's clock.

    On a network file system a file's times come from the file server, whose clock may be minutes
    away from this host's (or from another worker's). So a worker's heartbeat is judged by how old
    its file is on the spool's own clock, read off the mtime of a probe file created in workers/;
    the offset between that clock and this host's is read again every `refresh_s` seconds. No two
    hosts' clocks are ever compared. Thread-safe (the daemon's heartbeat thread shares it).
    """

    def __init__(self, layout: Layout, refresh_s: float = 10.0, host_clock: Callable[[], float] = time.time) -> None:
        host = fit_file_name(safe_stem(socket.gethostname()), max_bytes=100)
        self._probe = layout.spool_dir("workers") / f".clock-{host}-{os.getpid()}"
        self._refresh_s = refresh_s
        self._host_clock = host_clock
        self._offset = 0.0
        self._read_at: float | None = None  # time.monotonic() of the last probe
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch on the spool's clock."""
        with self._lock:
            if self._read_at is None or time.monotonic() - self._read_at >= self._refresh_s:
                self._offset = self._measure_offset()
                self._read_at = time.monotonic()
            return self._host_clock() + self._offset

    def age(self, path: Path) -> float:
        """How many seconds ago `path` was last written, on the spool's clock (FileNotFoundError if gone)."""
        return self.now() - path.stat().st_mtime

    def _measure_offset(self) -> float:
        before = self._host_clock()
        try:
            with open(self._probe, "wb") as fh:  # creating (or truncating) a file stamps it with the server's clock
                fh.write(b"t")
            stamped = self._probe.stat().st_mtime
            self._probe.unlink()
        except OSError as exc:
            log.warning("cannot read the spool's clock through %s (%s); using this host's clock", self._probe, exc)
            return 0.0
        after = self._host_clock()
        return stamped - (before + after) / 2


@dataclass
class WorkerHealth:
    """What the spool knows of a worker: its heartbeat record, how old its file is, whether it is alive."""

    info: WorkerInfo
    alive: bool
    age_s: float = 0.0


def write_worker(layout: Layout, info: WorkerInfo) -> None:
    """Write a daemon's heartbeat file (its mtime, on the spool's clock, is the heartbeat)."""
    info.heartbeat = time.time()
    atomic_write_json(_worker_file(layout, info.worker_id), info.to_dict())


def _worker_file(layout: Layout, worker_id: str) -> Path:
    return layout.spool_dir("workers") / f"{worker_id}.json"


def remove_worker(layout: Layout, worker_id: str) -> None:
    """Remove a daemon's heartbeat file (on clean exit)."""
    try:
        _worker_file(layout, worker_id).unlink()
    except FileNotFoundError:
        pass


def read_worker(layout: Layout, worker_id: str) -> WorkerInfo | None:
    """A worker's heartbeat record, or None."""
    try:
        return WorkerInfo.from_dict(read_json(_worker_file(layout, worker_id)))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_alive(info: WorkerInfo | None, age_s: float, stale_after_s: float) -> bool:
    """A worker is alive while its heartbeat file is younger than stale_after_s on the spool's clock
    and, on this host, its process exists; a worker that said it stopped is not."""
    if info is None or info.state == WorkerState.STOPPED:
        return False
    if info.host == socket.gethostname() and not pid_alive(info.pid):
        return False
    return age_s < stale_after_s


def worker_health(layout: Layout, worker_id: str, stale_after_s: float, clock: SpoolClock) -> WorkerHealth | None:
    """A worker's heartbeat record with its age and liveness; None when it left no readable file."""
    path = _worker_file(layout, worker_id)
    try:
        age = clock.age(path)  # before reading: a file rewritten meanwhile only looks older
    except FileNotFoundError:
        return None
    info = read_worker(layout, worker_id)
    if info is None:
        return None
    return WorkerHealth(info, worker_alive(info, age, stale_after_s), age)


def _is_dead(layout: Layout, worker_id: str, stale_after_s: float, clock: SpoolClock) -> bool:
    health = worker_health(layout, worker_id, stale_after_s, clock)
    return health is None or not health.alive


def list_workers(layout: Layout, stale_after_s: float, clock: SpoolClock | None = None) -> list[WorkerHealth]:
    """Every worker that left a heartbeat file, with whether it is alive now."""
    clock = clock or SpoolClock(layout)
    found = (worker_health(layout, p.stem, stale_after_s, clock)
             for p in sorted(layout.spool_dir("workers").glob("*.json")))
    return [w for w in found if w is not None]


def orphaned_jobs(layout: Layout, stale_after_s: float, clock: SpoolClock | None = None) -> list[Path]:
    """Job files claimed for opening whose owner is dead (stale heartbeat, or its process is gone)."""
    clock = clock or SpoolClock(layout)
    return [p for p in active_files(layout)
            if owner_of(p) and _is_dead(layout, owner_of(p), stale_after_s, clock)]


def opened_jobs(layout: Layout) -> list[Path]:
    """Job files in active/ whose items are queued as tickets (no owner: every worker serves them)."""
    return [p for p in active_files(layout) if not owner_of(p)]


# --- item tickets -------------------------------------------------------------------------


def ticket_stem(job_id: str, index: int) -> str:
    """The name, without '.json', of item `index` (0-based) of a job: 'X~0003'."""
    return f"{job_id}{TICKET_SEP}{index + 1:04d}"


def ticket_name(job_id: str, index: int) -> str:
    """The file name of item `index` (0-based) of a job: 'X~0003.json'."""
    return f"{ticket_stem(job_id, index)}.json"


def ticket_of(path: Path) -> tuple[str, int]:
    """(job id, 0-based item index) of a ticket file name, claimed or not."""
    stem = path.name[: -len(".json")] if path.name.endswith(".json") else path.name
    job_id, _, number = stem.split(OWNER_SEP, 1)[0].rpartition(TICKET_SEP)
    return job_id, int(number) - 1


def _tickets(layout: Layout, folder: str, job_id: str | None = None) -> list[Path]:
    pattern = f"{glob_escape(job_id)}{TICKET_SEP}*.json" if job_id else f"*{TICKET_SEP}*.json"
    return [p for p in layout.spool_dir(folder).glob(pattern) if _is_candidate(p)]


def ticket_exists(layout: Layout, job_id: str, index: int) -> bool:
    """Whether item `index` of the job has a ticket anywhere (queued, being worked on or finished)."""
    name, stem = ticket_name(job_id, index), ticket_stem(job_id, index)
    return ((layout.spool_dir("queue") / name).exists() or (layout.spool_dir("finished") / name).exists()
            or any(layout.spool_dir("working").glob(f"{glob_escape(stem)}{OWNER_SEP}*.json")))


def open_job(layout: Layout, path: Path, job: Job, status: JobStatus) -> Path:
    """Queue every unfinished item of a claimed job as a ticket (items that have one are skipped, so
    opening again after a crash doubles nothing), then release the job file to active/X.json."""
    for item, video in zip(status.items, job.videos):
        if item.state.finished or ticket_exists(layout, job.id, item.index):
            continue
        ticket = ItemTicket(job_id=job.id, index=item.index, total=len(job.videos), audio=job.audio, video=video,
                            name=job.name, options=job.options)
        atomic_write_json(layout.spool_dir("queue") / ticket_name(job.id, item.index), ticket.to_dict())
    dest = layout.spool_dir("active") / f"{job.id}.json"
    os.rename(path, dest)
    return dest


def queued_tickets(layout: Layout) -> list[Path]:
    """Tickets waiting in queue/, oldest first (a job's items in order; older jobs' first)."""
    entries = []
    for p in _tickets(layout, "queue"):
        try:
            entries.append((p.stat().st_mtime_ns, ticket_of(p), p))
        except (FileNotFoundError, ValueError):
            continue
    return [p for _, _, p in sorted(entries)]


def orphaned_tickets(layout: Layout, stale_after_s: float, clock: SpoolClock | None = None) -> list[Path]:
    """Claimed tickets whose worker is dead."""
    clock = clock or SpoolClock(layout)
    return [p for p in _tickets(layout, "working") if _is_dead(layout, owner_of(p), stale_after_s, clock)]


def claim_ticket(path: Path, layout: Layout, worker_id: str) -> Path | None:
    """Claim a queued (or orphaned) ticket for `worker_id` by one rename; None when another won."""
    job_id, index = ticket_of(path)
    return rename_if_there(path, layout.spool_dir("working")
                           / f"{ticket_stem(job_id, index)}{OWNER_SEP}{worker_id}.json")


def load_ticket(path: Path) -> ItemTicket:
    """Read a ticket (written by a daemon, so a bad one is a fault, reported as InvalidJob)."""
    try:
        return ItemTicket.from_dict(read_json(path))
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidJob(f"unreadable item ticket {path.name}: {exc}") from None


def requeue_ticket(path: Path, layout: Layout) -> Path | None:
    """Put a claimed ticket back in the queue (its worker stops); None when it was taken over."""
    return _move_ticket(path, layout, "queue")


def finish_ticket(path: Path, layout: Layout) -> Path | None:
    """Move a claimed ticket to finished/; None when it was taken over meanwhile."""
    return _move_ticket(path, layout, "finished")


def _move_ticket(path: Path, layout: Layout, folder: str) -> Path | None:
    """Rename a claimed ticket to its plain name in `folder`; None when it is no longer there."""
    job_id, index = ticket_of(path)
    return rename_if_there(path, layout.spool_dir(folder) / ticket_name(job_id, index))


def tickets_left(layout: Layout, job_id: str) -> bool:
    """Whether any item of the job is still queued or being worked on."""
    return bool(_tickets(layout, "queue", job_id) or _tickets(layout, "working", job_id))


def queued_tickets_of(layout: Layout, job_id: str) -> list[Path]:
    """The job's tickets still waiting in the queue."""
    return _tickets(layout, "queue", job_id)


def item_record_path(layout: Layout, job_id: str, index: int) -> Path:
    """status/X.items/NNNN.json: the record only the item's owner writes."""
    valid_id(job_id)
    return layout.spool_dir("status") / f"{job_id}.items" / f"{index + 1:04d}.json"


def write_item(layout: Layout, job_id: str, item: ItemStatus) -> None:
    """Write one item's record atomically."""
    atomic_write_json(item_record_path(layout, job_id, item.index), item_to_dict(item))


def read_items(layout: Layout, job_id: str) -> dict[int, ItemStatus]:
    """The job's item records by index (unreadable ones left out)."""
    folder = layout.spool_dir("status") / f"{job_id}.items"
    out: dict[int, ItemStatus] = {}
    if not folder.is_dir():
        return out
    for p in folder.glob("*.json"):
        if p.name.startswith("."):
            continue
        try:
            item = item_from_dict(read_json(p))
        except (OSError, ValueError, TypeError, KeyError):
            continue
        out[item.index] = item
    return out


def _assemble(layout: Layout, status: JobStatus) -> JobStatus:
    """A job's status with its items' own records laid over it, and what follows from them."""
    records = read_items(layout, status.job_id)
    if not records:
        return status
    for index, item in records.items():
        if 0 <= index < len(status.items):
            status.items[index] = item
    status.recount()
    status.overhead_s = round(sum(it.overhead_s for it in status.items), 4)
    if status.state in (JobState.RUNNING, JobState.INTERRUPTED):
        interrupted = any(it.interrupted for it in status.items)
        status.state = states.running_job_state([it.state for it in status.items], interrupted)
        running = [it for it in status.items if it.state == ItemState.RUNNING]
        status.current_item = ", ".join(it.name for it in running)
        worked = [it for it in status.items if it.worker is not None and it.worker.worker_id]
        latest = max(worked, key=lambda it: (it.state == ItemState.RUNNING, it.started or ""), default=None)
        if latest is not None and latest.worker is not None:
            status.worker = latest.worker
        done_s = [it.render_s for it in status.items if it.state == ItemState.DONE and it.render_s]
        left = sum(1 for it in status.items if it.state == ItemState.QUEUED)
        if running and all(it.eta_s is not None for it in running):
            per_item = sum(done_s) / len(done_s) if done_s else max(it.eta_s or 0.0 for it in running)
            status.eta_s = round(max(it.eta_s or 0.0 for it in running) + left * per_item / len(running), 1)
        else:
            status.eta_s = None
        if status.state == JobState.INTERRUPTED:
            status.message = "the worker stopped; the job resumes when a worker starts"
    return status


def conclude_job(layout: Layout, job_id: str) -> JobState | None:
    """Finish an opened job whose items are all finished: its final status, its file into done/
    or failed/. Any worker may call it; when two do at once, one rename wins and both wrote the
    same status. None when the job is not finished yet (or someone else finished it)."""
    path = layout.spool_dir("active") / f"{job_id}.json"
    if not path.exists() or tickets_left(layout, job_id):
        return None
    status = read_status(layout, job_id)
    if status is None or not all(it.state.finished for it in status.items):
        return None
    state = states.end_job(status, cancelled=cancel_requested(layout, job_id))
    write_status(layout, status)
    try:
        os.rename(path, layout.spool_dir(state.folder) / f"{job_id}.json")
    except FileNotFoundError:
        return None
    clear_cancel(layout, job_id)
    return state
