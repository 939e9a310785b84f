"""Runs one claimed item (a ticket): engine.render of the job's audio onto one presenter, with live status.

Outputs go to results/<job_id>/<NN>_<video stem>.mp4 through a temporary name, with a JPEG
thumbnail beside them. An item whose final output exists is finished and is never rendered
again, so an item taken back after a crash after its rename is not rendered twice.
"""
from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from . import protocol
from .config import Layout
from .inputs import CheckedInputs, InputChanged
from .names import MAX_NAME_BYTES, fit_file_name, one_line, printable, safe_stem
from .records import ItemState, ItemStatus, ItemTicket, WorkerRef
from .states import finish_item, requeue_item, start_item


def file_options() -> list[str]:
    """Names of the declared options that name a file the render reads (engine's and every backend's)."""
    from engine.backends import option_specs

    return sorted({s.name for specs in option_specs().values() for s in specs if s.meta.file})

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 0.5  # an item's record is rewritten at least this often while rendering
CANCEL_POLL_S = 0.1
OWNERSHIP_POLL_S = 2.0
TEMP_NAME_RESERVE = 16  # bytes a temporary sibling adds to a name ('.' + name + '.<8 random>.tmp')


class StopRequested(Exception):
    """The daemon was asked to shut down; the item goes back to the queue."""


class OwnershipLost(Exception):
    """Another worker took the item over (this one looked dead): stop without touching it."""


class Outcome(enum.Enum):
    """How a claimed item ended for this worker."""

    FINISHED = "finished"  # done, failed or cancelled: its ticket goes to finished/
    REQUEUE = "requeue"  # the worker is stopping: the ticket goes back to the queue
    LOST = "lost"  # another worker took it over: leave everything alone


def output_name(index: int, video: str) -> str:
    """The output file name of item `index`: '03_<safe video stem>.mp4', cut by UTF-8 bytes so that
    it, its thumbnail ('.jpg') and their temporary siblings all fit the file system's name limit."""
    return fit_file_name(f"{index + 1:02d}_{safe_stem(Path(video).stem, 'video')}", ".mp4", MAX_NAME_BYTES,
                         reserve=TEMP_NAME_RESERVE)


def part_name(index: int, worker_id: str) -> str:
    """The temporary name an item's output is written under before its rename to `output_name`."""
    return f".{index + 1:02d}.{worker_id}.part"


class ItemWriter:
    """Holds one item's record and writes it atomically while this worker owns the item's ticket;
    thread-safe, so the heartbeat thread can flush it."""

    def __init__(self, layout: Layout, job_id: str, item: ItemStatus, worker: WorkerRef, ticket: Path) -> None:
        self.layout = layout
        self.job_id = job_id
        self.item = item
        self.worker = worker
        self.ticket = ticket
        self.lock = threading.RLock()
        self.last_write = 0.0
        self.lost = False
        self.write_failed = False

    def owned(self) -> bool:
        """True while our claimed ticket exists: a worker that took the item over renamed it."""
        if not self.lost and not self.ticket.exists():
            self.lost = True
        return not self.lost

    def write(self) -> None:
        """Stamp the heartbeat and write the record now (never once the item was taken over)."""
        with self.lock:
            if not self.owned():
                return
            self.worker.heartbeat = time.time()
            self.item.worker = self.worker
            self.last_write = time.monotonic()
            try:
                protocol.write_item(self.layout, self.job_id, self.item)
            except OSError as exc:  # a full or read-only disk: the render goes on, its record catches up later
                if not self.write_failed:
                    log.warning("cannot write the status of job %s item %d (%s); it is written again once the "
                                "disk takes it", self.job_id, self.item.index + 1, exc.strerror or exc)
                self.write_failed = True
            else:
                if self.write_failed:
                    log.info("the status of job %s item %d is written again", self.job_id, self.item.index + 1)
                self.write_failed = False

    def write_if_due(self, interval_s: float = STATUS_INTERVAL_S) -> None:
        """Write if the last write is older than interval_s."""
        if time.monotonic() - self.last_write >= interval_s:
            self.write()


