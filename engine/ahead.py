"""Ahead: work out one value in a background thread while the caller does something else.

A render prepares two independent things before its first frame: the face track of the
presenter (the tracker's C++ code and the decoder release the GIL) and the mouth targets of the
new audio (FFTs and the phone recogniser do too). On a machine with two or more cores they
overlap. The background work reports progress through a callable it is given; that only records
the latest report, which the caller passes on to the real progress callback while it waits, so
a cancel raised there (RenderCancelled) stops both threads and progress stages never interleave.
"""
from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
Report = Callable[[str, float], None]


class Stopped(Exception):
    """Raised inside the background work when its caller gave up on it."""


class Ahead(Generic[T]):
    """`work(report)` running in a thread from construction; `result(progress)` waits for it."""

    def __init__(self, work: Callable[[Report], T], name: str = "ahead") -> None:
        self._stop = threading.Event()
        self._done = threading.Event()
        self._latest: tuple[str, float] | None = None
        self._value: T | None = None
        self._error: BaseException | None = None
        context = contextvars.copy_context()  # settings such as the active input limits carry over
        self._thread = threading.Thread(target=context.run, args=(self._run, work), name=name, daemon=True)
        self._thread.start()

    def _report(self, stage: str, fraction: float) -> None:
        if self._stop.is_set():
            raise Stopped()
        self._latest = (stage, fraction)

    def _run(self, work: Callable[[Report], T]) -> None:
        try:
            self._value = work(self._report)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who re-raises it
            self._error = exc
        finally:
            self._done.set()

    def result(self, progress: Report | None = None, poll_s: float = 0.2) -> T:
        """The value (or the work's exception); passes the work's latest report to `progress` while waiting.
        If `progress` raises, the work is stopped and the exception propagates."""
        try:
            while not self._done.wait(poll_s):
                if progress is not None and self._latest is not None:
                    progress(*self._latest)
        except BaseException:
            self.cancel()
            raise
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def cancel(self) -> None:
        """Stop the work at its next report and wait for the thread to end."""
        self._stop.set()
        self._thread.join()
