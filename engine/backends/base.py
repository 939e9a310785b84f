"""The backend interface: a named frame synthesizer that render() feeds and encodes."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..options import RenderOptions, parse_declared

if TYPE_CHECKING:  # this module stays light: the option declarations are read through it
    import numpy as np

    from ..media.probe import MediaInfo

T = TypeVar("T")
ProgressFn = Callable[[str, float], None]


@dataclass(frozen=True)
class RenderContext:
    """Everything a backend needs for one render, prepared by engine.render."""

    audio: Path
    video: Path
    video_info: MediaInfo
    audio_duration_s: float
    fps: float  # output frame rate (= the source's sane rate)
    n_frames: int  # exactly this many frames must be yielded
    width: int  # display size of the source frames (before any even-size padding)
    height: int
    options: RenderOptions
    scratch_dir: Path  # a writable folder for temporary files (same file system as the output)
    settings: Any = None  # the backend's own options (its declaration's dataclass), checked by render()

    def settings_as(self, declaration: type[T], backend: str) -> T:
        """The backend's options as `declaration`: as render() checked them, else read from options.extra here."""
        if isinstance(self.settings, declaration):
            return self.settings
        return parse_declared(declaration, self.options.extra, f"backend {backend}")


class Backend(ABC):
    """A lip-sync method. Subclasses set `name` and implement is_available() and frames()."""

    name: str = ""
    diagnostic: bool = False  # a check or benchmark tool, not offered to users as a lip-sync

    @abstractmethod
    def is_available(self) -> tuple[bool, str]:
        """(usable on this machine?, why not / short description)."""

    @abstractmethod
    def frames(self, ctx: RenderContext, progress: ProgressFn) -> Iterator[np.ndarray]:
        """Yield exactly ctx.n_frames RGB uint8 (height, width, 3) output frames, in order.

        The backend may call progress(stage, fraction) for its own stages ("faces", "synthesis"),
        must let any exception from it propagate, and must clean up in `finally` blocks since
        the caller may close the generator early.
        """
