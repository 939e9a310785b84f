"""Submitting, cancelling and deleting jobs from the dashboard, through the spool protocol only."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from spooler import protocol
from spooler.config import Layout

from . import share
from .uploads import UploadRejected, check_audio, check_video, save_upload


@dataclass
class Upload:
    """A file from the browser: its name and a readable binary stream (Streamlit's UploadedFile)."""

    name: str
    data: BinaryIO


@dataclass
class SubmitResult:
    """The submitted job's id (empty when nothing was submitted) and one problem per refused file."""

    job_id: str = ""
    videos: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (original name, reason)


def submit_uploads(layout: Layout, audio: Upload, videos: list[Upload], options: dict[str, Any] | None = None,
                   name: str = "") -> SubmitResult:
    """Copy the uploads into results/<job>/inputs/, check each, and submit the usable ones as one job.

    A refused video is reported and left out; a refused audio, or no usable video, submits
    nothing and removes the copies.
    """
    job = protocol.make_job("", [], name=name.strip(), options=dict(options or {}))
    inputs = layout.results / job.id / "inputs"
    result = SubmitResult()
    try:
        audio_path = save_upload(audio.data, inputs, audio.name)
        audio_ok = True
        try:
            check_audio(audio_path)
        except UploadRejected as exc:
            result.problems.append((audio.name, str(exc)))
            audio_ok = False
        paths = []
        for video in videos:
            path = save_upload(video.data, inputs, video.name)
            try:
                check_video(path)
            except UploadRejected as exc:
                result.problems.append((video.name, str(exc)))
                path.unlink(missing_ok=True)
            else:
                paths.append(path)
        if not audio_ok or not paths:
            shutil.rmtree(layout.results / job.id, ignore_errors=True)
            return result
        job.audio, job.videos = str(audio_path), [str(p) for p in paths]
        protocol.submit(layout, job)
    except BaseException:
        if not protocol.find_job_file(layout, job.id):
            shutil.rmtree(layout.results / job.id, ignore_errors=True)
        raise
    result.job_id, result.videos = job.id, len(paths)
    return result


def cancel(layout: Layout, job_id: str) -> str:
    """Ask a job to stop (see protocol.request_cancel)."""
    return protocol.request_cancel(layout, job_id)


def delete(layout: Layout, job_id: str, share_dir: Path | None = None) -> None:
    """Delete a finished job and every file it made (inputs, outputs, thumbnails, its ZIP export), and
    revoke at once every share link to them."""
    protocol.delete_job(layout, job_id)
    share_dir = share_dir or share.SHARE_DIR
    folder = layout.results / job_id
    if folder.resolve().parent == layout.results.resolve():
        shutil.rmtree(folder, ignore_errors=True)
        share.revoke(folder, share_dir)  # after the files are gone: a page refreshing meanwhile cannot re-share
    exported = layout.root / "exports" / f"{job_id}.zip"
    if exported.resolve().parent == (layout.root / "exports").resolve():
        exported.unlink(missing_ok=True)
        share.revoke(exported, share_dir)
