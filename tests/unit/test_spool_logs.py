"""The shared log: rotated by size, and every writer follows the rotation."""
from __future__ import annotations

import logging
from pathlib import Path

from spooler.logs import SharedRotatingFileHandler
from spooler.runner import output_name


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    log = logging.getLogger(name)
    log.propagate = False
    log.handlers = [handler]
    log.setLevel(logging.INFO)
    return log


def test_two_writers_rotate_one_file_without_losing_lines(tmp_path: Path) -> None:
    path = tmp_path / "lipspool.log"
    a = SharedRotatingFileHandler(path, max_bytes=2000, backups=50)
    b = SharedRotatingFileHandler(path, max_bytes=2000, backups=50)
    la, lb = _logger("writer-a", a), _logger("writer-b", b)
    for i in range(200):
        (la if i % 2 else lb).info("line %03d %s", i, "x" * 40)
    a.close(), b.close()
    files = sorted(tmp_path.glob("lipspool.log*"))
    assert len(files) > 3, "the log should have rotated"
    assert all(f.stat().st_size <= 2000 for f in files)
    lines = [ln for f in files for ln in f.read_text().splitlines()]
    assert sorted(int(ln.split()[1]) for ln in lines) == list(range(200))


def test_output_names_are_numbered_and_safe() -> None:
    assert output_name(0, "/x/Anna Lee.mp4") == "01_Anna_Lee.mp4"
    assert output_name(11, "/x/张三 讲课.mov") == "12_张三_讲课.mp4"
    assert output_name(2, "/x/../..mp4") == "03_video.mp4"
