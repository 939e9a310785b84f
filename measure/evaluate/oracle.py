"""The oracle renderer, for testing the evaluator only: its output IS the true second half.

It writes the clip's true frames K..N-1 with the target audio, encoded the way engine.render
encodes (same CRF and preset), so an evaluation of it measures the evaluator's own floor: it
must score aperture_r close to 1 and mouth_lmd close to 0, up to re-encoding. It is not a
backend and cannot be chosen for a render.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.media.audio import load_audio
from engine.options import RenderOptions

from .clips import ClipCut, ClipSplit, iter_clip_frames, write_av
from .renderers import Renderer, RendererFactory

ORACLE_NAME = "oracle"


@dataclass
class OracleRenderer:
    """Writes the true second half of `cut` (ignores the template) with the given audio."""

    cut: ClipCut
    crf: int = RenderOptions.crf
    preset: str = RenderOptions.preset
    name: str = ORACLE_NAME

    def __call__(self, template: Path, audio: Path, out: Path) -> None:
        """Encode frames K..N-1 of the source with `audio` into `out`."""
        cut = self.cut
        sound = load_audio(audio, cut.audio_rate, mono=cut.channels == 1)
        sound = sound[None, :] if sound.ndim == 1 else sound
        write_av(Path(out), iter_clip_frames(cut, cut.template_frames, cut.n_frames), sound, cut,
                 self.crf, self.preset)


def oracle_renderer(crf: int = RenderOptions.crf, preset: str = RenderOptions.preset) -> RendererFactory:
    """A factory giving, per clip, the OracleRenderer that knows that clip's truth."""

    def make(split: ClipSplit) -> Renderer:
        return OracleRenderer(split.cut, crf, preset)

    return make
