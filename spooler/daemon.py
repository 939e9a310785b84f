"""The spooler daemon: watch new/, claim jobs one at a time, run them, survive crashes.

One render at a time per daemon, so a GPU is never oversubscribed; run one daemon per GPU (or per
machine on a shared folder) to go wider. The watchdog observer wakes the loop as soon as a
job lands in new/; a periodic rescan finds jobs on file systems where inotify does not fire.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import protocol, states
from .config import Layout, allowed_roots
from .names import is_job_id, one_line, printable
from .records import ItemStatus, Job, JobState, JobStatus, WorkerInfo, WorkerRef, now_iso
from .runner import ItemRunner, ItemWriter, Outcome
from .states import WorkerState

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)


@dataclass
class DaemonOptions:
    """How a daemon runs."""

    device: str = "cpu"
    watch: bool = True  # use watchdog; the periodic rescan runs either way
    rescan_s: float = 2.0
    heartbeat_s: float = 1.0
    stale_after_s: float = 30.0
    allow_roots: list[str] = field(default_factory=list)
    once: bool = False  # exit when the queue is empty (for scripts and benchmarks)


def new_worker_id() -> str:
    """A worker id unique across hosts and restarts."""
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname())[:40]
    return f"{host}-{os.getpid()}-{secrets.token_hex(2)}"


CHECKPOINT_RESCAN_BEATS = 10  # heartbeats between looks into <root>/models
QUIET_EVENTS = ("opened", "closed_no_write")  # file events that never mean new work (reads)


class Daemon:
    """Serves one spool until stopped."""

    def __init__(self, layout: Layout, options: DaemonOptions | None = None) -> None:
        self.layout = layout.ensure()
        self.options = options or DaemonOptions()
        found = _checkpoints(layout)
        self.worker = WorkerInfo(worker_id=new_worker_id(), device=self.options.device, version=_version(),
                                 backends=_usable_backends(found), checkpoints=found)
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self._writer: ItemWriter | None = None
        self._observer: BaseObserver | None = None
        self.clock = protocol.SpoolClock(self.layout)  # heartbeat ages on the spool's clock, not this host's

    # --- lifecycle ------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (or an empty queue with `once`); return an exit code."""
        self._install_signals()
        if self.options.watch:
            self._start_watching()
        protocol.write_worker(self.layout, self.worker)  # announced once it is ready to hear new jobs
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        heartbeat.start()
        log.info(
            "worker %s serving %s on %s (watchdog %s, rescan every %.1fs)",
            self.worker.worker_id, self.layout.spool, self.options.device,
            "on" if self._observer else "off", self.options.rescan_s,
        )
        try:
            self._loop()
        finally:
            self.stop_event.set()
            if self._observer is not None:
                self._observer.unschedule_all()  # stops the emitters first: no shutdown race noise
                self._observer.stop()
                self._observer.join(timeout=5)
            heartbeat.join(timeout=5)
            protocol.remove_worker(self.layout, self.worker.worker_id)
            log.info("worker %s stopped", self.worker.worker_id)
        return 0

    def request_stop(self, *_args: object) -> None:
        """Stop soon: the running item is abandoned between frames and its job stays resumable."""
        if not self.stop_event.is_set():
            log.info("stop requested%s", "; the current item goes back to the queue" if self._writer else "")
        self.stop_event.set()
        self.wake.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)

    def _start_watching(self) -> None:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            log.warning("watchdog is not installed; falling back to rescanning every %.1fs", self.options.rescan_s)
            return
        wake = self.wake
        wanted = tuple(str(self.layout.spool_dir(name)) + os.sep for name in ("new", "cancel"))

        class _Wake(FileSystemEventHandler):
            def on_any_event(self, event) -> None:  # noqa: ANN001 - watchdog's event type
                if event.event_type in QUIET_EVENTS:
                    return  # our own reads of a settling file must not wake us again
                paths = (str(event.src_path), str(getattr(event, "dest_path", "") or ""))
                if any(p.startswith(wanted) for p in paths):
                    wake.set()

        # One recursive watch over the whole spool, not one on new/: inotify then pairs the
        # IN_MOVED_FROM of our own claim (new/ -> active/) with its IN_MOVED_TO at once. With
        # new/ alone, watchdog holds each unpaired move-from 0.5 s, and the events behind it.
        observer = Observer()
        observer.schedule(_Wake(), str(self.layout.spool), recursive=True)
        observer.daemon = True
        try:
            observer.start()
        except OSError as exc:  # e.g. inotify watch limit reached
            log.warning("cannot watch %s (%s); rescanning every %.1fs instead", self.layout.spool, exc,
                        self.options.rescan_s)
            return
        self._observer = observer

    def _heartbeat_loop(self) -> None:
        beats = 0
        while not self.stop_event.wait(self.options.heartbeat_s):
            beats += 1
            try:
                if beats % CHECKPOINT_RESCAN_BEATS == 0:  # a checkpoint dropped into models/ shows up without a restart
                    found = _checkpoints(self.layout)
                    if found != self.worker.checkpoints:
                        self.worker.checkpoints = found
                        self.worker.backends = _usable_backends(found)
                protocol.write_worker(self.layout, self.worker)
                writer = self._writer
                if writer is not None:
                    writer.write_if_due(self.options.heartbeat_s)
            except OSError as exc:
                log.warning("heartbeat write failed: %s", exc)

    def _announce(self) -> None:
        """Write the heartbeat now, so the worker list shows a change of state at once."""
        try:
            protocol.write_worker(self.layout, self.worker)
        except OSError as exc:
            log.warning("heartbeat write failed: %s", exc)

    # --- the main loop --------------------------------------------------------------------

    def _loop(self) -> None:
        last_error = ""
        while not self.stop_event.is_set():
            self.wake.clear()
            try:
                worked = self.work_once()
                if last_error:
                    log.info("the spool is usable again")
                last_error = ""
            except Exception as exc:  # e.g. an unreadable spool folder: say it once, keep serving
                error = f"{type(exc).__name__}: {exc}"
                if error != last_error:
                    log.exception("error while handling the spool; retrying every %.1fs", self.options.rescan_s)
                last_error = error
                worked = False
            if self.stop_event.is_set():
                break
            if not worked:
                if self.options.once:
                    break
                self.wake.wait(self.options.rescan_s)

    def work_once(self) -> bool:
        """Do one piece of work if there is one; True if any was done.

        In order: take back what dead workers left (a job being opened, an item being rendered),
        open queued jobs (cheap: their items become tickets), cancel the queued items of cancelled
        jobs, render the oldest queued item, and finish any job whose items are all finished.
        """
        for path in protocol.orphaned_jobs(self.layout, self.options.stale_after_s, self.clock):
            taken = protocol.claim(path, self.layout, self.worker.worker_id)
            if taken is not None:
                log.info("took back job %s from %s", protocol.job_id_of(path), printable(protocol.owner_of(path)))
                self._handle(taken, claimed_at=time.time(), fresh=False)
                return True
        for path in protocol.orphaned_tickets(self.layout, self.options.stale_after_s, self.clock):
            taken = protocol.claim_ticket(path, self.layout, self.worker.worker_id)
            if taken is not None:
                job_id, index = protocol.ticket_of(path)
                log.info("took back job %s item %d from %s", job_id, index + 1, printable(protocol.owner_of(path)))
                self._run_ticket(taken)
                return True
        for path in protocol.queued_files(self.layout):
            if self.stop_event.is_set():
                return False
            if not path.name.endswith(".json"):
                if not protocol.is_settling(path, self.clock):
                    self._reject(path, "not a job file: job files end in .json")
                continue
            if protocol.is_settling(path, self.clock) and _unparsable(path):
                continue  # a hand-copied file still being written: look again at the next scan
            claimed = protocol.claim(path, self.layout, self.worker.worker_id)
            if claimed is None:
                continue  # another daemon won
            self._handle(claimed, claimed_at=time.time(), fresh=True)
            return True
        if self._cancel_queued_items():
            return True
        for path in protocol.queued_tickets(self.layout):
            if self.stop_event.is_set():
                return False
            claimed = protocol.claim_ticket(path, self.layout, self.worker.worker_id)
            if claimed is not None:
                self._run_ticket(claimed)
                return True
        for path in protocol.opened_jobs(self.layout):  # a worker died between its last item and the job's end
            job_id = protocol.job_id_of(path)
            if protocol.conclude_job(self.layout, job_id):
                log.info("job %s finished (its last worker stopped before finishing it)", job_id)
                return True
        return False

    def _handle(self, path: Path, claimed_at: float, fresh: bool) -> None:
        """Validate a claimed job file and open it (queue its items), or reject it with the reason.

        Whatever goes wrong before the job opens rejects or fails it (one log line, a status under
        its id, or under a fresh id when its own belongs to another job); nothing stays in active/.
        """
        allowed = allowed_roots(self.layout.root, self.options.allow_roots)
        try:
            file_id = protocol.job_id_of(path)
            if fresh and is_job_id(file_id):
                where = protocol.existing_job(self.layout, file_id, besides=path)
                if where:
                    raise protocol.DuplicateJob(f"a job with id {file_id} already exists ({where}); rename the file "
                                                "or delete the old job first")
            job = protocol.load_job(path)
            job = protocol.resolve_job_inputs(job, self.layout, allowed)
            job.options = check_job_options(job.options, self.layout, allowed)
        except protocol.InvalidJob as exc:
            self._reject(path, str(exc), duplicate=isinstance(exc, protocol.DuplicateJob))
            return
        except Exception as exc:
            log.debug("reading %s failed", printable(path.name), exc_info=True)
            self._reject(path, f"internal error while reading the job: {type(exc).__name__}: {exc}")
            return
        try:
            self._open_job(path, job, claimed_at)
        except Exception as exc:
            log.exception("job %s could not be opened", job.id)
            self._fail(path, job, f"internal error: {type(exc).__name__}: {exc}")

    def _open_job(self, path: Path, job: Job, claimed_at: float) -> None:
        """Write the job's running status and queue its items as tickets for every worker."""
        try:
            out_dir = self.layout.results / job.id
            out_dir.mkdir(parents=True, exist_ok=True)
            if not out_dir.is_dir():
                raise NotADirectoryError(f"results/{job.id} is not a folder")
        except OSError as exc:
            self._fail(path, job, f"cannot write results to {self.layout.results / job.id}: {exc.strerror or exc}")
            return
        status = protocol.read_status(self.layout, job.id)
        if status is None or len(status.items) != len(job.videos):
            status = protocol.initial_status(job)
        for item, video in zip(status.items, job.videos):
            item.video = video  # as resolved at claim time; progress of a resumed job is kept
        status.claimed_at = claimed_at
        status.name, status.audio = job.name, job.audio
        status.backend = _backend_name(job.options) or status.backend
        states.open_job(status)
        protocol.write_status(self.layout, status)
        protocol.open_job(self.layout, path, job, status)
        log.info("running job %s (%s): %d items", job.id, printable(job.name) or "unnamed", len(job.videos))
        self.wake.set()  # its items are ready now

    def _run_ticket(self, path: Path) -> None:
        """Render one claimed item; then hand its ticket on and finish the job if it was the last."""
        t0 = time.monotonic()
        job_id, index = protocol.ticket_of(path)
        try:
            ticket = protocol.load_ticket(path)
        except protocol.InvalidJob as exc:
            log.error("%s; it is set aside in finished/", exc)
            protocol.finish_ticket(path, self.layout)
            return
        status = protocol.read_status(self.layout, job_id)
        item = status.items[index] if status is not None and index < len(status.items) else None
        if item is None:  # its job's status is gone: the ticket alone says what the item is
            item = ItemStatus(index=index, video=ticket.video, name=Path(ticket.video).name)
        item.video = ticket.video
        ref = WorkerRef(self.worker.worker_id, self.worker.host, self.worker.pid, time.time())
        writer = ItemWriter(self.layout, job_id, item, ref, path)
        allowed = allowed_roots(self.layout.root, self.options.allow_roots)
        runner = ItemRunner(self.layout, ticket, writer, self.options.device, self.stop_event.is_set, allowed)
        self.worker.state, self.worker.current_job, self.worker.item_number = WorkerState.BUSY, job_id, index + 1
        self._announce()
        self._writer = writer
        try:
            outcome = runner.run()
            if outcome is Outcome.FINISHED:
                with writer.lock:
                    item.overhead_s = round(max(0.0, time.monotonic() - t0 - runner.render_s), 4)
                writer.write()
        finally:
            self._writer = None
            self.worker.state, self.worker.current_job, self.worker.item_number = WorkerState.IDLE, "", 0
            self._announce()
        if outcome is Outcome.REQUEUE:
            protocol.requeue_ticket(path, self.layout)
        elif outcome is Outcome.FINISHED and protocol.finish_ticket(path, self.layout) is not None:
            state = protocol.conclude_job(self.layout, job_id)
            if state is not None:
                s = protocol.read_status(self.layout, job_id)
                if s is not None:
                    log.info("job %s %s: %d done, %d failed of %d", job_id, state.value, s.done, s.failed, s.total)
                else:
                    log.info("job %s %s", job_id, state.value)

    def _cancel_queued_items(self) -> bool:
        """Finish the queued items of cancelled jobs as cancelled, without rendering them; True if any."""
        did = False
        for marker in protocol.cancel_markers(self.layout):
            for path in protocol.queued_tickets_of(self.layout, marker):
                claimed = protocol.claim_ticket(path, self.layout, self.worker.worker_id)
                if claimed is not None:
                    self._run_ticket(claimed)  # sees the request at once and finishes it as cancelled
                    did = True
        return did

    def _reject(self, path: Path, reason: str, duplicate: bool = False) -> None:
        """Move a file to rejected/ with its reason and write a rejected status under its own id,
        or under a fresh one when its id is not usable or belongs to another job."""
        reason = one_line(reason)[:2000]
        file_id = protocol.job_id_of(path)
        record_id = file_id
        if duplicate or not is_job_id(file_id):
            record_id = fresh_record_id(file_id, "dup" if duplicate else "bad")
        try:
            moved = protocol.reject(path, self.layout, reason,
                                    as_name=None if record_id == file_id else f"{record_id}.json")
            if moved is not None:
                self._write_rejected_status(record_id, reason)
        except OSError as exc:
            log.error("cannot move %s to rejected/ (%s); it stays where it is", printable(path.name),
                      exc.strerror or exc)

    def _write_rejected_status(self, job_id: str, reason: str) -> None:
        status = protocol.read_status(self.layout, job_id) or JobStatus(job_id=job_id, created=now_iso())
        states.reject_job(status, reason)
        protocol.write_status(self.layout, status)

    def _fail(self, path: Path, job: Job, reason: str) -> None:
        """End a claimed job that could not open: status failed with the reason (every item too),
        file into failed/."""
        reason = one_line(reason)[:2000]
        log.warning("job %s failed: %s", job.id, reason)
        try:
            status = protocol.read_status(self.layout, job.id) or protocol.initial_status(job)
            states.fail_job(status, reason)
            protocol.write_status(self.layout, status)
        except OSError as exc:
            log.warning("cannot write the status of job %s: %s", job.id, exc.strerror or exc)
        try:
            protocol.finish(path, self.layout, JobState.FAILED)
        except OSError as exc:
            log.error("cannot move job %s to failed/ (%s)", job.id, exc.strerror or exc)


