"""Serving results to the browser from disk, not from memory, and taking the links back.

Streamlit's own `st.video(path)` and `download_button` read a whole file into the server's
memory. Instead, a result is shared through Streamlit's static file serving
(`server.enableStaticServing`, which streams with HTTP range requests): the file is hard-linked
(copied when it lies on another file system) into static/dl/<random token>/ next to
dashboard.py, and the page gets that URL. Tokens are 128-bit random and handed only to sessions
past the password gate. Streamlit caps a static file at 200 MB; `lift_static_limit` raises that
cap in this process (a module constant of its Starlette server; where a Streamlit version has no
such constant the cap stays, and callers fall back to the in-memory widgets for bigger files).

Each share has an index entry, <index>/<token>.json (`index_dir`: cache/shares/ for shares under
static/, never served), naming the source and whether the file was linked or copied; the index is
written before the share appears and survives a restart. A share stops serving (its folder is
removed) after a day, as soon as its source is deleted or replaced (`prune`, run by the dashboard
every few seconds), when it has no index entry, and at once when the job it belongs to is deleted
(`revoke`). A share is made in a hidden folder and renamed into place whole. (No symbolic link
may lie in static/: Streamlit sizes that folder at start-up and stops at a dangling one.)
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import quote

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
SHARE_DIR = STATIC_DIR / "dl"
MAX_STATIC_BYTES = 200 * 1024 * 1024  # Streamlit's limit for a static file (until lifted)
LIFTED_BYTES = 64 * 1024 ** 3
KEEP_S = 24 * 3600
STAGING_KEEP_S = 600.0  # a hidden, half-made share older than this was left by a crash
INDEX_DIR = STATIC_DIR.parent / "cache" / "shares"  # git-ignored, outside what Streamlit serves
_shared: dict[tuple[str, int, str], Path] = {}  # (source, its mtime, share folder) -> its share, this process
_lock = threading.RLock()


def lift_static_limit(limit: int = LIFTED_BYTES) -> bool:
    """Let Streamlit's static serving stream files up to `limit` bytes; False when it cannot be done here."""
    global MAX_STATIC_BYTES
    try:
        from streamlit.web.server.starlette import starlette_routes
    except ImportError:
        return False
    if not hasattr(starlette_routes, "MAX_APP_STATIC_FILE_SIZE"):
        return False
    starlette_routes.MAX_APP_STATIC_FILE_SIZE = limit
    MAX_STATIC_BYTES = limit
    return True


def share(path: str | os.PathLike[str], share_dir: Path = SHARE_DIR) -> str | None:
    """A relative URL serving `path` from disk, or None when it is too big for static serving (or cannot be shared)."""
    src = Path(path)
    if not src.is_file() or src.stat().st_size > MAX_STATIC_BYTES:
        return None
    source = src.resolve()
    key = (str(source), src.stat().st_mtime_ns, str(share_dir))
    with _lock:
        dest = _shared.get(key)
        if dest is None or not dest.is_file():  # pages refresh every second: link a file once, not per run
            prune(share_dir)
            try:
                dest = _make_share(source, share_dir)
            except OSError:  # the share or its index entry could not be written: the caller streams from memory
                return None
            _shared[key] = dest
    return f"app/static/{share_dir.relative_to(STATIC_DIR).as_posix()}/{dest.parent.name}/{quote(src.name)}" \
        if share_dir.is_relative_to(STATIC_DIR) else str(dest)


def index_dir(share_dir: Path) -> Path:
    """Where the index entries of `share_dir`'s shares live: outside static/, beside it otherwise."""
    if share_dir.is_relative_to(STATIC_DIR):
        return INDEX_DIR / share_dir.relative_to(STATIC_DIR)
    return share_dir.with_name(f"{share_dir.name}-index")