class ItemRunner:
    """Renders one claimed item of a job."""

    def __init__(self, layout: Layout, ticket: ItemTicket, writer: ItemWriter, device: str,
                 should_stop: Callable[[], bool], allowed: list[Path] | None = None) -> None:
        self.layout = layout
        self.ticket = ticket
        self.writer = writer
        self.device = device
        self.should_stop = should_stop
        self.out_dir = layout.results / ticket.job_id
        self.inputs = CheckedInputs(allowed or [])
        self._last_cancel_check = 0.0
        self._last_owner_check = time.monotonic()
        self._cancelled = False
        self.render_s = 0.0

    @property
    def item(self) -> ItemStatus:
        return self.writer.item

    def _engine(self) -> ModuleType:
        import engine  # imported lazily: the daemon starts fast and the dashboard never needs it

        return engine

    def run(self) -> Outcome:
        """Render the item (or find it rendered, or cancelled) and say how it ended for this worker."""
        item, job_id = self.item, self.ticket.job_id
        final = self.out_dir / output_name(item.index, item.video)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return self._fail(f"cannot write results to {self.out_dir}: {exc.strerror or exc}")
        if final.exists():  # rendered and renamed by an owner that died before saying so
            log.info("job %s item %d already rendered, keeping %s", job_id, item.index + 1, printable(final.name))
            with self.writer.lock:
                item.output, item.thumbnail = str(final), str(final.with_suffix(".jpg"))
                finish_item(item, ItemState.DONE)
            self.writer.write()
            return Outcome.FINISHED
        if self._cancel_seen():
            return self._finish(ItemState.CANCELLED, "cancelled by request")
        try:
            self._render(final)
        except StopRequested:
            with self.writer.lock:
                requeue_item(item)
                item.interrupted = True
            self.writer.write()
            log.info("job %s item %d interrupted; it goes back to the queue", job_id, item.index + 1)
            return Outcome.REQUEUE
        except OwnershipLost:
            log.warning("job %s was taken over by another worker; abandoning item %d", job_id, item.index + 1)
            return Outcome.LOST
        except self._engine().RenderCancelled:
            return self._finish(ItemState.CANCELLED, "cancelled by request")
        finally:
            self.inputs.close()
        return Outcome.FINISHED

    def _render(self, final: Path) -> None:
        """Render to a temporary name and rename it to `final`; the item's record says how it went."""
        engine, item, job_id = self._engine(), self.item, self.ticket.job_id
        part = self.out_dir / part_name(item.index, self.writer.worker.worker_id)
        thumb = final.with_suffix(".jpg")
        for leftover in self.out_dir.glob(f".{item.index + 1:02d}.*.part"):
            _remove(leftover)  # from an owner that died mid-item; the item is ours now
        with self.writer.lock:
            start_item(item)
            item.interrupted = False
        self.writer.write()
        started = time.monotonic()
        try:
            audio = self.inputs.open(self.ticket.audio)
            video = self.inputs.open(item.video)
            options = {"device": self.device, **self.ticket.options, "cache_dir": str(self.layout.cache),
                       "models_dir": str(self.layout.models)}  # the daemon's folders; a job may not name its own
            for key in file_options():
                value = options.get(key)
                if isinstance(value, str) and os.path.isabs(value):
                    options[key] = str(self.inputs.open(value))
            self._check_template(video, options, self._progress(started))
            result = engine.render(audio, video, part, options, self._progress(started))
            engine.write_thumbnail(part, thumb)
            os.replace(part, final)
        except (StopRequested, OwnershipLost, engine.RenderCancelled):
            _remove(part)
            raise
        except (engine.EngineError, InputChanged) as exc:
            _remove(part)
            self._fail(str(exc))
            return
        except OSError as exc:  # a full or read-only disk, a vanished folder: this item fails, the next may work
            _remove(part)
            self._fail(f"cannot write the output: {exc.strerror or exc}"
                       f"{f' ({printable(str(exc.filename))[-200:]})' if exc.filename else ''}")
            return
        except Exception as exc:  # a bug must fail the item, never the daemon
            _remove(part)
            log.exception("job %s item %d (%s) crashed", job_id, item.index + 1, printable(item.name))
            self._finish(ItemState.FAILED, f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])
            return
        finally:
            self.render_s += time.monotonic() - started
        with self.writer.lock:
            item.output, item.thumbnail = str(final), str(thumb)
            item.duration_s = float(getattr(result, "duration_s", 0.0) or 0.0)
            item.render_s = round(time.monotonic() - started, 3)
            item.eta_s = None
        self._finish(ItemState.DONE, "")
        log.info("job %s item %d/%d done: %s (%.1fs)", job_id, item.index + 1, self.ticket.total,
                 printable(final.name), item.render_s)

    def _fail(self, reason: str) -> Outcome:
        """Mark the item failed with a one-line reason (the job goes on with its other items)."""
        reason = one_line(reason)
        log.warning("job %s item %d (%s) failed: %s", self.ticket.job_id, self.item.index + 1,
                    printable(self.item.name), reason)
        return self._finish(ItemState.FAILED, reason)

    def _finish(self, state: ItemState, error: str) -> Outcome:
        with self.writer.lock:
            finish_item(self.item, state, error)
            self.item.eta_s = None
        self.writer.write()
        return Outcome.FINISHED

    def _check_template(self, video: Path, options: dict, progress: Callable[[str, float], None]) -> None:
        """Put the engine's template check of the item's video into its record; a failure is only logged.

        It runs with the render's options, so the face track it computes lands in the render's cache
        folder and the render reads it back instead of tracking the faces again.
        """
        engine, item, job_id = self._engine(), self.item, self.ticket.job_id
        try:
            from engine.template_check import check_before_render

            report = check_before_render(video, options, progress)
        except (StopRequested, OwnershipLost, engine.RenderCancelled):
            raise
        except Exception as exc:  # noqa: BLE001 - the check only informs: it never fails the item
            log.warning("job %s item %d (%s): template check failed, rendering anyway: %s: %s", job_id,
                        item.index + 1, printable(item.name), type(exc).__name__, printable(str(exc))[:300])
            return
        with self.writer.lock:
            item.template_check = report.to_dict()
        self.writer.write()
        log.info("job %s item %d (%s): template %s%s", job_id, item.index + 1, printable(item.name),
                 report.verdict.value, "".join(f"; {a['en']}" for a in report.advice))

    def _progress(self, started: float) -> Callable[[str, float], None]:
        engine = self._engine()

        def progress(stage: str, fraction: float) -> None:
            if self.should_stop():
                raise StopRequested()
            if self._cancel_seen():
                raise engine.RenderCancelled("cancelled by request")
            self._check_ownership()
            with self.writer.lock:
                self.item.stage = stage
                self.item.progress = max(0.0, min(1.0, float(fraction)))
                self.item.eta_s = _eta(self.item.progress, time.monotonic() - started)
            self.writer.write_if_due()

        return progress

    def _cancel_seen(self) -> bool:
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= CANCEL_POLL_S:
            self._last_cancel_check = now
            self._cancelled = protocol.cancel_requested(self.layout, self.ticket.job_id)
        return self._cancelled

    def _check_ownership(self) -> None:
        """Raise OwnershipLost when our claimed ticket is gone (renamed by a worker that took over)."""
        now = time.monotonic()
        if now - self._last_owner_check >= OWNERSHIP_POLL_S:
            self._last_owner_check = now
            self.writer.owned()
        if self.writer.lost:
            raise OwnershipLost()


def _eta(progress: float, elapsed: float) -> float | None:
    """Seconds this item still needs at its rate so far (None before there is a rate)."""
    if progress < 0.02 or elapsed < 0.5:
        return None
    return round(elapsed * (1 - progress) / progress, 1)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
