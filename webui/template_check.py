"""The template check of uploaded presenter videos, for the dashboard: the engine's CLI in a subprocess.

The dashboard never imports the engine's heavy parts (dlib, OpenCV), so each upload is copied to
a scratch file under <root>/cache/uploads/ and checked by `python -m engine check --json` in a
child process with a timeout, on a small thread pool so that the page stays responsive; the
dashboard keeps each file's outcome in its session. The child reads a face track from
<root>/cache when one exists (the same video rendered before) and otherwise samples frames.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spooler.config import REPO_DIR, Layout

from .uploads import safe_name, write_upload

log = logging.getLogger(__name__)

TIMEOUT_S = 300.0  # the check takes a few seconds a minute of video; this is for a stuck child
WORKERS = 2  # checks running at once (all sessions together)
_pool: ThreadPoolExecutor | None = None


@dataclass
class CheckOutcome:
    """A report (the engine's TemplateReport as a dict) or a readable reason why there is none."""

    report: dict[str, Any] | None = None
    error: str = ""

    @property
    def verdict(self) -> str:
        """"good", "usable", "poor", or "" when the check could not be done."""
        return str((self.report or {}).get("verdict", ""))


def command(path: Path, cache_dir: Path) -> list[str]:
    """The command line that checks one file (this Python, the repository's engine)."""
    return [sys.executable, "-m", "engine", "check", "--json", "--cache-dir", str(cache_dir), str(path)]


def parse_output(stdout: str, stderr: str, returncode: int) -> CheckOutcome:
    """The outcome from the CLI's output: its last JSON line, else its last error line."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if data.get("error"):
            return CheckOutcome(error=str(data["error"]))
        if data.get("verdict"):
            return CheckOutcome(report=data)
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    reason = lines[-1] if lines else f"the check stopped with status {returncode}"
    return CheckOutcome(error=reason.removeprefix("error: "))


def run_check(path: Path, cache_dir: Path, timeout_s: float = TIMEOUT_S) -> CheckOutcome:
    """Check one file on disk in a child process; never raises."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_DIR), env.get("PYTHONPATH", "")) if p)
    try:
        done = subprocess.run(command(path, cache_dir), capture_output=True, text=True, timeout=timeout_s,
                              cwd=REPO_DIR, env=env, check=False)
    except subprocess.TimeoutExpired:
        log.warning("template check of %s took longer than %.0f s; stopped", path.name, timeout_s)
        return CheckOutcome(error=f"the check took longer than {timeout_s:.0f} s and was stopped")
    except OSError as exc:
        return CheckOutcome(error=f"the check could not start: {exc}")
    return parse_output(done.stdout, done.stderr, done.returncode)


def check_upload(layout: Layout, name: str, data: Any, timeout_s: float = TIMEOUT_S) -> CheckOutcome:
    """Copy an upload to a scratch file, check it, remove the copy; never raises."""
    folder = layout.cache / "uploads" / uuid.uuid4().hex[:12]  # the file keeps its name: messages name it
    dest = folder / safe_name(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_upload(data, dest)
        return run_check(dest, layout.cache, timeout_s)
    except Exception as exc:  # noqa: BLE001 - a check must never break the page
        log.warning("template check of %s failed: %s", name, exc)
        return CheckOutcome(error=f"{type(exc).__name__}: {exc}")
    finally:
        dest.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()


def start(layout: Layout, name: str, data: Any) -> Future:
    """check_upload on the shared thread pool; the future's result is a CheckOutcome."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="template-check")
    return _pool.submit(check_upload, layout, name, data)


VERDICT_ICON = {"good": "✅", "usable": "⚠️", "poor": "❌"}


def lines_for(outcome: CheckOutcome, lang: str) -> tuple[str, str, list[str]]:
    """(kind for the message box: success/warning/error/info, headline, advice lines) in `lang`."""
    from .i18n import text

    if outcome.report is None:
        return "info", text(lang, "tc_failed", reason=outcome.error), []
    report = outcome.report
    verdict = outcome.verdict
    kind = {"good": "success", "usable": "warning", "poor": "error"}.get(verdict, "info")
    summary = (report.get("summary") or {}).get(lang) or (report.get("summary") or {}).get("en", "")
    figures = text(lang, "tc_figures", face=round(100 * float(report.get("face_share", 0))),
                   px=round(float(report.get("face_px", 0))), speech=float(report.get("speech_s", 0)),
                   shapes=int(report.get("distinct_shapes", 0)))
    if report.get("is_image"):
        figures = text(lang, "tc_figures_photo", face=round(100 * float(report.get("face_share", 0))),
                       px=round(float(report.get("face_px", 0))))
    headline = f"{VERDICT_ICON.get(verdict, '')} {text(lang, 'tc_' + verdict)} — {summary} ({figures})"
    advice = [str(item.get(lang) or item.get("en", "")) for item in report.get("advice") or []]
    return kind, headline, advice
