"""Serving results to the browser from disk, not from memory.

Streamlit's own `st.video(path)` and `download_button` read a whole file into the server's
memory. Instead, a result is shared through Streamlit's static file serving
(`server.enableStaticServing`, which streams with HTTP range requests): the file is hard-linked
(copied when it lies on another file system) into static/dl/<random token>/ next to
dashboard.py, and the page gets that URL. Tokens are 128-bit random and handed only to sessions
past the password gate; shares are removed after a day. Streamlit caps a static file at 200 MB;
`lift_static_limit` raises that cap in this process (a module constant of its Starlette server;
where a Streamlit version has no such constant the cap stays, and callers fall back to the
in-memory widgets for bigger files).
"""
from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from urllib.parse import quote

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
SHARE_DIR = STATIC_DIR / "dl"
MAX_STATIC_BYTES = 200 * 1024 * 1024  # Streamlit's limit for a static file (until lifted)
LIFTED_BYTES = 64 * 1024 ** 3
KEEP_S = 24 * 3600
_shared: dict[tuple[str, int, str], Path] = {}  # (source, its mtime, share folder) -> its share, this process


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
    """A relative URL serving `path` from disk, or None when it is too big for static serving."""
    src = Path(path)
    if not src.is_file() or src.stat().st_size > MAX_STATIC_BYTES:
        return None
    key = (str(src.resolve()), src.stat().st_mtime_ns, str(share_dir))
    dest = _shared.get(key)
    if dest is None or not dest.is_file():  # pages refresh every second: link a file once, not per run
        prune(share_dir)
        folder = share_dir / secrets.token_urlsafe(16)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / src.name
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
        _shared[key] = dest
    return f"app/static/{share_dir.relative_to(STATIC_DIR).as_posix()}/{dest.parent.name}/{quote(src.name)}" \
        if share_dir.is_relative_to(STATIC_DIR) else str(dest)


def prune(share_dir: Path = SHARE_DIR, keep_s: float = KEEP_S) -> None:
    """Remove shares older than keep_s."""
    if not share_dir.is_dir():
        return
    now = time.time()
    for folder in share_dir.iterdir():
        try:
            if folder.is_dir() and now - folder.stat().st_mtime > keep_s:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def download_link(url: str, label: str, file_name: str) -> str:
    """HTML for a link that downloads (not plays) the shared file."""
    import html

    return (f'<a href="{html.escape(url)}" download="{html.escape(file_name)}" '
            f'style="display:inline-block;padding:0.35rem 0.8rem;border:1px solid #ccc;border-radius:0.5rem;'
            f'text-decoration:none">{html.escape(label)}</a>')
