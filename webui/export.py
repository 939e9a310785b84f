"""One-click ZIP export, written to disk file by file (never held in memory)."""
from __future__ import annotations

import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from spooler.archive import archive_names

KEEP_S = 24 * 3600  # exports older than this are removed when a new one is made


def export_folder(root: Path) -> Path:
    """<root>/exports (created)."""
    folder = root / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_zip(files: Sequence[tuple[Path, str]], dest: Path) -> Path:
    """Write (path, name in the archive) pairs into a ZIP at `dest` (stored: MP4s do not compress)."""
    tmp = dest.with_name(f".{dest.name}.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for (path, _), arc in zip(files, archive_names(name for _, name in files)):
            zf.write(path, arc)  # copies in chunks
    tmp.replace(dest)
    return dest


def prune(folder: Path, keep_s: float = KEEP_S) -> None:
    """Remove exports older than keep_s."""
    now = time.time()
    for p in folder.glob("*.zip"):
        try:
            if now - p.stat().st_mtime > keep_s:
                p.unlink()
        except OSError:
            pass
