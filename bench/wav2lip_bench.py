"""wav2lip speed, medians of interleaved runs:

- the generator alone (forward passes on a fixed batch, tensors already on the device) at a few
  batch sizes, in float32 and, on CUDA, float16, with the float16-float32 agreement;
- the whole backend (decode, crop, mel chunks, generate, blend, encode) rendering real speech
  onto a real presenter clip, per batch size, beside the `none` backend (decode + encode only)
  on the same input. The face track is cached by a first render, reported on its own.

Without --checkpoint the weights are random (speed does not depend on them; quality is not
measured here). Usage:
  .venv/bin/python bench/wav2lip_bench.py [--device cuda] [--batch-sizes 1,16,64] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import engine
from measure.bench.inputs import default_videos, scale_clip, trim_speech


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def generator_fps(model: object, device: str, batch: int, half: bool, runs: int) -> float:
    """Frames per second of forward passes alone on a fixed batch already on the device."""
    import torch

    from engine.backends.wav2lip.crops import model_batch
    from engine.backends.wav2lip.infer import probe_inputs, run_model

    mels, faces = probe_inputs(batch)
    audio = torch.from_numpy(mels[:, None]).to(device)
    face = torch.from_numpy(model_batch(faces)).to(device)
    times = []
    for k in range(runs + 1):
        _sync(device)
        start = time.perf_counter()
        run_model(model, audio, face, device, half)
        _sync(device)
        if k:  # the first pass warms up
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default=None, help="a real checkpoint (default: random weights)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-sizes", default="1,16", help="comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of speech per render")
    parser.add_argument("--size", type=int, default=720, help="short side of the presenter clip")
    parser.add_argument("--video", default=None, help="presenter clip (default: the shared portrait clip)")
    args = parser.parse_args()
    import torch

    from engine.backends.wav2lip.checkpoint import load_generator, random_weights, save_official
    from engine.backends.wav2lip.infer import half_agrees

    sizes = [int(s) for s in args.batch_sizes.split(",")]
    report: dict = {"device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "weights": "checkpoint" if args.checkpoint else "random"}
    if args.device == "cuda":
        report["gpu"] = torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory(prefix="lipspool-w2lbench-") as tmp:
        work = Path(tmp)
        checkpoint = Path(args.checkpoint) if args.checkpoint else save_official(work / "random.pth", random_weights(0))
        model = load_generator(checkpoint, args.device)
        modes = [False, True] if args.device == "cuda" else [False]
        if args.device == "cuda":
            report["fp16_max_abs_diff"] = half_agrees(model, args.device)
        gen: dict[str, list[float]] = {f"{'fp16' if h else 'fp32'} b{b}": [] for b in sizes for h in modes}
        for _ in range(args.runs):  # interleaved: every setting once per round
            for b in sizes:
                for h in modes:
                    gen[f"{'fp16' if h else 'fp32'} b{b}"].append(generator_fps(model, args.device, b, h, 3))
        report["generator_fps"] = {k: round(statistics.median(v), 2) for k, v in gen.items()}
        print(json.dumps(report["generator_fps"]), file=sys.stderr, flush=True)
        del model

        video = Path(args.video) if args.video else default_videos()[0]
        clip = scale_clip(video, work / "clip.mp4", args.size, 12.0)
        speech = trim_speech(REPO.parent / "shared" / "media" / "musetalk_eng.wav", work / "speech.wav", 0.0,
                             args.seconds)
        base = {"device": args.device, "cache_dir": str(work / "cache"), "checkpoint": str(checkpoint)}
        first = engine.render(speech, clip.path, work / "first.mp4", {**base, "backend": "wav2lip"})
        report["input"] = {"clip": video.name, "width": clip.width, "height": clip.height, "frames": first.n_frames}
        report["first_render_s"] = round(first.timings["total"], 2)
        whole: dict[str, list[float]] = {"none": [], **{f"wav2lip b{b}": [] for b in sizes}}
        for _ in range(args.runs):
            for name in whole:
                opts = {**base, "backend": "none"} if name == "none" else {**base, "backend": "wav2lip",
                                                                           "batch_size": int(name.split("b")[-1])}
                start = time.perf_counter()
                result = engine.render(speech, clip.path, work / "out.mp4", opts)
                whole[name].append(result.n_frames / (time.perf_counter() - start))
                print(f"{name}: {whole[name][-1]:.2f} fps", file=sys.stderr, flush=True)
        report["whole_fps"] = {k: round(statistics.median(v), 2) for k, v in whole.items()}
        report["whole_fps_runs"] = {k: [round(x, 2) for x in v] for k, v in whole.items()}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
