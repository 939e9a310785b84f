"""`python -m measure frontends` (compare the audio front ends) and `python -m measure train-mouth`."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from engine.errors import EngineError
from engine.speech.learned import FEATURE_SETS

from .speakers import LICENCE_CLASSES

log = logging.getLogger(__name__)


def add_compare_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of `frontends`."""
    parser.add_argument("clips", nargs="+", metavar="CLIP", help="real talking clips with their own speech")
    parser.add_argument("--front-end", action="append", default=None,
                        help="front end to score (repeatable; default: all)")
    parser.add_argument("--no-voice", action="store_true", help="skip the 'another voice' test (needs pyworld)")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache of source-clip landmarks")
    parser.add_argument("--table", metavar="FILE", help="also write the Markdown table here")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    return parser


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of `train-mouth`."""
    parser.add_argument("clips", nargs="+", metavar="CLIP", help="real talking clips with their own speech")
    parser.add_argument("--out", required=True, help="model JSON to write (the shipped one is "
                                                     "engine/speech/mouth_model.json)")
    parser.add_argument("--holdout-dir", metavar="DIR",
                        help="also write one model per speaker, chosen and trained without that speaker, as "
                             "DIR/<speaker>.json (for 'evaluate --holdout-models')")
    parser.add_argument("--validate", action="store_true",
                        help="score every clip by nested leave-one-speaker-out validation first (JSON lines, "
                             "then a Markdown table)")
    parser.add_argument("--feature-set", action="append", choices=FEATURE_SETS, default=None,
                        help="feature set(s) to validate side by side (repeatable); the model is trained "
                             "with the first (default: the shipped model's)")
    parser.add_argument("--no-voice", action="store_true", help="with --validate: skip the other-voice figures")
    parser.add_argument("--table", metavar="FILE", help="with --validate: also write the Markdown table here")
    parser.add_argument("--licence", action="append", choices=LICENCE_CLASSES, default=None,
                        help="learn only from clips of these licence classes (repeatable; default: open and "
                             "unknown, as the shipped model; validation still scores every clip)")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache of source-clip landmarks")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    return parser


def _check(clips: list[str]) -> None:
    missing = [c for c in clips if not Path(c).is_file()]
    if missing:
        raise EngineError(f"clip not found: {', '.join(missing)}")


def run_compare(args: argparse.Namespace) -> int:
    """Print one JSON line per (clip, front end), then the Markdown table."""
    from .frontends import compare, table

    _check(args.clips)
    scores = compare(args.clips, args.front_end, args.cache_dir, max(1, args.workers), not args.no_voice,
                     on_score=lambda s: print(s.to_json(), flush=True))
    text = table(scores)
    print(text)
    if args.table:
        Path(args.table).write_text(text + "\n", encoding="utf-8")
    return 0 if scores else 1


def run_train(args: argparse.Namespace) -> int:
    """Validate (optionally), then fit and write the mouth model (and the held-out ones)."""
    from .frontends import load_clip
    from .training import (
        SHIPPED_FEATURE_SET,
        SHIPPED_LICENCES,
        held_out_models,
        leave_one_speaker_out,
        prepare,
        table,
        train_final,
    )

    _check(args.clips)
    licences = tuple(args.licence) if args.licence else SHIPPED_LICENCES
    data = []
    for clip in args.clips:
        try:
            data.append(load_clip(clip, args.cache_dir, max(1, args.workers)))
        except EngineError as exc:
            log.error("%s: %s (left out)", Path(clip).name, exc)
    if not data:
        raise EngineError("no usable clip to train on")
    clips = [prepare(d, voice=args.validate and not args.no_voice) for d in data]
    if args.validate:
        texts = []
        for feature_set in args.feature_set or [SHIPPED_FEATURE_SET]:
            scores = leave_one_speaker_out(clips, feature_set, licences=licences,
                                           on_score=lambda s: print(s.to_json(), flush=True))
            texts.append(f"feature set: {feature_set}\n\n{table(scores)}")
        text = "\n\n".join(texts)
        print(text)
        if args.table:
            Path(args.table).write_text(text + "\n", encoding="utf-8")
    feature_set = (args.feature_set or [SHIPPED_FEATURE_SET])[0]
    model = train_final(clips, feature_set, licences=licences)
    model.save(args.out)
    print(f"wrote {args.out} ({len(model.trained_on)} clips of {', '.join(licences)} licence)")
    if args.holdout_dir:
        folder = Path(args.holdout_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for speaker, held in held_out_models(clips, feature_set, licences=licences).items():
            held.save(folder / f"{speaker}.json")
        print(f"wrote held-out models to {folder}")
    return 0
