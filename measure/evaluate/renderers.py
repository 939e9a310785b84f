"""What produces the output O under evaluation: a named callable given only the template and audio.

A `RendererFactory` is called once per clip with the clip's split and returns the `Renderer` for
it. A real renderer uses only `template` and `audio` (the split is ignored), so it never sees the
true second half; only the test oracle (see `oracle`) looks at the truth, by design.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .clips import ClipSplit


class Renderer(Protocol):
    """Renders `audio` onto the `template` video into the MP4 `out` (exactly there)."""

    name: str

    def __call__(self, template: Path, audio: Path, out: Path) -> None:
        """Write the output video."""


RendererFactory = Callable[[ClipSplit], Renderer]


@dataclass
class BackendRenderer:
    """engine.render with a named backend and fixed options."""

    backend: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The backend's name."""
        return self.backend

    def __call__(self, template: Path, audio: Path, out: Path) -> None:
        """engine.render(audio, template, out, options + backend)."""
        from engine.rendering import render

        render(audio, template, out, {**self.options, "backend": self.backend})


def backend_renderer(backend: str, options: dict[str, Any] | None = None) -> RendererFactory:
    """A factory giving a BackendRenderer for every clip (the split is not passed on)."""
    opts = dict(options or {})

    def make(split: ClipSplit) -> Renderer:
        return BackendRenderer(backend, opts)

    return make


def holdout_renderer(backend: str, options: dict[str, Any], models: str | Path) -> RendererFactory:
    """Like backend_renderer, but each clip's render uses the mouth model trained without its
    speaker (`models`/<speaker>.json, written by `python -m measure train-mouth --holdout-dir`)."""
    from engine.errors import EngineError

    from .speakers import speaker_of

    opts = dict(options or {})

    def make(split: ClipSplit) -> Renderer:
        path = Path(models) / f"{speaker_of(split.cut.source.name)}.json"
        if not path.is_file():
            raise EngineError(f"no held-out mouth model {path}; run 'python -m measure train-mouth "
                              f"--holdout-dir {models}' on a set of clips that includes this one")
        return BackendRenderer(backend, {**opts, "mouth_model": str(path)})

    return make
