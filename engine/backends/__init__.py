"""Backend registry: look lip-sync methods, and the options each declares, up by name.

Importing this is light: a backend's code loads when it is first used, while its option
declaration (a small dataclass, see engine.options) is known from registration on. Everything
that offers or checks options (the CLIs, the job check, the daemon, the dashboard) asks here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from ..errors import InvalidOptions, UnknownBackendError
from ..options import NoOptions, OptionSpec, RenderOptions, declared, parse_declared
from .base import Backend, ProgressFn, RenderContext
from .rewrite.options import RewriteOptions
from .wav2lip.options import Wav2LipOptions

_FACTORIES: dict[str, Callable[[], Backend]] = {}
_OPTIONS: dict[str, type] = {}


def register(name: str, factory: Callable[[], Backend], options: type = NoOptions) -> None:
    """Make a backend available under `name` with its options declaration (a later registration replaces an earlier
    one)."""
    _FACTORIES[name] = factory
    _OPTIONS[name] = options


def unregister(name: str) -> None:
    """Remove a backend registered under `name` (no error if absent)."""
    _FACTORIES.pop(name, None)
    _OPTIONS.pop(name, None)


def options_class(name: str) -> type:
    """The options declaration of backend `name`; UnknownBackendError for an unregistered name."""
    if name not in _OPTIONS:
        known = ", ".join(backend_names()) or "none"
        raise UnknownBackendError(f"unknown backend {name[:80]!r}; known backends: {known}")
    return _OPTIONS[name]


def option_specs() -> dict[str, list[OptionSpec]]:
    """Declared options by owner: "engine" (RenderOptions) and each registered backend."""
    return {"engine": declared(RenderOptions), **{n: declared(options_class(n)) for n in backend_names()}}


def backend_options(options: RenderOptions) -> Any:
    """The chosen backend's options from `options.extra`, checked against its declaration.

    InvalidOptions names an unknown key with the options the engine and that backend know."""
    cls = options_class(options.backend)
    own = [spec.name for spec in declared(cls)]
    unknown = sorted(k for k in options.extra if k not in own)
    if unknown:
        engine = sorted({f.name for f in fields(RenderOptions)} - {"extra"})
        raise InvalidOptions(f"unknown option {unknown[0]!r}: the engine's options are {', '.join(engine)}; "
                             f"backend {options.backend}'s are {', '.join(own) or 'none'}"[:500])
    return parse_declared(cls, options.extra, f"backend {options.backend}")


def check_options(data: dict[str, Any] | RenderOptions | None) -> RenderOptions:
    """A job's or caller's options checked whole (the engine's and the chosen backend's), without loading any
    backend."""
    options = data if isinstance(data, RenderOptions) else RenderOptions.from_dict(data)
    backend_options(options)
    return options


def _none() -> Backend:
    from .none import NoneBackend
    return NoneBackend()


def _identity() -> Backend:
    from .identity import IdentityBackend
    return IdentityBackend()


def _rewrite() -> Backend:
    from .rewrite.backend import RewriteBackend
    return RewriteBackend()


def _wav2lip() -> Backend:
    from .wav2lip.backend import Wav2LipBackend
    return Wav2LipBackend()


register("none", _none)
register("identity", _identity)
register("rewrite", _rewrite, RewriteOptions)
register("wav2lip", _wav2lip, Wav2LipOptions)


def backend_names() -> list[str]:
    """Every registered backend name, usable or not."""
    return sorted(_FACTORIES)


def backend_status() -> dict[str, tuple[bool, str]]:
    """For every registered backend: (usable here?, why not / description)."""
    return {name: _FACTORIES[name]().is_available() for name in backend_names()}


def available_backends(include_diagnostic: bool = False) -> list[str]:
    """Names of the backends usable on this machine (diagnostic ones only when asked)."""
    names = []
    for name in backend_names():
        backend = _FACTORIES[name]()
        if backend.is_available()[0] and (include_diagnostic or not backend.diagnostic):
            names.append(name)
    return names


def get_backend(name: str) -> Backend:
    """The backend called `name`; UnknownBackendError if it does not exist or is not usable."""
    factory = _FACTORIES.get(name)
    if factory is None:
        names = ", ".join(available_backends()) or "none"
        raise UnknownBackendError(f"unknown backend {name[:80]!r}; available: {names}")
    backend = factory()
    ok, why = backend.is_available()
    if not ok:
        raise UnknownBackendError(f"backend '{name}' is not usable here: {why}")
    return backend


__all__ = ["Backend", "ProgressFn", "RenderContext", "available_backends", "backend_names", "backend_options",
           "backend_status", "check_options", "get_backend", "option_specs", "options_class", "register",
           "unregister"]
