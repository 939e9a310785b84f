"""Logging for the daemon: one realtime log under <root>/logs/ that `tail -F` follows, plus stderr.

Several daemons may share one root, so rotation is guarded by an flock and every writer
notices when another one rotated the file (its inode changed) and reopens it.
"""
from __future__ import annotations

import fcntl
import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from .names import printable

FORMAT = "%(asctime)s %(levelname)-7s [%(process)d] %(name)s: %(message)s"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


class SharedRotatingFileHandler(logging.Handler):
    """Append to `path`, rotating to path.1 .. path.N by size; safe across processes."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        super().__init__()
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.path.with_name("." + self.path.name + ".lock")
        self._stream: TextIO | None = None
        self._inode = -1

    def _open(self) -> TextIO:
        if self._stream is not None:
            self._stream.close()
        # the handler's stream, reopened when the file is rotated
        self._stream = stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._inode = os.fstat(stream.fileno()).st_ino
        return stream

    def _rotate(self) -> None:
        for i in range(self.backups - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            with open(self._lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    st = os.stat(self.path) if self.path.exists() else None
                    if st is not None and st.st_size + len(line) > self.max_bytes:
                        self._rotate()
                        st = None
                    stream = self._stream
                    if stream is None or st is None or st.st_ino != self._inode:
                        stream = self._open()
                    stream.write(line)
                    stream.flush()
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        except Exception:  # noqa: BLE001 - logging must never take the daemon down
            self.handleError(record)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        super().close()


class OneLineFormatter(logging.Formatter):
    """The standard format, with the message's control characters (newlines, terminal escapes)
    written as visible escapes: a name can never forge a log line. A traceback, which comes from
    the daemon itself, keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:  # noqa: ANN001 - logging's signature
        return "\n".join(printable(line) for line in super().formatException(ei).split("\n"))


def setup_logging(log_file: Path, level: int = logging.INFO) -> None:
    """Send the root logger to the shared log file and to stderr."""
    fmt = OneLineFormatter(FORMAT)
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = SharedRotatingFileHandler(log_file)
    file_handler.setFormatter(fmt)
    stderr_handler = logging.StreamHandler(sys.stderr)
    stderr_handler.setFormatter(fmt)
    root.addHandler(file_handler)
    root.addHandler(stderr_handler)
    logging.getLogger("watchdog").setLevel(logging.WARNING)
