"""`python -m engine`: render, probe, thumbnail, backends and the template check from a shell
(the benchmark and the evaluator are `python -m measure`)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from .errors import EngineError
from .option_flags import add_option_flags, options_from_flags
from .options import DAEMON, OPERATOR, USER

BAR_WIDTH = 28


class ProgressPrinter:
    """progress(stage, fraction) -> a redrawn bar with ETA on a TTY, else a line per stage/10%."""

    def __init__(self, stream: TextIO, tty: bool | None = None, min_interval: float = 0.1) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.min_interval = min_interval
        self.stage = ""
        self.stage_start = 0.0
        self.last_draw = 0.0
        self.last_decile = -1

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        fraction = min(max(fraction, 0.0), 1.0)
        if stage != self.stage:
            if self.tty and self.stage:
                self.stream.write("\n")
            self.stage, self.stage_start, self.last_decile, self.last_draw = stage, now, -1, 0.0
        if self.tty:
            if fraction < 1.0 and now - self.last_draw < self.min_interval:
                return
            self.last_draw = now
            filled = int(BAR_WIDTH * fraction)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(f"\r{stage:<9} [{bar}] {fraction * 100:5.1f}% {self._eta(now, fraction)}")
        else:
            decile = int(fraction * 10)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write(f"{stage} {fraction * 100:.0f}% {self._eta(now, fraction)}".rstrip() + "\n")
        self.stream.flush()

    def _eta(self, now: float, fraction: float) -> str:
        elapsed = now - self.stage_start
        if fraction <= 0.0 or fraction >= 1.0 or elapsed < 0.5:
            return f"{elapsed:.1f}s" if fraction >= 1.0 else ""
        left = elapsed * (1.0 - fraction) / fraction
        return f"ETA {int(left // 60)}:{int(left % 60):02d}"

    def finish(self) -> None:
        """End the bar's line."""
        if self.tty and self.stage:
            self.stream.write("\n")
            self.stream.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="LipSpool engine")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render one audio onto one video")
    r.add_argument("--audio", required=True, help="speech: wav, mp3, m4a, aac, flac, ogg or a video")
    r.add_argument("--video", required=True, help="presenter: mp4, avi, mkv, mov, webm or an image")
    r.add_argument("--out", required=True, help="output .mp4 path (written exactly there)")
    add_option_flags(r, (USER, DAEMON, OPERATOR))
    p = sub.add_parser("probe", help="print what is in a media file as JSON")
    p.add_argument("file")
    t = sub.add_parser("thumbnail", help="write a JPEG of a frame near 1/3 of a video")
    t.add_argument("video")
    t.add_argument("out")
    t.add_argument("--max-side", type=int, default=320)
    sub.add_parser("backends", help="list backends and whether they are usable here")
    c = sub.add_parser("check", help="will a presenter video make a good template? figures, verdict and advice")
    c.add_argument("videos", nargs="+", metavar="VIDEO", help="presenter videos or photos")
    c.add_argument("--json", action="store_true", help="one JSON line per file instead of text")
    c.add_argument("--cache-dir", default=None, help="the analysis cache: a face track found there is used")
    c.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the text output")
    return parser


def _render(args: argparse.Namespace) -> int:
    from .backends import check_options
    from .errors import InvalidOptions
    from .rendering import render

    try:
        opts = check_options(options_from_flags(args))
    except InvalidOptions as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    printer = ProgressPrinter(sys.stderr)
    try:
        result = render(args.audio, args.video, args.out, opts, printer)
    finally:
        printer.finish()
    print(json.dumps(result.to_dict(), indent=2))
    return 0


def _probe(args: argparse.Namespace) -> int:
    from .media.probe import probe

    print(json.dumps(probe(args.file, "media").to_dict(), indent=2))
    return 0


def _thumbnail(args: argparse.Namespace) -> int:
    from .thumbnail import write_thumbnail

    print(write_thumbnail(args.video, args.out, args.max_side))
    return 0


def _backends(args: argparse.Namespace) -> int:
    from .backends import backend_status

    for name, (ok, why) in backend_status().items():
        print(f"{name}\t{'available' if ok else 'unavailable'}\t{why}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from .template_check.cli import run as run_check

    return run_check(args)


def run_command(parser: argparse.ArgumentParser, handlers: dict[str, Callable[[argparse.Namespace], int]],
                argv: list[str] | None) -> int:
    """Parse `argv`, set up logging (-v) and run the chosen handler; EngineError -> exit 1, Ctrl-C -> 130."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return handlers[args.command](args)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 engine error, 2 usage, 130 interrupted)."""
    return run_command(_parser(), {"render": _render, "probe": _probe, "thumbnail": _thumbnail,
                                   "backends": _backends, "check": _check}, argv)