def fresh_record_id(file_id: str, tag: str) -> str:
    """A new, unused-looking job id for the record of a file whose own id cannot be used."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", file_id).strip("._-")[:80] or "job"
    return f"{base}.{tag}-{secrets.token_hex(4)}"


def check_job_options(options: dict, layout: Layout, allowed: list[Path]) -> dict:
    """The job's options, checked against the declarations: the engine accepts them and knows their
    backend, folders are the daemon's own and limits the operator's, and every file they name is
    resolved inside the allowed roots (or <root>/models)."""
    checked = check_declared_options(options, layout, allowed)
    check_backend_usable(checked)
    return checked


def check_declared_options(options: dict, layout: Layout, allowed: list[Path]) -> dict:
    """What check_job_options checks short of loading the backend (light: the HTTP API checks a job
    with it before queueing it); InvalidJob with the reason."""
    from engine.backends import check_options as engine_check
    from engine.backends import option_specs
    from engine.errors import EngineError
    from engine.options import DAEMON, DEFAULT_BACKEND, OPERATOR

    backend = str(options.get("backend") or DEFAULT_BACKEND)
    specs = [s for owner, items in option_specs().items() if owner in ("engine", backend) for s in items]
    for spec in specs:
        if spec.name in options and spec.meta.set_by == DAEMON:
            raise protocol.InvalidJob(f'bad options: "{spec.name}" is set by the daemon (it uses the folders under '
                                      f"{layout.root}); leave it out of the job")
        if spec.name in options and spec.meta.set_by == OPERATOR:
            raise protocol.InvalidJob(f'bad options: "{spec.name}" is the daemon\'s limit; its operator sets it with '
                                      f"LIPSPOOL_{spec.name.upper()} where the daemon runs; leave it out of the job")
    checked = dict(options)
    for spec in specs:
        value = checked.get(spec.name)
        if not spec.meta.file or value is None or value == "":
            continue
        if not isinstance(value, str):
            raise protocol.InvalidJob(f'bad options: "{spec.name}" must be a name or a file path')
        if value in spec.meta.names:
            continue
        if spec.meta.in_models and "/" not in value and value not in (".", ".."):
            if (layout.models / value).is_file():
                continue
            raise protocol.InvalidJob(f'bad options: {spec.name} "{printable(value)[:200]}" is not a file in '
                                      f"{layout.models}")
        checked[spec.name] = str(protocol.resolve_input(value, layout.spool_dir("new"), [*allowed, layout.models],
                                                        layout.root))
    try:
        engine_check(checked)
    except EngineError as exc:
        raise protocol.InvalidJob(f"bad options: {exc}") from None
    return checked


def check_backend_usable(options: dict) -> None:
    """Raise InvalidJob unless this machine can run the backend of these (already checked) options."""
    from engine.backends import get_backend
    from engine.errors import EngineError
    from engine.options import DEFAULT_BACKEND

    try:
        get_backend(str(options.get("backend") or DEFAULT_BACKEND))
    except EngineError as exc:
        raise protocol.InvalidJob(f"bad options: {exc}") from None


def _unparsable(path: Path) -> bool:
    """True while a file does not parse as JSON yet (any other fault is found once it is claimed)."""
    try:
        protocol.load_job(path)
    except protocol.UnparsableJob:
        return True
    except Exception:  # noqa: BLE001 - invalid, unreadable, anything: claim it and reject it once
        return False
    return False


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("lipspool")
    except Exception:  # noqa: BLE001 - not installed as a package: a checkout
        return "dev"


def detect_device(requested: str | None) -> str:
    """'cuda' when asked for (or 'auto' and a CUDA GPU is visible to torch), else 'cpu'."""
    if requested in ("cpu", "cuda"):
        return requested
    try:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return "cpu"
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:  # noqa: BLE001 - no usable torch means the CPU
        return "cpu"


def _backend_name(options: dict) -> str:
    """The backend a job's options select (the engine's default when they name none)."""
    from engine.options import RenderOptions

    try:
        return RenderOptions.from_dict(options).backend
    except Exception:  # noqa: BLE001 - bad options are reported when the job is checked
        return str(options.get("backend", ""))


def _usable_backends(checkpoints: list[str]) -> list[str]:
    """The backends this machine can run (published in the heartbeat for the dashboard).

    A backend whose options name a file in <root>/models (wav2lip's checkpoint) counts only when
    the daemon found one there (`checkpoints`): without one every job would fail.
    """
    try:
        from engine import available_backends
        from engine.backends import option_specs

        names = list(available_backends())
        need_model = {owner for owner, specs in option_specs().items() if any(s.meta.in_models for s in specs)}
    except Exception as exc:  # noqa: BLE001 - the daemon runs without this list
        log.warning("could not list the engine's backends: %s", exc)
        return []
    return [name for name in names if checkpoints or name not in need_model]


def _checkpoints(layout: Layout) -> list[str]:
    """Names of the model checkpoints in <root>/models (official names first)."""
    from engine.backends.wav2lip.locate import list_checkpoints

    return [p.name for p in list_checkpoints(layout.models)]

