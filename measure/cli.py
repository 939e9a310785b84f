"""`python -m measure`: the engine's benchmark and quality tools (bench, evaluate, frontends,
train-mouth, speechsheet, pausetest). They drive the engine from outside; nothing on the render
path imports them."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli import run_command
from engine.errors import EngineError

from .evaluate.cli import add_arguments as evaluate_arguments
from .evaluate.cli import run as _evaluate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m measure", description="LipSpool benchmark and evaluator")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time a backend against the ffmpeg-only floor at several sizes")
    b.add_argument("--backend", default="none", help="backend to time (see `backends`)")
    b.add_argument("--sizes", default="480,720,1080", type=_sizes,
                   help="short sides of the clips scaled whole, e.g. 480,720,1080 (none: skip them)")
    b.add_argument("--closeup-sizes", default="720,1080", type=_sizes,
                   help="short sides of the close-ups (face at least half the frame's height, landscape and "
                        "portrait), e.g. 720,1080 (none: skip them)")
    b.add_argument("--closeup-video", default=None, help="talking clip to cut the close-ups from "
                   "(default: the shared landscape clip)")
    b.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is reported")
    b.add_argument("--seconds", type=float, default=20.0, help="seconds of speech per render")
    b.add_argument("--video", action="append", default=None,
                   help="talking clip to scale (repeatable); default: the shared portrait and landscape clips")
    b.add_argument("--audio", default=None, help="speech to trim; default: the shared 60 s English WAV")
    b.add_argument("--clip-seconds", type=float, default=12.0, help="seconds of each video to use")
    b.add_argument("--crf", type=int, default=None)
    b.add_argument("--preset", default=None)
    b.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    evaluate_arguments(sub.add_parser("evaluate", help="score a backend on held-out real speech (QUALITY.md)"))
    from .evaluate.frontends_cli import add_compare_arguments, add_train_arguments

    add_compare_arguments(sub.add_parser("frontends", help="compare the audio front ends on real clips"))
    add_train_arguments(sub.add_parser("train-mouth", help="fit the speaker-independent mouth model"))
    sh = sub.add_parser("speechsheet", help="contact sheet of rendered mouths against their own sound, round a pause")
    sh.add_argument("videos", nargs="+", metavar="VIDEO", help="rendered videos (with their sound)")
    sh.add_argument("--out", required=True, help="PNG to write")
    sh.add_argument("--step", type=int, default=2, help="show every STEP-th frame (default 2)")
    from .evaluate.pauses import add_arguments as add_pause_arguments

    add_pause_arguments(sub.add_parser("pausetest", help="does the mouth close in pauses? (QUALITY.md, Pauses)"))
    return parser


def _sizes(text: str) -> tuple[int, ...]:
    if text.strip().lower() == "none":
        return ()
    try:
        sizes = tuple(int(s.strip().rstrip("p")) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be numbers like 480,720,1080 (or none), got {text!r}") from None
    if not sizes or any(not 16 <= s <= 4320 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be between 16 and 4320, got {text!r}")
    return sizes


def _bench(args: argparse.Namespace) -> int:
    from .bench import markdown, run_bench

    if args.runs < 1 or args.seconds <= 0 or args.clip_seconds <= 0:
        print("error: --runs, --seconds and --clip-seconds must be positive", file=sys.stderr)
        return 2
    result = run_bench(args.backend, args.sizes, args.runs, args.seconds,
                       [Path(v) for v in args.video] if args.video else None,
                       Path(args.audio) if args.audio else None, args.clip_seconds, args.crf, args.preset,
                       closeup_sizes=args.closeup_sizes,
                       closeup_video=Path(args.closeup_video) if args.closeup_video else None,
                       say=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=2) if args.json else markdown(result), end="" if not args.json else "\n")
    return 0


def _speechsheet(args: argparse.Namespace) -> int:
    from .evaluate.speechsheet import speech_sheet

    missing = [v for v in args.videos if not Path(v).is_file()]
    if missing:
        raise EngineError(f"video not found: {', '.join(missing)}")
    print(speech_sheet([(v, Path(v).name) for v in args.videos], args.out, max(1, args.step)))
    return 0


def _frontends(args: argparse.Namespace) -> int:
    from .evaluate.frontends_cli import run_compare

    return run_compare(args)


def _train_mouth(args: argparse.Namespace) -> int:
    from .evaluate.frontends_cli import run_train

    return run_train(args)


def _pausetest(args: argparse.Namespace) -> int:
    from .evaluate.pauses import run as run_pausetest

    return run_pausetest(args)



def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 engine error, 2 usage, 130 interrupted)."""
    return run_command(_parser(), {"bench": _bench, "evaluate": _evaluate, "frontends": _frontends,
                                   "train-mouth": _train_mouth, "pausetest": _pausetest,
                                   "speechsheet": _speechsheet}, argv)
