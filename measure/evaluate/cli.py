"""`python -m measure evaluate CLIP [CLIP ...]`: self-reenactment figures as JSON lines on stdout.

One line per clip (kind "clip", or kind "error" for a clip that could not be evaluated), then one
summary line (kind "summary") with medians. Logs go to stderr. `--voice other` renders each
target in another voice (QUALITY.md, "Another voice"); every line says which voice was used.
"""
from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

from engine.errors import EngineError
from engine.options import RenderOptions, parse_option_pairs

from .report import VOICES, LineSink

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the evaluate command's arguments to a (sub)parser."""
    parser.add_argument("clips", nargs="+", metavar="CLIP",
                        help="real talking clips with their own speech (video + audio)")
    parser.add_argument("--backend", default="none",
                        help="backend to evaluate (default none); 'oracle' writes the true second half "
                             "(a check of the evaluator itself)")
    parser.add_argument("--voice", default="own", choices=VOICES,
                        help="'other' renders the target audio resynthesised in a voice of the other sex "
                             "(QUALITY.md, \"Another voice\"); the truth and loudness_r stay the clip's own "
                             "(default own)")
    parser.add_argument("--sheet", metavar="PNG", help="write a contact sheet of mouth crops (output above truth)")
    parser.add_argument("--json-out", metavar="FILE", help="also write the JSON lines to FILE")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="keep the templates, target audio and outputs here (default: a temporary folder)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="cache for the renderer and for source-clip landmarks (default: none kept)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--crf", type=int, default=RenderOptions.crf, help="x264 quality of the outputs")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra render option for the backend (repeatable), e.g. front_end=phones")
    parser.add_argument("--holdout-models", metavar="DIR",
                        help="rewrite backend: use DIR/<speaker>.json, the mouth model trained without the clip's "
                             "speaker (from train-mouth --holdout-dir), so no clip is scored by a model that saw it")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for landmark detection (default: up to 2)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the evaluate command from parsed arguments; returns the exit status."""
    from .oracle import ORACLE_NAME, oracle_renderer
    from .renderers import backend_renderer, holdout_renderer
    from .run import evaluate_clips
    from .sheet import draw_sheet

    missing = [c for c in args.clips if not Path(c).is_file()]
    if missing:
        raise EngineError(f"clip not found: {', '.join(missing)}")
    with LineSink(args.json_out) as emit:
        with tempfile.TemporaryDirectory(prefix="lipspool-evalcache-") as tmp_cache:
            cache_dir = args.cache_dir or tmp_cache
            if args.backend == ORACLE_NAME:
                factory = oracle_renderer(crf=args.crf)
            else:
                from engine.backends import get_backend

                get_backend(args.backend)  # fail now, not once per clip
                options = {"device": args.device, "crf": args.crf, "cache_dir": str(cache_dir),
                           **parse_option_pairs(args.option)}
                factory = (holdout_renderer(args.backend, options, args.holdout_models) if args.holdout_models
                           else backend_renderer(args.backend, options))
            result = evaluate_clips(args.clips, factory, args.backend, workdir=args.work_dir,
                                    workers=max(1, args.workers),
                                    landmark_cache=args.cache_dir or None, sheet=bool(args.sheet),
                                    on_record=lambda rec: emit(rec.to_json()), voice=args.voice)
        if result.summary is not None:
            emit(result.summary.to_json())
        if args.sheet:
            path = draw_sheet(result.blocks, args.sheet)
            log.info("contact sheet: %s", path)
    return 0 if result.reports else 1

