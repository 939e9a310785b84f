"""Command-line flags made from the option declarations (engine.options), for every CLI that
takes render options: `python -m engine render` and `python -m spooler submit`.

One flag per declared option name (`shape_weight` -> `--shape-weight`); a name two backends
declare gets one flag. Values are checked against the chosen backend's declaration, so a flag
meant for another backend is refused with a message that says whose it is.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .backends import option_specs
from .errors import InvalidOptions
from .options import DEFAULT_BACKEND, OPERATOR, OptionSpec, parse_option_pairs


def add_option_flags(parser: argparse.ArgumentParser, set_by: tuple[str, ...]) -> None:
    """Add a flag for each declared option set by one of `set_by` (engine.options USER, DAEMON, OPERATOR)."""
    owners: dict[str, list[str]] = {}
    first: dict[str, OptionSpec] = {}
    for owner, specs in option_specs().items():
        for spec in specs:
            if spec.meta.set_by in set_by:
                owners.setdefault(spec.name, []).append(owner)
                first.setdefault(spec.name, spec)
    group = parser.add_argument_group("render options (declared by the engine and each backend)")
    for name, spec in first.items():
        whose = "" if owners[name] == ["engine"] else f"[{', '.join(owners[name])}] "
        detail = "; ".join(d for d in (spec.describe() if spec.describe() != "text" else "",
                                       "" if spec.default in ("", None) else f"default {spec.default}") if d)
        group.add_argument(spec.flag, dest=f"opt_{name}", default=None, metavar=name.upper(),
                           help=f"{whose}{spec.help('en')}{f' ({detail})' if detail else ''}".replace("%", "%%"))
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="any declared option by its name, e.g. shape_weight=0.5 (repeatable)")


def options_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line, each checked against its declaration; InvalidOptions if not."""
    given: dict[str, Any] = dict(parse_option_pairs(getattr(args, "option", []) or []))
    given.update({key[4:]: value for key, value in vars(args).items() if key.startswith("opt_") and value is not None})
    backend = str(given.get("backend") or DEFAULT_BACKEND)
    specs = option_specs()
    if backend not in specs:
        return given  # the check that follows names the backends there are
    engine_specs = {s.name: s for s in specs["engine"]}
    own = {s.name: s for s in specs[backend]}
    out: dict[str, Any] = {}
    for name, value in given.items():
        spec = engine_specs.get(name) or own.get(name)
        if spec is None:
            others = [owner for owner, items in specs.items() if any(s.name == name for s in items)]
            where = f"an option of backend {', '.join(others)}, not of {backend}" if others else "not a known option"
            raise InvalidOptions(f"{name} is {where}")
        out[name] = value if spec.meta.set_by == OPERATOR else spec.convert(value)
        if spec.meta.file and isinstance(out[name], str) and out[name] and out[name] not in spec.meta.names:
            path = Path(out[name]).expanduser()
            if path.exists():
                out[name] = str(path.resolve())  # the daemon resolves a relative path elsewhere
    return out
