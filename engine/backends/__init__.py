"""Backend registry: look lip-sync methods up by name."""
from __future__ import annotations

from collections.abc import Callable

from ..errors import UnknownBackendError
from .base import Backend, ProgressFn, RenderContext

_FACTORIES: dict[str, Callable[[], Backend]] = {}


def register(name: str, factory: Callable[[], Backend]) -> None:
    """Make a backend available under `name` (a later registration replaces an earlier one)."""
    _FACTORIES[name] = factory


def unregister(name: str) -> None:
    """Remove a backend registered under `name` (no error if absent)."""
    _FACTORIES.pop(name, None)


def _none() -> Backend:
    from .none import NoneBackend
    return NoneBackend()


def _identity() -> Backend:
    from .identity import IdentityBackend
    return IdentityBackend()


def _rewrite() -> Backend:
    from .rewrite import RewriteBackend
    return RewriteBackend()


def _wav2lip() -> Backend:
    from .wav2lip import Wav2LipBackend
    return Wav2LipBackend()


register("none", _none)
register("identity", _identity)
register("rewrite", _rewrite)
register("wav2lip", _wav2lip)


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
        raise UnknownBackendError(f"unknown backend '{name}'; available: {names}")
    backend = factory()
    ok, why = backend.is_available()
    if not ok:
        raise UnknownBackendError(f"backend '{name}' is not usable here: {why}")
    return backend


__all__ = ["Backend", "ProgressFn", "RenderContext", "available_backends", "backend_names",
           "backend_status", "get_backend", "register", "unregister"]
