"""Benchmark report: the machine it ran on and a Markdown table of the measured rows."""
from __future__ import annotations

import importlib.util
import os
import platform
from datetime import UTC, datetime
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(backend: str) -> dict[str, Any]:
    """What the numbers depend on: CPU, threads, library versions, backend."""
    import av
    import numpy

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads: dict[str, Any] = {"cpu_count": os.cpu_count(), "usable_cpus": usable,
                               **{k: os.environ.get(k, "unset") for k in THREAD_VARS}}
    if importlib.util.find_spec("torch") is not None:
        import torch

        threads["torch"] = torch.get_num_threads()
        threads["cuda"] = torch.cuda.is_available()
    if importlib.util.find_spec("cv2") is not None:
        import cv2

        threads["opencv"] = cv2.getNumThreads()
    libs = av.library_versions
    return {
        "backend": backend,
        "cpu": cpu_model(),
        "threads": threads,
        "python": platform.python_version(),
        "pyav": av.__version__,
        "ffmpeg": getattr(av, "ffmpeg_version_info", "") or "",
        "libavcodec": ".".join(map(str, libs.get("libavcodec", ()))),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


COLUMNS = ("input", "size", "face / height", "frames", "floor s", "render s", "repeat s", "RTF floor", "RTF render",
           "RTF repeat", "render/floor", "repeat/floor", "repeat/render", "CPU s floor/render/repeat",
           "peak RSS floor/render/repeat MiB")


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f}"


def table_row(row: dict[str, Any]) -> list[str]:
    """One row's cells, in COLUMNS order."""
    f, r, p = row["floor"], row["render"], row["repeat"]
    share = row.get("face_share") or 0.0
    return [row["label"], f"{row['width']}x{row['height']}", f"{share:.2f}" if share else "-", str(row["frames"]),
            f"{f['seconds']:.2f}", f"{r['seconds']:.2f}", f"{p['seconds']:.2f}",
            f"{f['rtf']:.3f}", f"{r['rtf']:.3f}", f"{p['rtf']:.3f}",
            f"{r['seconds'] / f['seconds']:.2f}", f"{p['seconds'] / f['seconds']:.2f}",
            f"{p['seconds'] / r['seconds']:.2f}",
            f"{f['cpu_seconds']:.1f}/{r['cpu_seconds']:.1f}/{p['cpu_seconds']:.1f}",
            f"{_mib(f['peak_rss'])}/{_mib(r['peak_rss'])}/{_mib(p['peak_rss'])}"]


def markdown(result: dict[str, Any]) -> str:
    """The whole report as Markdown: a header of facts, then the table."""
    m, s = result["machine"], result["settings"]
    t = m["threads"]
    lines = [
        f"# LipSpool benchmark: backend `{m['backend']}`",
        "",
        f"- machine: {m['cpu']}; {t['cpu_count']} CPUs ({t['usable_cpus']} usable); "
        + "; ".join(f"{k}={v}" for k, v in t.items() if k not in ("cpu_count", "usable_cpus")),
        f"- software: Python {m['python']}, PyAV {m['pyav']}, FFmpeg {m['ffmpeg'] or '?'} "
        f"(libavcodec {m['libavcodec']}), numpy {m['numpy']}; {m['platform']}",
        f"- settings: libx264 crf {s['crf']} preset {s['preset']} (render and floor alike); "
        f"{s['seconds']:.1f} s of speech per render; median of {s['runs']} interleaved runs "
        "(floor, render, repeat, floor, ...); each run in its own process",
        "- floor: the same input decoded and the same output encoded by FFmpeg alone (looped input, same "
        "frame count, same audio); repeat: a second render of the same video with other audio and the "
        "cache filled by the first; RTF: seconds of work per second of output; all times are medians of "
        "wall-clock seconds except CPU s (user+system of all threads, less sensitive to a busy machine)",
        f"- {m['date']}",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(table_row(row)) + " |" for row in result["rows"]]
    return "\n".join(lines) + "\n"
