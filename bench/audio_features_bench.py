"""The audio features before and after librosa, side by side in one run: speed, memory and outputs.

    .venv/bin/python bench/audio_features_bench.py [--runs 5] [--seconds 60] [--fps 25]

Three jobs on the benchmark speech (measure.bench.inputs.SPEECH, 60 s of real English at 16 kHz):
- `frontend`: the default speech front end as the renderer runs it, file in, mouth curves out
  (`predict_mouth_streamed(file_source(...))`: decoding, spectrum, Praat formants, the model);
- `features`: the whole-signal speech features alone (power_spectrum, band_db, log_mel);
- `w2l_mel`: Wav2Lip's mel spectrogram of the same samples (loaded before timing).

Each job runs in a fresh process per variant: `new` is the checkout as it is (librosa's STFT and mel
filterbanks, librosa imported on first use); `old` is the same checkout with the former hand-written
NumPy versions, kept only in this file, patched in. Runs alternate old/new (the order flips every
repeat). A child reports its first call (cold: librosa's import lands here), a second call (warm),
the tracemalloc peak of a third call and its own peak RSS (VmHWM). The parent prints a table of
medians with new/old ratios, the largest differences between the two variants' outputs, and, as the
shared machine's noise swamps sub-second calls across processes, warm `features` and `w2l_mel` calls
alternating old/new inside one process (3 x runs each, medians).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TASKS = ("frontend", "features", "w2l_mel")
VARIANTS = ("old", "new")
METRICS = ("cold_s", "warm_s", "traced_mb", "rss_mb")


# ---------------------------------------------------------------- the former NumPy implementations


def _old_power_spectrum(samples: np.ndarray, rate: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """features.power_spectrum as it was: fancy-indexed frames, np.hanning, np.fft.rfft."""
    from engine.speech.features import CHUNK_HOPS, HOP_S, WINDOW_S

    x = np.asarray(samples, np.float64)
    n, hop = int(round(WINDOW_S * rate)), int(round(HOP_S * rate))
    hops = max(1, int(np.ceil(len(x) / hop)))
    padded = np.concatenate([np.zeros(n // 2), x, np.zeros(n)])
    window = np.hanning(n)
    spec = np.empty((hops, n // 2 + 1))
    for a in range(0, hops, CHUNK_HOPS):
        b = min(hops, a + CHUNK_HOPS)
        idx = np.arange(a, b)[:, None] * hop + np.arange(n)[None, :]
        spec[a:b] = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2 / n
    return spec, np.fft.rfftfreq(n, 1.0 / rate)


def _old_spectrum_blocks(reader: Any, block_hops: int = 2000) -> Iterator[tuple[int, np.ndarray]]:
    """spectrum_stream.spectrum_blocks as it was."""
    from engine.speech.spectrum_stream import HOP, WINDOW, hop_count

    half, window = WINDOW // 2, np.hanning(WINDOW)
    h0, hops = 0, None
    while hops is None or h0 < hops:
        h1 = h0 + block_hops
        if not reader.ensure((h1 - 1) * HOP + WINDOW - half):
            hops = hop_count(reader.total)
            h1 = min(h1, hops)
            if h0 >= h1:
                return
        frames = reader.read(h0 * HOP - half, (h1 - 1) * HOP + WINDOW - half)
        idx = np.arange(h1 - h0)[:, None] * HOP + np.arange(WINDOW)[None, :]
        yield h0, np.abs(np.fft.rfft(frames[idx] * window, axis=1)) ** 2 / WINDOW
        reader.release(max(0, h1 * HOP - half))
        h0 = h1


def _old_speech_mel_filterbank(freqs: np.ndarray, n_mels: int = 40, fmin: float = 60.0,
                               fmax: float = 7600.0) -> np.ndarray:
    """features.mel_filterbank as it was: HTK-mel triangles, rebuilt on every call."""
    def mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)

    edges_hz = 700.0 * (10 ** (np.linspace(mel(fmin), mel(fmax), n_mels + 2) / 2595.0) - 1.0)
    bank = np.zeros((n_mels, len(freqs)))
    for m in range(n_mels):
        lo, mid, hi = edges_hz[m:m + 3]
        rise = (freqs - lo) / max(mid - lo, 1e-6)
        fall = (hi - freqs) / max(hi - mid, 1e-6)
        bank[m] = np.clip(np.minimum(rise, fall), 0.0, None)
    return bank


def _old_w2l_mel_filterbank() -> np.ndarray:
    """wav2lip.audio.mel_filterbank as it was: the Slaney scale and normalisation written out."""
    from engine.backends.wav2lip import audio as w2l

    f_sp, min_log_hz = 200.0 / 3.0, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0

    def to_mel(hz: float) -> float:
        return min_log_mel + np.log(hz / min_log_hz) / logstep if hz >= min_log_hz else hz / f_sp

    mels = np.linspace(to_mel(w2l.FMIN), to_mel(w2l.FMAX), w2l.N_MELS + 2)
    hz = np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)
    ramps = hz[:, None] - np.linspace(0.0, w2l.SAMPLE_RATE / 2, w2l.N_BINS)[None, :]
    width = np.diff(hz)
    lower, upper = -ramps[:-2] / width[:-1, None], ramps[2:] / width[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
    weights *= (2.0 / (hz[2:] - hz[:-2]))[:, None]
    return weights


def _old_w2l_magnitude_blocks(x: np.ndarray, emphasise: bool) -> Iterator[tuple[int, np.ndarray]]:
    """wav2lip.audio._magnitude_blocks as it was: strided frames, the window formula, np.fft.rfft."""
    from engine.backends.wav2lip import audio as w2l

    if x.shape[0] <= w2l.N_FFT // 2:
        raise w2l.AudioTooShort("too short")
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(w2l.WIN) / w2l.WIN)
    total = w2l.frame_count(x.shape[0])
    for f0 in range(0, total, w2l._BLOCK_FRAMES):
        f1 = min(total, f0 + w2l._BLOCK_FRAMES)
        seg = w2l._padded_segment(x, f0 * w2l.HOP, (f1 - 1) * w2l.HOP + w2l.N_FFT, emphasise)
        frames = np.lib.stride_tricks.sliding_window_view(seg, w2l.N_FFT)[::w2l.HOP]
        yield f0, np.abs(np.fft.rfft(frames * window, axis=1)).T


def _patches() -> list[tuple[Any, str, Callable[..., Any]]]:
    """(module, name, former implementation) for every function the former code replaces."""
    from engine.backends.wav2lip import audio as w2l
    from engine.speech import features, streamed

    return [(features, "power_spectrum", _old_power_spectrum), (features, "mel_filterbank", _old_speech_mel_filterbank),
            (streamed, "spectrum_blocks", _old_spectrum_blocks), (w2l, "mel_filterbank", _old_w2l_mel_filterbank),
            (w2l, "_magnitude_blocks", _old_w2l_magnitude_blocks)]


_CHECKOUT: dict[tuple[Any, str], Any] = {}  # the checkout's own functions, kept while the former are patched in


def use_code(variant: str) -> None:
    """Put the former ("old") or the checkout's ("new") implementations in the engine's modules (this process)."""
    for module, name, former in _patches():
        _CHECKOUT.setdefault((module, name), getattr(module, name))
        setattr(module, name, former if variant == "old" else _CHECKOUT[(module, name)])


# ---------------------------------------------------------------- one job in a child process


def _job_call(job: dict[str, Any]) -> Callable[[], dict[str, np.ndarray]]:
    """The function a job times, returning its outputs by name (inputs loaded before timing)."""
    from engine.media.audio import load_audio

    n = int(job["seconds"] * 16000)
    if job["task"] == "frontend":
        from engine.speech.samples import array_source, file_source
        from engine.speech.streamed import predict_mouth_streamed

        source = file_source(job["audio"])
        if job["seconds"] < 60:  # a shorter cut of the benchmark speech, served from memory
            source = array_source(load_audio(job["audio"], 16000)[:n])
        n_frames = int(job["seconds"] * job["fps"])

        def frontend() -> dict[str, np.ndarray]:
            c = predict_mouth_streamed(source, job["fps"], n_frames)
            return {"open": c.open, "width": c.width, "round": c.round}

        return frontend
    samples = load_audio(job["audio"], 16000)[:n]
    if job["task"] == "features":
        from engine.speech import features

        def speech_features() -> dict[str, np.ndarray]:
            spec, freqs = features.power_spectrum(samples)
            return {"spec": spec, "band_db": features.band_db(spec, freqs), "log_mel": features.log_mel(spec, freqs)}

        return speech_features
    from engine.backends.wav2lip import audio as w2l

    return lambda: {"mel": w2l.melspectrogram(samples)}


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:"))


def run_child(job: dict[str, Any]) -> dict[str, Any]:
    """Time one job's cold and warm calls, trace a third, save the outputs; the measurements."""
    if job["task"] == "warm_ab":
        return run_warm_ab(job)
    use_code(job["variant"])
    call = _job_call(job)
    t = time.perf_counter()
    outputs = call()
    cold = time.perf_counter() - t
    t = time.perf_counter()
    call()
    warm = time.perf_counter() - t
    tracemalloc.start()
    call()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.savez(job["out"], **outputs)
    return {"cold_s": cold, "warm_s": warm, "traced_mb": traced / 2**20, "rss_mb": _peak_rss_mb(),
            "librosa_loaded": "librosa" in sys.modules}


