"""prefetch(): run an iterator in a background thread so decoding overlaps with encoding."""
from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_ITEM, _ERROR, _END = 0, 1, 2


def prefetch(source: Iterator[T], depth: int = 4, name: str = "prefetch") -> Iterator[T]:
    """Yield source's items, produced up to `depth` ahead by a worker thread.

    PyAV releases the GIL while decoding and converting pixels, so this overlaps the input
    decoder with the encoder. Errors in the worker are re-raised here; closing this generator
    (or an error in the consumer) stops the worker, which then closes `source` itself. The worker
    runs in a copy of the caller's context, so settings such as the active input limits carry over.
    """
    if depth <= 0:
        yield from source
        return
    q: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[int, object]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in source:
                if not put((_ITEM, item)):
                    return
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put((_ERROR, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(work,), name=name, daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == _ITEM:
                yield value  # type: ignore[misc]
            elif kind == _ERROR:
                raise value  # type: ignore[misc]
            else:
                return
    finally:
        stop.set()
        worker.join(timeout=30)
