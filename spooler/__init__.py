"""LipSpool's job spool: the on-disk protocol, the daemon and its command line."""
from .config import Layout, layout_for, resolve_root
from .records import ItemState, ItemStatus, Job, JobState, JobStatus, WorkerInfo

__all__ = [
    "ItemState", "ItemStatus", "Job", "JobState", "JobStatus", "Layout", "WorkerInfo",
    "layout_for", "resolve_root",
]
