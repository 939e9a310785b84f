"""Failed attempts cost time: a per-client count of failures with a growing wait.

The first `free` failures cost nothing; each one after that locks the client out for twice as
long as the one before (10 s, 20 s, 40 s, ... up to 10 minutes by default), and while it is
locked out its attempts are refused without being checked. An attempt counts as a failure from
the moment it is let through (`attempt`) until it proves right (`success`), so many tries at
once get no more chances than one. A client that has not failed for `forget_s` starts again
from zero. The dashboard's password gate (webui.throttle) and the HTTP API's bearer tokens
(api.auth) each keep one per process.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class Throttle:
    """Failed attempts per client and the wait they cost; thread-safe, with an injectable clock."""

    def __init__(self, free: int = 2, first_wait_s: float = 10.0, max_wait_s: float = 600.0,
                 forget_s: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.first_wait_s, self.max_wait_s, self.forget_s = free, first_wait_s, max_wait_s, forget_s
        self.clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def delay_after(self, failures: int) -> float:
        """The lockout that the `failures`-th failure in a row earns (0 while still free)."""
        if failures <= self.free:
            return 0.0
        return min(self.max_wait_s, self.first_wait_s * 2.0 ** min(failures - self.free - 1, 32))

    def wait_left(self, client: str) -> float:
        """Seconds until `client` may try again (0 when it may try now)."""
        with self._lock:
            record = self._records.get(client)
            return max(0.0, record.locked_until - self.clock()) if record else 0.0

    def attempt(self, client: str) -> float:
        """Ask to check a secret from `client`: 0 lets it through (counted as a failure until `success`),
        else the seconds it must still wait (nothing is counted)."""
        with self._lock:
            now = self.clock()
            self._forget(now)
            record = self._records.setdefault(client, _Record())
            if record.locked_until > now:
                return record.locked_until - now
            record.failures += 1
            record.last_failure = now
            record.locked_until = now + self.delay_after(record.failures)
            return 0.0

    def success(self, client: str) -> None:
        """Forget `client`'s failures (its attempt was right)."""
        with self._lock:
            self._records.pop(client, None)

    def reset(self) -> None:
        """Forget every client (tests)."""
        with self._lock:
            self._records.clear()

    def _forget(self, now: float) -> None:
        stale = [c for c, r in self._records.items()
                 if now - r.last_failure > self.forget_s and r.locked_until <= now]
        for client in stale:
            del self._records[client]
