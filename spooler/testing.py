"""Finished jobs written straight through the protocol, for tests and benchmarks of what reads the
spool (the dashboard's history): outputs and thumbnails on disk, status done, job file in done/."""
from __future__ import annotations

from pathlib import Path

from . import protocol
from .config import Layout
from .records import ItemState, JobState
from .states import end_job, finish_item


def write_finished_job(layout: Layout, videos: list[str], name: str = "", created: str | None = None,
                       thumbnail: bytes = b"\xff\xd8\xff\xe0jpeg", audio: str = "a.wav") -> str:
    """Submit, claim and finish a job whose items all 'rendered'; returns its id. No daemon may run."""
    job = protocol.make_job(str(layout.root / audio), list(videos), name=name)
    if created:
        job.created = created
    protocol.submit(layout, job)
    found = protocol.find_job_file(layout, job.id)
    assert found is not None, "the job just submitted is not in the spool"
    path = protocol.claim(found, layout, "testjobs")
    status = protocol.read_status(layout, job.id)
    assert path is not None and status is not None, "the job could not be claimed"
    out = layout.results / job.id
    out.mkdir(parents=True, exist_ok=True)
    for item in status.items:
        video = out / f"{item.index + 1:02d}_{Path(item.name).stem}.mp4"
        video.write_bytes(b"\x00" * 100 + item.name.encode())
        thumb = video.with_suffix(".jpg")
        thumb.write_bytes(thumbnail)
        item.output, item.thumbnail, item.duration_s = str(video), str(thumb), 2.0
        finish_item(item, ItemState.DONE)
    end_job(status)
    protocol.write_status(layout, status)
    protocol.finish(path, layout, JobState.DONE)
    return job.id