def _make_share(source: Path, share_dir: Path) -> Path:
    """Link (or copy) `source` into a new share folder, its index entry written first; returns the shared file."""
    token = secrets.token_urlsafe(16)  # never starts with "."
    staging = share_dir / f".{token}"
    staging.mkdir(parents=True)
    entry = index_dir(share_dir) / f"{token}.json"
    try:
        try:
            os.link(source, staging / source.name)
            linked = True
        except OSError:
            shutil.copyfile(source, staging / source.name)
            linked = False
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_text(json.dumps({"source": str(source), "linked": linked}), encoding="utf-8")
        os.rename(staging, share_dir / token)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        entry.unlink(missing_ok=True)
        raise
    return share_dir / token / source.name


def _entry(folder: Path) -> dict | None:
    """A share folder's index entry, or None when it has none (or an unreadable one)."""
    try:
        data = json.loads((index_dir(folder.parent) / f"{folder.name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("source"), str) else None


def source_of(folder: Path) -> Path | None:
    """The file a share folder serves (from its index entry), or None when it has no entry."""
    entry = _entry(folder)
    return Path(entry["source"]) if entry else None


def is_live(folder: Path) -> bool:
    """The share still serves its source: the source exists and, for a hard link, is still that same file."""
    entry = _entry(folder)
    if entry is None:
        return False
    source = Path(entry["source"])
    shared = folder / source.name
    try:
        if entry.get("linked"):
            return os.path.samefile(source, shared)
        return source.is_file() and shared.is_file()
    except OSError:
        return False


def prune(share_dir: Path = SHARE_DIR, keep_s: float = KEEP_S) -> int:
    """Remove shares older than keep_s, whose source is gone or replaced, or with no index; returns how many.

    Index entries whose share is gone are removed too (when older than a half-made share may be)."""
    if not share_dir.is_dir():
        return 0
    now = time.time()
    removed = 0
    with _lock:
        for folder in share_dir.iterdir():
            try:
                if not folder.is_dir() or folder.is_symlink():
                    continue
                age = now - folder.stat().st_mtime
                staging = folder.name.startswith(".")
                if (age > STAGING_KEEP_S) if staging else (age > keep_s or not is_live(folder)):
                    removed += _remove(folder)
            except OSError:
                continue
        index = index_dir(share_dir)
        for entry in index.glob("*.json") if index.is_dir() else ():
            try:
                if not (share_dir / entry.stem).exists() and now - entry.stat().st_mtime > STAGING_KEEP_S:
                    entry.unlink()
            except OSError:
                continue
    return removed


def revoke(sources: str | os.PathLike[str], share_dir: Path = SHARE_DIR) -> int:
    """Remove at once every share of the file `sources`, or of any file under that folder; returns how many."""
    base = Path(sources).resolve()

    def under(path: Path) -> bool:
        return path == base or path.is_relative_to(base)

    removed = 0
    with _lock:
        for (source, _, _), dest in list(_shared.items()):  # this process's index
            if under(Path(source)):
                removed += _remove(dest.parent)
        if share_dir.is_dir():
            for folder in share_dir.iterdir():  # the on-disk index: shares made before a restart, or by others
                source = source_of(folder) if not folder.name.startswith(".") else None
                if source is not None and under(source):
                    removed += _remove(folder)
    return removed


def _remove(folder: Path) -> int:
    """Delete one share folder and forget it; 1 when it was there."""
    for key in [k for k, dest in _shared.items() if dest.parent == folder]:
        del _shared[key]
    if not folder.exists():
        return 0
    shutil.rmtree(folder, ignore_errors=True)
    if folder.exists():
        return 0
    (index_dir(folder.parent) / f"{folder.name}.json").unlink(missing_ok=True)
    return 1


def download_link(url: str, label: str, file_name: str) -> str:
    """HTML (for st.markdown with unsafe_allow_html) for a link that downloads (not plays) the shared file."""
    import html

    from .plain import md, visible

    # attributes on one line (no blank line can break the tag open); the label is Markdown inside an
    # inline HTML tag: escaped as Markdown, it shows as plain text
    return (f'<a href="{html.escape(visible(url))}" download="{html.escape(visible(file_name))}" '
            f'style="display:inline-block;padding:0.35rem 0.8rem;border:1px solid #ccc;border-radius:0.5rem;'
            f'text-decoration:none">{md(label)}</a>')
