"""Input files opened once, checked through what was opened, and handed to the engine by that.

A job's paths are resolved and checked when it is claimed, but an item is rendered later: a
file swapped for a link in between would be read from wherever the link points. So each input
is opened here (the last path component never followed), the opened file itself is checked (a
regular file, really inside an allowed root, as the kernel names it), and the engine gets a
name that leads to that open file and to nothing else: a link with the original's name, in a
private folder, to /proc/self/fd/<n>. Whatever happens to the original name afterwards, the
render reads the file that was checked. Without /proc (not Linux) the checked path is used.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .names import fit_file_name, printable

log = logging.getLogger(__name__)
PROC_FD = Path("/proc/self/fd")


class InputChanged(Exception):
    """An input is no longer the file that was checked; the message says which and why."""


class CheckedInputs:
    """Opens inputs for one job; `close()` (or leaving the `with` block) lets them all go."""

    def __init__(self, allowed: list[Path]) -> None:
        self.allowed = [Path(a) for a in allowed]
        self._fds: dict[str, int] = {}
        self._folder: Path | None = None
        self._count = 0

    def __enter__(self) -> CheckedInputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, path: str | os.PathLike[str]) -> Path:
        """A path the engine may read `path` through: the very file checked now (InputChanged if not fine)."""
        path = Path(path)
        shown = printable(str(path))[:300]
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            raise InputChanged(
                f"cannot open input {shown}: {exc.strerror or exc}"
                f"{' (it became a link after it was checked)' if exc.errno == errno.ELOOP else ''}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InputChanged(f"input {shown} is no longer a regular file")
            if not PROC_FD.is_dir():
                self._fds[str(path)] = fd
                return path
            real = Path(os.readlink(PROC_FD / str(fd)))
            if not any(real.is_relative_to(root) for root in self.allowed):
                raise InputChanged(f"input {shown} now leads to {printable(str(real))[:300]}, "
                                   "outside the allowed roots")
            slot = self._private_folder() / f"{self._count:04d}"  # one folder each: the link keeps the file's name
            self._count += 1
            slot.mkdir()
            link = slot / fit_file_name(path.name)
            os.symlink(PROC_FD / str(fd), link)
        except BaseException:
            os.close(fd)
            raise
        self._fds[str(link)] = fd
        return link

    def _private_folder(self) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="lipspool-inputs-"))
        return self._folder

    def release(self, link: Path) -> None:
        """Close one input opened by `open` (its link goes too)."""
        fd = self._fds.pop(str(link), None)
        if fd is not None:
            os.close(fd)
        if self._folder is not None and link.parent.parent == self._folder:
            shutil.rmtree(link.parent, ignore_errors=True)

    def close(self) -> None:
        """Close every input still open and remove the private folder."""
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
