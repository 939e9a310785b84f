"""Runs one claimed job: its items one after another through engine.render, with live status.

Outputs go to results/<job_id>/<NN>_<video stem>.mp4 through a temporary name, with a JPEG
thumbnail beside them. An item whose final output exists is finished and is never rendered
again, so a job resumed after a crash picks up at its first unfinished item.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from . import protocol
from .config import Layout
from .inputs import CheckedInputs, InputChanged
from .names import MAX_NAME_BYTES, fit_file_name, printable, safe_stem
from .records import ItemState, ItemStatus, Job, JobState, JobStatus, WorkerRef, now_iso

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 0.5  # status is rewritten at least this often while rendering
CANCEL_POLL_S = 0.1
OWNERSHIP_POLL_S = 2.0


class StopRequested(Exception):
    """The daemon was asked to shut down; the job stays resumable."""


class OwnershipLost(Exception):
    """Another worker took the job over (this one looked dead): stop without touching it."""


TEMP_NAME_RESERVE = 16  # bytes a temporary sibling adds to a name ('.' + name + '.<8 random>.tmp')
JOB_PATH_OPTIONS = ("checkpoint", "mouth_model")  # options naming a file the render reads


def output_name(index: int, video: str) -> str:
    """The output file name of item `index`: '03_<safe video stem>.mp4', cut by UTF-8 bytes so that
    it, its thumbnail ('.jpg') and their temporary siblings all fit the file system's name limit."""
    return fit_file_name(f"{index + 1:02d}_{safe_stem(Path(video).stem, 'video')}", ".mp4", MAX_NAME_BYTES,
                         reserve=TEMP_NAME_RESERVE)


def part_name(index: int, worker_id: str) -> str:
    """The temporary name an item's output is written under before its rename to `output_name`."""
    return f".{index + 1:02d}.{worker_id}.part"


class StatusWriter:
    """Holds a job's status and writes it atomically; thread-safe, so heartbeats can flush it."""

    def __init__(self, layout: Layout, status: JobStatus, worker: WorkerRef, job_file: Path) -> None:
        self.layout = layout
        self.status = status
        self.worker = worker
        self.job_file = job_file
        self.lock = threading.RLock()
        self.last_write = 0.0
        self.lost = False
        self.write_failed = False

    def owned(self) -> bool:
        """True while our active/ file exists: a worker that took the job over renamed it."""
        if not self.lost and not self.job_file.exists():
            self.lost = True
        return not self.lost

    def write(self) -> None:
        """Recount, stamp the heartbeat and write now (never once the job was taken over)."""
        with self.lock:
            if not self.owned():
                return
            self.status.recount()
            self.worker.heartbeat = time.time()
            self.status.worker = self.worker
            self.status.updated = now_iso()
            self.last_write = time.monotonic()
            try:
                protocol.write_status(self.layout, self.status)
            except OSError as exc:  # a full or read-only disk: the job goes on, its status catches up later
                if not self.write_failed:
                    log.warning("cannot write the status of job %s (%s); it is written again once the disk "
                                "takes it", self.status.job_id, exc.strerror or exc)
                self.write_failed = True
            else:
                if self.write_failed:
                    log.info("the status of job %s is written again", self.status.job_id)
                self.write_failed = False

    def write_if_due(self, interval_s: float = STATUS_INTERVAL_S) -> None:
        """Write if the last write is older than interval_s."""
        if time.monotonic() - self.last_write >= interval_s:
            self.write()