def run_warm_ab(job: dict[str, Any]) -> dict[str, Any]:
    """In one process, after a first call of each: old and new alternating, the median seconds of each."""
    times: dict[str, list[float]] = {}
    for task in ("features", "w2l_mel"):
        call = _job_call({**job, "task": task})
        for variant in VARIANTS:
            use_code(variant)
            call()
        for _ in range(job["repeats"]):
            for variant in VARIANTS:
                use_code(variant)
                t = time.perf_counter()
                call()
                times.setdefault(f"{task}/{variant}", []).append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def spawn(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in a fresh interpreter; its measurements."""
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], cwd=REPO,
                          capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{job['task']}/{job['variant']} failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


# ---------------------------------------------------------------- the parent: alternate, summarise, compare


def measure(args: argparse.Namespace, audio: Path, work: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every job's measurements per (task, variant), the variants alternating, the order flipping per repeat."""
    results: dict[tuple[str, str], list[dict[str, Any]]] = {(t, v): [] for t in TASKS for v in VARIANTS}
    for rep in range(args.runs):
        for task in TASKS:
            for variant in (VARIANTS if rep % 2 == 0 else VARIANTS[::-1]):
                job = {"task": task, "variant": variant, "audio": str(audio), "seconds": args.seconds,
                       "fps": args.fps, "out": str(work / f"{task}-{variant}-{rep}.npz")}
                results[(task, variant)].append(spawn(job))
                print(f"run {rep + 1}/{args.runs} {task:8s} {variant}: {results[(task, variant)][-1]}",
                      file=sys.stderr)
    return results


def table(results: dict[tuple[str, str], list[dict[str, Any]]]) -> list[str]:
    """Markdown rows: per task and metric, the old and new medians and new/old."""
    rows = ["| job | metric | old (median) | new (median) | new/old |", "|---|---|---|---|---|"]
    for task in TASKS:
        for metric in METRICS:
            old, new = (statistics.median(r[metric] for r in results[(task, v)]) for v in VARIANTS)
            rows.append(f"| {task} | {metric} | {old:.3f} | {new:.3f} | {new / old if old else float('nan'):.2f} |")
    return rows


def differences(work: Path, runs: int) -> list[str]:
    """Per task and output: the largest |new - old| over the runs (and the old output's range)."""
    rows = ["| job | output | max abs diff new vs old | old range |", "|---|---|---|---|"]
    for task in TASKS:
        for rep in range(runs):
            old, new = (np.load(work / f"{task}-{v}-{rep}.npz") for v in VARIANTS)
            if rep == 0:
                worst = {k: 0.0 for k in old.files}
                span = {k: float(np.ptp(old[k])) for k in old.files}
            for k in old.files:
                worst[k] = max(worst[k], float(np.abs(new[k] - old[k]).max()))
        rows += [f"| {task} | {k} | {worst[k]:.3g} | {span[k]:.3g} |" for k in worst]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0, help="of the benchmark speech (at most its 60 s)")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return 0
    from measure.bench.inputs import SPEECH

    with tempfile.TemporaryDirectory(prefix="lipspool-audio-bench-") as tmp:
        started = time.perf_counter()
        results = measure(args, SPEECH, Path(tmp))
        print(f"{SPEECH.name}, {args.seconds:g} s, {args.runs} runs per variant, alternating, one process per run "
              f"({time.perf_counter() - started:.0f} s in all)\n")
        print("\n".join(table(results)))
        loaded = {v: sorted({r['librosa_loaded'] for t in TASKS for r in results[(t, v)]}) for v in VARIANTS}
        print(f"\nlibrosa imported in the children: {loaded}\n")
        print("\n".join(differences(Path(tmp), args.runs)))
        ab = spawn({"task": "warm_ab", "variant": "both", "audio": str(SPEECH), "seconds": args.seconds,
                    "fps": args.fps, "repeats": 3 * args.runs})
        print(f"\nwarm calls alternating in one process ({3 * args.runs} each, median s): "
              + ", ".join(f"{k} {v:.4f}" for k, v in ab.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
