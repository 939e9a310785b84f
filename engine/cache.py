"""Per-video analysis cache: entries keyed by a video's content hash, safe across processes.

Layout: <root>/<key[:2]>/<key>/<name> plus <name>.lock. One process computes an entry while
others wait on the lock (fcntl.flock) and then load it; entries are written to a temporary
name and renamed into place, so a reader never sees half a file. An unreadable entry is
recomputed. Put a version in `name` (e.g. "faces-s1-v3.npz") so a new analysis ignores old ones.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .errors import EngineError

log = logging.getLogger(__name__)

T = TypeVar("T")
CHUNK = 1 << 20
_keys: dict[tuple[str, int, int, int], str] = {}
_keys_lock = threading.Lock()


class CacheError(EngineError):
    """The cache folder cannot be used (not writable, not a folder)."""


def content_key(path: str | os.PathLike[str]) -> str:
    """Hex blake2b-160 of the file's bytes (memoised per path, size, mtime and inode in this process)."""
    p = Path(path)
    st = p.stat()
    memo = (str(p.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    with _keys_lock:
        if memo in _keys:
            return _keys[memo]
    h = hashlib.blake2b(digest_size=20)
    with open(p, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    key = h.hexdigest()
    with _keys_lock:
        _keys[memo] = key
    return key


def _check_part(text: str, what: str) -> str:
    if not text or "/" in text or "\\" in text or text.startswith(".") or "\0" in text:
        raise ValueError(f"cache {what} {text!r} must be a plain file name")
    return text


class AnalysisCache:
    """A folder of analysis results keyed by (content key, entry name)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, key: str, name: str) -> Path:
        """Where entry `name` of content `key` lives (the file may not exist)."""
        _check_part(key, "key")
        _check_part(name, "entry name")
        return self.root / key[:2] / key / name

    def load(self, key: str, name: str, loader: Callable[[Path], T]) -> T | None:
        """The stored entry, or None when missing or unreadable (unreadable ones are logged)."""
        path = self.path_for(key, name)
        if not path.is_file():
            return None
        try:
            return loader(path)
        except Exception as exc:  # noqa: BLE001 - any failure to read means: compute it again
            log.warning("cache entry %s is unreadable (%s: %s); recomputing it", path, type(exc).__name__, exc)
            return None

    @contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path.with_name(path.name + ".lock"), "a+b")  # noqa: SIM115 - held open for the lock's lifetime, closed in finally
        except OSError as exc:
            raise CacheError(f"cannot use the analysis cache folder {self.root}: {exc}; "
                             "make it writable or choose another cache folder") from exc
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    def store(self, key: str, name: str, value: T, save: Callable[[T, Path], None]) -> Path:
        """Write an entry atomically: save() writes a temporary file that then replaces the entry."""
        path = self.path_for(key, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp{path.suffix}")
        try:
            save(value, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def get_or_compute(self, key: str, name: str, compute: Callable[[], T],
                       save: Callable[[T, Path], None], load: Callable[[Path], T]) -> T:
        """The cached entry, or compute() it once (other processes wait, then load) and store it.

        A failure to store is logged and the computed value returned; errors from compute()
        propagate and leave no entry.
        """
        found = self.load(key, name, load)
        if found is not None:
            log.debug("cache hit %s/%s", key, name)
            return found
        path = self.path_for(key, name)
        with self._locked(path):
            found = self.load(key, name, load)
            if found is not None:
                return found
            value = compute()
            try:
                self.store(key, name, value, save)
            except OSError as exc:
                log.warning("could not store cache entry %s (%s); continuing without it", path, exc)
            return value