class JobRunner:
    """Runs the items of one claimed job."""

    def __init__(
        self,
        layout: Layout,
        job: Job,
        writer: StatusWriter,
        device: str,
        should_stop: Callable[[], bool],
        allowed: list[Path] | None = None,
    ) -> None:
        self.layout = layout
        self.job = job
        self.writer = writer
        self.device = device
        self.should_stop = should_stop
        self.out_dir = layout.results / job.id
        self._last_cancel_check = 0.0
        self._last_owner_check = time.monotonic()
        self._cancelled = False
        self.render_s = 0.0
        self.inputs = CheckedInputs(allowed or [])
        self.audio: Path | None = None

    @property
    def status(self) -> JobStatus:
        return self.writer.status

    def run(self) -> JobState | None:
        """Run every unfinished item; return the final state, INTERRUPTED, or None if taken over."""
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if not self.out_dir.is_dir():
                raise NotADirectoryError(f"results/{self.job.id} is not a folder")
        except OSError as exc:
            return self.fail_job(f"cannot write results to {self.out_dir}: {exc.strerror or exc}")
        with self.writer.lock:
            self.status.state = JobState.RUNNING
            self.status.started = self.status.started or now_iso()
            self.status.message = ""
            self._adopt_finished_outputs()
        self.writer.write()
        try:
            self.audio = self.inputs.open(self.job.audio)
        except InputChanged as exc:
            return self.fail_job(f"the audio cannot be used: {exc}")
        try:
            return self._run_items()
        finally:
            self.inputs.close()

    def fail_job(self, reason: str) -> JobState:
        """End the job as failed with one reason: every unfinished item fails with it."""
        reason = printable(" ".join(reason.split()))
        log.warning("job %s failed: %s", self.job.id, reason)
        with self.writer.lock:
            for item in self.status.items:
                if item.state not in (ItemState.DONE, ItemState.FAILED):
                    item.state, item.error, item.finished = ItemState.FAILED, reason, now_iso()
            self.status.recount()
            self.status.state = JobState.FAILED if self.status.done == 0 else JobState.DONE_WITH_FAILURES
            self.status.message = reason
            self.status.current_item = ""
            self.status.eta_s = 0.0
            self.status.finished = now_iso()
        return self.status.state

    def _run_items(self) -> JobState | None:
        for item in self.status.items:
            if item.state == ItemState.DONE:
                continue
            if not self.writer.owned():
                return None
            if self._cancel_seen():
                break
            if self.should_stop():
                return self._interrupt()
            try:
                self._run_item(item)
            except StopRequested:
                return self._interrupt(item)
            except OwnershipLost:
                log.warning("job %s was taken over by another worker; abandoning item %d", self.job.id,
                            item.index + 1)
                return None
            except self._engine().RenderCancelled:
                self._mark(item, ItemState.CANCELLED, "cancelled by request")
                break
        return self._conclude()

    # --- one item -------------------------------------------------------------------------

    def _engine(self):
        import engine  # imported lazily: the daemon starts fast and the dashboard never needs it

        return engine

    def _run_item(self, item: ItemStatus) -> None:
        engine = self._engine()
        final = self.out_dir / output_name(item.index, item.video)
        part = self.out_dir / part_name(item.index, self.writer.worker.worker_id)
        thumb = final.with_suffix(".jpg")
        for leftover in self.out_dir.glob(f".{item.index + 1:02d}.*.part"):
            _remove(leftover)  # from an owner that died mid-item; the job is ours now
        with self.writer.lock:
            item.state, item.stage, item.progress, item.error = ItemState.RUNNING, "starting", 0.0, ""
            item.started = now_iso()
            self.status.current_item = item.name
        self.writer.write()
        started = time.monotonic()
        opened: list[Path] = []
        try:
            video = self.inputs.open(item.video)
            opened.append(video)
            options = {"device": self.device, **self.job.options, "cache_dir": str(self.layout.cache),
                       "models_dir": str(self.layout.models)}  # the daemon's folders; a job may not name its own
            for key in JOB_PATH_OPTIONS:
                value = options.get(key)
                if isinstance(value, str) and os.path.isabs(value):
                    options[key] = str(self.inputs.open(value))
                    opened.append(Path(options[key]))
            self._check_template(item, video, options, self._progress_for(item, started))
            result = engine.render(self.audio, video, part, options, self._progress_for(item, started))
            engine.write_thumbnail(part, thumb)
            os.replace(part, final)
        except (StopRequested, OwnershipLost, engine.RenderCancelled):
            _remove(part)
            raise
        except (engine.EngineError, InputChanged) as exc:
            _remove(part)
            self._fail_item(item, str(exc))
            return
        except OSError as exc:  # a full or read-only disk, a vanished folder: this item fails, the next may work
            _remove(part)
            self._fail_item(item, f"cannot write the output: {exc.strerror or exc}"
                                  f"{f' ({printable(str(exc.filename))[-200:]})' if exc.filename else ''}")
            return
        except Exception as exc:  # a bug must fail the item, never the daemon
            _remove(part)
            log.exception("job %s item %d (%s) crashed", self.job.id, item.index + 1, printable(item.name))
            self._mark(item, ItemState.FAILED, f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])
            return
        finally:
            self.render_s += time.monotonic() - started
            for path in opened:
                self.inputs.release(path)
        with self.writer.lock:
            item.output, item.thumbnail = str(final), str(thumb)
            item.duration_s = float(getattr(result, "duration_s", 0.0) or 0.0)
            item.render_s = round(time.monotonic() - started, 3)
        self._mark(item, ItemState.DONE, "")
        log.info("job %s item %d/%d done: %s (%.1fs)", self.job.id, item.index + 1, len(self.status.items),
                 printable(final.name), item.render_s)

    def _fail_item(self, item: ItemStatus, reason: str) -> None:
        """Mark one item failed with a one-line reason (the job goes on with its other items)."""
        reason = printable(" ".join(reason.split()))
        log.warning("job %s item %d (%s) failed: %s", self.job.id, item.index + 1, printable(item.name), reason)
        self._mark(item, ItemState.FAILED, reason)

    def _check_template(self, item: ItemStatus, video: Path, options: dict,
                        progress: Callable[[str, float], None]) -> None:
        """Put the engine's template check of the item's video into its status; a failure is only logged.

        It runs with the render's options, so the face track it computes lands in the render's cache
        folder and the render reads it back instead of tracking the faces again.
        """
        engine = self._engine()
        try:
            from engine.template_check import check_before_render

            report = check_before_render(video, options, progress)
        except (StopRequested, OwnershipLost, engine.RenderCancelled):
            raise
        except Exception as exc:  # the check only informs: it never fails the item
            log.warning("job %s item %d (%s): template check failed, rendering anyway: %s: %s", self.job.id,
                        item.index + 1, printable(item.name), type(exc).__name__, printable(str(exc))[:300])
            return
        with self.writer.lock:
            item.template_check = report.to_dict()
        self.writer.write()
        log.info("job %s item %d (%s): template %s%s", self.job.id, item.index + 1, printable(item.name),
                 report.verdict.value,
                 "".join(f"; {a['en']}" for a in report.advice))

    def _progress_for(self, item: ItemStatus, started: float) -> Callable[[str, float], None]:
        engine = self._engine()

        def progress(stage: str, fraction: float) -> None:
            if self.should_stop():
                raise StopRequested()
            if self._cancel_seen():
                raise engine.RenderCancelled("cancelled by request")
            self._check_ownership()
            with self.writer.lock:
                item.stage = stage
                item.progress = max(0.0, min(1.0, float(fraction)))
                self.status.eta_s = self._eta(item, started)
            self.writer.write_if_due()

        return progress

    def _eta(self, item: ItemStatus, started: float) -> float | None:
        """Seconds left: this item's rate, plus the mean item time for those still queued."""
        elapsed = time.monotonic() - started
        if item.progress < 0.02 or elapsed < 0.5:
            return None
        this_left = elapsed * (1 - item.progress) / item.progress
        finished = [it.render_s for it in self.status.items if it.state == ItemState.DONE and it.render_s]
        per_item = sum(finished) / len(finished) if finished else elapsed / item.progress
        waiting = sum(1 for it in self.status.items if it.state == ItemState.QUEUED)
        return round(this_left + waiting * per_item, 1)

    def _cancel_seen(self) -> bool:
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= CANCEL_POLL_S:
            self._last_cancel_check = now
            self._cancelled = protocol.cancel_requested(self.layout, self.job.id)
        return self._cancelled

    def _check_ownership(self) -> None:
        """Raise OwnershipLost when our active/ file is gone (renamed by a worker that took over)."""
        now = time.monotonic()
        if now - self._last_owner_check >= OWNERSHIP_POLL_S:
            self._last_owner_check = now
            self.writer.owned()
        if self.writer.lost:
            raise OwnershipLost()

    def _mark(self, item: ItemStatus, state: ItemState, error: str) -> None:
        with self.writer.lock:
            item.state, item.error = state, error
            item.finished = now_iso()
            if state == ItemState.DONE:
                item.progress, item.stage = 1.0, "done"
        self.writer.write()

    def _adopt_finished_outputs(self) -> None:
        """Count an item done when its final output exists (a crash after its rename)."""
        for item in self.status.items:
            final = self.out_dir / output_name(item.index, item.video)
            if final.exists():
                if item.state != ItemState.DONE:
                    log.info("job %s item %d already rendered, keeping %s", self.job.id, item.index + 1, final.name)
                item.state, item.progress, item.stage = ItemState.DONE, 1.0, "done"
                item.output, item.thumbnail = str(final), str(final.with_suffix(".jpg"))
            elif item.state != ItemState.FAILED:
                item.state, item.progress, item.stage, item.output = ItemState.QUEUED, 0.0, "", ""

    # --- the end of a run -----------------------------------------------------------------

    def _interrupt(self, item: ItemStatus | None = None) -> JobState:
        with self.writer.lock:
            if item is not None:
                item.state, item.stage, item.progress = ItemState.QUEUED, "", 0.0
            self.status.state = JobState.INTERRUPTED
            self.status.current_item = ""
            self.status.eta_s = None
            self.status.message = "the worker stopped; the job resumes when a worker starts"
        self.writer.write()
        log.info("job %s interrupted; it stays in active/ to resume", self.job.id)
        return JobState.INTERRUPTED

    def _conclude(self) -> JobState:
        cancelled = self._cancel_seen()
        with self.writer.lock:
            for item in self.status.items:
                if cancelled and item.state in (ItemState.QUEUED, ItemState.RUNNING):
                    item.state, item.error = ItemState.CANCELLED, "cancelled by request"
            self.status.recount()
            if cancelled:
                state = JobState.CANCELLED
            elif self.status.done == self.status.total:
                state = JobState.DONE
            elif self.status.done == 0:
                state = JobState.FAILED
            else:
                state = JobState.DONE_WITH_FAILURES
            self.status.state = state
            self.status.current_item = ""
            self.status.eta_s = 0.0
            self.status.finished = now_iso()
            if state == JobState.FAILED:
                self.status.message = "every item failed"
            elif state == JobState.DONE_WITH_FAILURES:
                self.status.message = f"{self.status.failed} of {self.status.total} items failed"
        return state


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
