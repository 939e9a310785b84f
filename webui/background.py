"""Small periodic chores of the dashboard process (one daemon thread each, started once per process)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

_threads: dict[str, threading.Thread] = {}
_lock = threading.Lock()


def every(name: str, interval_s: float, task: Callable[[], object]) -> bool:
    """Run `task` now and then every `interval_s` seconds for the life of the process; False if `name` runs already."""
    with _lock:
        running = _threads.get(name)
        if running is not None and running.is_alive():
            return False
        thread = threading.Thread(target=_loop, args=(name, interval_s, task), name=f"lipspool-{name}", daemon=True)
        _threads[name] = thread
        thread.start()
        return True


def _loop(name: str, interval_s: float, task: Callable[[], object]) -> None:
    while True:
        try:
            task()
        except Exception:
            log.exception("background task %s failed", name)
        time.sleep(interval_s)
