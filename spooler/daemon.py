"""The spooler daemon: watch new/, claim jobs one at a time, run them, survive crashes.

One render at a time per daemon, so a GPU is never oversubscribed; run one daemon per GPU (or per
machine on a shared folder) to go wider. The watchdog observer wakes the loop as soon as a
job lands in new/; a periodic rescan finds jobs on file systems where inotify does not fire.
"""
from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import protocol
from .config import Layout, allowed_roots
from .records import Job, JobState, JobStatus, WorkerInfo, WorkerRef, now_iso
from .runner import JobRunner, StatusWriter

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
        self._writer: StatusWriter | None = None
        self._observer = None

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
            log.info("stop requested%s", "; the current job stays resumable" if self._writer else "")
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

    # --- the main loop --------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            self.wake.clear()
            try:
                worked = self.work_once()
            except Exception:  # e.g. a full disk: log it, keep serving
                log.exception("error while handling the spool; retrying in %.1fs", self.options.rescan_s)
                worked = False
            if self.stop_event.is_set():
                break
            if not worked:
                if self.options.once:
                    break
                self.wake.wait(self.options.rescan_s)

    def work_once(self) -> bool:
        """Run one job if there is one (orphans first, then the oldest queued); True if any ran."""
        for path in protocol.orphaned_jobs(self.layout, self.options.stale_after_s):
            taken = protocol.claim(path, self.layout, self.worker.worker_id)
            if taken is not None:
                log.info("took back job %s from %s", protocol.job_id_of(path), protocol.owner_of(path))
                self._handle(taken, claimed_at=time.time())
                return True
        for path in protocol.queued_files(self.layout):
            if self.stop_event.is_set():
                return False
            if not path.name.endswith(".json"):
                if not protocol.is_settling(path):
                    protocol.reject(path, self.layout, "not a job file: job files end in .json")
                continue
            if protocol.is_settling(path) and _unparsable(path):
                continue  # a hand-copied file still being written: look again at the next scan
            claimed = protocol.claim(path, self.layout, self.worker.worker_id)
            if claimed is None:
                continue  # another daemon won
            self._handle(claimed, claimed_at=time.time())
            return True
        return False

    def _handle(self, path: Path, claimed_at: float) -> None:
        """Validate and run a claimed job file, or reject it with the reason."""
        t0 = time.monotonic()
        try:
            job = protocol.load_job(path)
            job = protocol.resolve_job_inputs(job, self.layout, allowed_roots(self.layout.root, self.options.allow_roots))
            check_options(job.options)
        except protocol.InvalidJob as exc:
            protocol.reject(path, self.layout, str(exc))
            self._write_rejected_status(protocol.job_id_of(path), str(exc))
            return
        self._run_job(path, job, claimed_at, t0)

    def _write_rejected_status(self, job_id: str, reason: str) -> None:
        status = protocol.read_status(self.layout, job_id) or JobStatus(job_id=job_id, created=now_iso())
        status.state = JobState.REJECTED
        status.message = reason
        status.finished = status.updated = now_iso()
        protocol.write_status(self.layout, status)

    def _run_job(self, path: Path, job: Job, claimed_at: float, t0: float) -> None:
        status = protocol.read_status(self.layout, job.id)
        if status is None or len(status.items) != len(job.videos):
            status = protocol.initial_status(job)
        for item, video in zip(status.items, job.videos):
            item.video = video  # as resolved at claim time; progress of a resumed job is kept
        status.claimed_at = claimed_at
        status.name, status.audio = job.name, job.audio
        status.backend = _backend_name(job.options) or status.backend
        ref = WorkerRef(self.worker.worker_id, self.worker.host, self.worker.pid, time.time())
        writer = StatusWriter(self.layout, status, ref, path)
        runner = JobRunner(self.layout, job, writer, self.options.device, self.stop_event.is_set)
        self.worker.state, self.worker.current_job = "busy", job.id
        self._writer = writer
        log.info("running job %s (%s): %d items", job.id, job.name or "unnamed", len(job.videos))
        try:
            state = runner.run()
        finally:
            self._writer = None
            self.worker.state, self.worker.current_job = "idle", ""
        if state in (JobState.INTERRUPTED, None):
            return
        with writer.lock:
            status.overhead_s = round(max(0.0, time.monotonic() - t0 - runner.render_s), 4)
        writer.write()
        try:
            protocol.finish(path, self.layout, state)
        except FileNotFoundError:
            log.warning("job %s was taken over by another worker before it finished here", job.id)
            return
        protocol.clear_cancel(self.layout, job.id)
        log.info("job %s %s: %d done, %d failed of %d", job.id, state.value, status.done, status.failed, status.total)


def check_options(options: dict) -> None:
    """Raise InvalidJob unless the engine accepts these options and knows their backend."""
    from engine.backends import get_backend
    from engine.errors import EngineError
    from engine.options import RenderOptions

    try:
        get_backend(RenderOptions.from_dict(options).backend)
    except EngineError as exc:
        raise protocol.InvalidJob(f"bad options: {exc}") from None


def _unparsable(path: Path) -> bool:
    try:
        protocol.load_job(path)
    except protocol.UnparsableJob:
        return True
    except (protocol.InvalidJob, OSError):
        return False
    return False


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("lipspool")
    except Exception:
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
    except Exception:
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

    wav2lip counts only with a checkpoint in <root>/models (`checkpoints`): without one every job would fail.
    """
    try:
        from engine import available_backends

        names = list(available_backends())
    except Exception as exc:  # noqa: BLE001 - the daemon runs without this list
        log.warning("could not list the engine's backends: %s", exc)
        return []
    if "wav2lip" in names and not checkpoints:
        names.remove("wav2lip")
    return names


def _checkpoints(layout: Layout) -> list[str]:
    """Names of the model checkpoints in <root>/models (official names first)."""
    from engine.backends.wav2lip.locate import list_checkpoints

    return [p.name for p in list_checkpoints(layout.models)]

