"""Several workers on one machine: `python -m spooler run --workers N|auto`.

Each worker is its own `python -m spooler run` process (its own worker id, heartbeat and item),
started and watched by this supervisor, which passes SIGTERM/SIGINT on (each worker puts its
item back in the queue) and starts again a worker that died. `auto` means one worker per visible
GPU on CUDA, each pinned to its card with CUDA_VISIBLE_DEVICES (never two renders on one GPU);
on the CPU, one single-threaded worker per core, as far as memory allows (bench/batch_bench.py:
on 2 cores, two 1-thread workers gave 1.41x the throughput of one 2-thread worker, which keeps
only 1.6 cores busy). Every worker's thread pools (OpenMP, BLAS, OpenCV, x264) are sized to its
share of the cores, so N workers do not oversubscribe them.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

WORKER_MEMORY_BYTES = 3 * 2**30 // 2  # memory kept free per CPU worker under `auto` (a render's peak, with room)
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "LIPSPOOL_RENDER_THREADS")
RESTART_DELAY_S = 2.0


class WorkersError(ValueError):
    """--workers was given something other than a positive number or 'auto'."""


@dataclass
class WorkerPlan:
    """How one worker process is started: its environment additions."""

    env: dict[str, str] = field(default_factory=dict)


def cpu_count() -> int:
    """The cores this process may use (its affinity, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def plan_workers(requested: str, device: str, gpus: int = 0, cores: int | None = None,
                 memory: int | None = None) -> list[WorkerPlan]:
    """The workers to start for `--workers requested` on `device` ('cpu' or 'cuda', with `gpus` cards)."""
    cores = cores or cpu_count()
    if requested == "auto":
        if device == "cuda":
            count = max(1, gpus)
        else:
            memory = memory if memory is not None else available_memory()
            count = cores if memory is None else max(1, min(cores, memory // WORKER_MEMORY_BYTES))
    else:
        try:
            count = int(requested)
        except ValueError:
            raise WorkersError(f"--workers takes a number of workers or 'auto', got {requested!r}") from None
        if not 1 <= count <= 256:
            raise WorkersError(f"--workers takes 1 to 256 workers or 'auto', got {count}")
    threads = str(max(1, cores // count))
    plans = []
    for i in range(count):
        env = {name: threads for name in THREAD_ENV}
        if device == "cuda" and gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(i % gpus)
        plans.append(WorkerPlan(env))
    return plans


def visible_gpus() -> int:
    """How many CUDA devices torch sees (0 without torch or a GPU)."""
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001 - no torch, no driver: no GPUs
        return 0


def supervise(plans: list[WorkerPlan], argv: list[str]) -> int:
    """Run one `python -m spooler run ARGV --workers 1` process per plan until SIGTERM/SIGINT; a
    worker that exits on its own is started again. Returns 0 once all have stopped."""
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    procs: list[subprocess.Popen | None] = [None] * len(plans)
    started_at = [0.0] * len(plans)
    try:
        while not stopping:
            for i, plan in enumerate(plans):
                proc = procs[i]
                if proc is not None and proc.poll() is None:
                    continue
                if proc is not None:
                    if time.monotonic() - started_at[i] < RESTART_DELAY_S:
                        continue
                    log.warning("worker %d exited with code %s; starting it again", i + 1, proc.returncode)
                procs[i] = subprocess.Popen([sys.executable, "-m", "spooler", "run", *argv, "--workers", "1"],
                                            env={**os.environ, **plan.env})
                started_at[i] = time.monotonic()
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            if proc is not None:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for s, handler in old.items():
            signal.signal(s, handler)
    return 0


def apply_thread_limits() -> None:
    """In a worker: size OpenCV's thread pool to LIPSPOOL_RENDER_THREADS (the others read their
    environment variables themselves)."""
    threads = os.environ.get("LIPSPOOL_RENDER_THREADS")
    if not threads:
        return
    try:
        import cv2

        cv2.setNumThreads(int(threads))
    except Exception:  # noqa: BLE001 - without OpenCV there is nothing to size
        pass
