"""Helpers for integration tests: real daemon processes, waiting, submitting."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from spooler import protocol
from spooler.config import Layout
from spooler.records import JobStatus

REPO = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, what: str = "condition", poll: float = 0.05):
    """Poll until predicate() is truthy; return its value, or fail the test naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class DaemonProcess:
    """A real `python -m spooler run` process."""

    def __init__(self, root: Path, *args: str, name: str = "daemon") -> None:
        self.log_path = root / "logs" / f"{name}-{time.monotonic_ns()}.stderr"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - the daemon's output file, open while it runs
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spooler", "run", "--root-path", str(root), "--device", "cpu", *args],
            cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, env=env,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `sig` and wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()


def copy_into(root: Path, src: Path, name: str | None = None) -> Path:
    """A copy of `src` under root/media/ (inside the allowed root)."""
    dest = root / "media" / (name or src.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(src.read_bytes())
    return dest


def submit(layout: Layout, audio: Path, videos: list[Path], **options) -> str:
    """Submit through the protocol (what the dashboard does); return the job id."""
    job = protocol.make_job(str(audio), [str(v) for v in videos], options={"backend": "none", **options})
    protocol.submit(layout, job)
    return job.id


def status(layout: Layout, job_id: str) -> JobStatus | None:
    return protocol.read_status(layout, job_id)


def finished(layout: Layout, job_id: str) -> JobStatus | None:
    """The status once the job is finished and its file has left active/, else None."""
    s = protocol.read_status(layout, job_id)
    path = protocol.find_job_file(layout, job_id)
    if s and s.state.finished and path is not None and protocol.folder_of(path) not in ("new", "active"):
        return s
    return None


def run_cli(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m spooler ARGS --root-path root`."""
    return subprocess.run(
        [sys.executable, "-m", "spooler", *args, "--root-path", str(root)],
        cwd=cwd or REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
