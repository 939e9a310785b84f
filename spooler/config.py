"""Where LipSpool keeps its files, and which input folders it may read.

One root folder holds spool/, results/, logs/, cache/ and models/. Every entry point finds it the same
way: `--root-path DIR`, else the environment variable LIPSPOOL_ROOT, else the repository folder.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
ROOT_ENV = "LIPSPOOL_ROOT"
ALLOWED_ENV = "LIPSPOOL_ALLOWED_ROOTS"
ALLOWED_FILE = "allowed_roots.txt"

SPOOL_DIRS = ("tmp", "new", "active", "done", "failed", "rejected", "cancel", "status", "workers",
              "queue", "working", "finished")  # the last three hold item tickets (see protocol)


class ConfigError(Exception):
    """The configuration cannot be used as given."""


def resolve_root(root_path: str | os.PathLike[str] | None = None) -> Path:
    """The root folder: the argument, else $LIPSPOOL_ROOT, else the repository folder."""
    chosen = root_path or os.environ.get(ROOT_ENV) or REPO_DIR
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class Layout:
    """The folders under one root."""

    root: Path

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def models(self) -> Path:
        """Model checkpoints users supply (the wav2lip backend's wav2lip.pth / wav2lip_gan.pth)."""
        return self.root / "models"

    @property
    def log_file(self) -> Path:
        return self.logs / "lipspool.log"

    def spool_dir(self, name: str) -> Path:
        """spool/<name>, for one of SPOOL_DIRS."""
        if name not in SPOOL_DIRS:
            raise ValueError(f"not a spool folder: {name}")
        return self.spool / name

    def ensure(self) -> Layout:
        """Create every runtime folder (idempotent)."""
        for name in SPOOL_DIRS:
            (self.spool / name).mkdir(parents=True, exist_ok=True)
        for path in (self.results, self.logs, self.cache, self.models):
            path.mkdir(parents=True, exist_ok=True)
        return self


def layout_for(root_path: str | os.PathLike[str] | None = None) -> Layout:
    """The Layout of the resolved root, with its folders created."""
    return Layout(resolve_root(root_path)).ensure()


def allowed_roots(root: Path, extra: list[str] | None = None) -> list[Path]:
    """Folders job inputs may lie under: the root, --allow-root, $LIPSPOOL_ALLOWED_ROOTS, <root>/allowed_roots.txt."""
    found: list[str] = [str(root), *(extra or [])]
    found += [p for p in os.environ.get(ALLOWED_ENV, "").split(os.pathsep) if p.strip()]
    listing = root / ALLOWED_FILE
    if listing.is_file():
        for line in listing.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(line)
    roots: list[Path] = []
    for entry in found:
        path = Path(entry).expanduser().resolve()
        if path not in roots:
            roots.append(path)
    return roots


def how_to_allow(folder: Path, root: Path) -> str:
    """The advice given when an input lies outside the allowed roots."""
    return (
        f"allow it with --allow-root {folder}, or LIPSPOOL_ALLOWED_ROOTS={folder}, "
        f"or a line in {root / ALLOWED_FILE}; or submit with --copy"
    )
