"""One wav2lip render: face boxes from the track, mel chunks, batched generation, compositing."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ...composite import composite_mouth, composite_mouth_frame, mouth_polygons
from ...errors import MediaError
from ...faces import FaceTrack, track_video
from ...media.audio import load_audio
from ...media.probe import probe
from ...media.read import Frame
from ...media.yuv import align_region, read_region
from ...pingpong import pingpong_index
from ..base import ProgressFn, RenderContext
from .audio import SAMPLE_RATE, AudioTooShort, InvalidAudio, mel_chunks, melspectrogram
from .crops import face_box, face_input, paste_patch
from .infer import Generator, GeneratorSettings, cached_generator


def official_mono(path: Path) -> np.ndarray:
    """The audio at 16 kHz as the official code hears it: a stereo file's channels averaged, as
    librosa.load does (FFmpeg's own downmix would scale the sum by 0.707, 3 dB louder)."""
    if probe(path, "audio").audio_channels == 2:
        return load_audio(path, SAMPLE_RATE, mono=False).mean(axis=0)
    return load_audio(path, SAMPLE_RATE, mono=True)


class Wav2LipJob:
    """Everything one render needs, prepared before the first frame (bad options and checkpoints fail first)."""

    def __init__(self, ctx: RenderContext, settings: GeneratorSettings, progress: ProgressFn) -> None:
        self.ctx, self.progress = ctx, progress
        progress("model", 0.0)
        self.generator: Generator = cached_generator(settings)
        self.track: FaceTrack = track_video(ctx.video, ctx.fps, progress=progress,
                                            cache_dir=ctx.options.cache_dir or None, landmarks=ctx.options.landmarks,
                                            models_dir=ctx.options.models_dir or None)
        try:
            self.mel = melspectrogram(official_mono(ctx.audio))
        except (AudioTooShort, InvalidAudio) as exc:
            raise MediaError(f"{ctx.audio.name}: {exc}") from exc
        self.n_src = max(1, self.track.n_frames)

    def points(self, k: int) -> np.ndarray | None:
        """The landmarks of output frame k's source frame, or None where it has no face."""
        j = min(pingpong_index(k, self.n_src), self.n_src - 1)
        return self.track.points[j] if self.track.present[j] else None

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """The output frames, generated a batch at a time."""
        batch: list[tuple[int, Frame]] = []
        for k, frame in enumerate(frames):
            batch.append((k, frame))
            if len(batch) == self.generator.batch_size:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def _batch(self, batch: list[tuple[int, Frame]]) -> Iterator[Frame]:
        """One batch: crop every face, generate them in one pass, composite each back."""
        todo = []
        for i, (k, frame) in enumerate(batch):
            pts = self.points(k)
            if pts is None:
                continue
            width, height = _size(frame)
            try:
                box = align_region(face_box(pts, width, height), width, height)
            except ValueError:
                continue  # a face too small to generate: the frame passes through
            crop = read_region(frame, box) if not isinstance(frame, np.ndarray) else frame[box[1]:box[3], box[0]:box[2]]
            todo.append((i, k, pts, box, face_input(crop)))
        out = [frame for _, frame in batch]
        if todo:
            chunks = mel_chunks(self.mel, self.ctx.fps, len(batch), first=batch[0][0])
            faces = self.generator(chunks[[t[0] for t in todo]], np.stack([t[4] for t in todo]))
            for (i, _, pts, box, _), face in zip(todo, faces):
                patch = paste_patch(face, box)
                local = pts - np.array(box[:2], np.float32)
                compose = composite_mouth if isinstance(out[i], np.ndarray) else composite_mouth_frame
                out[i] = compose(out[i], pts, patch, local, exclude=mouth_polygons(pts))
        self.progress("synthesis", min(1.0, (batch[-1][0] + 1) / max(1, self.ctx.n_frames)))
        yield from out


def _size(frame: Frame) -> tuple[int, int]:
    """(width, height) of an RGB array or a decoded frame."""
    if isinstance(frame, np.ndarray):
        return frame.shape[1], frame.shape[0]
    return frame.width, frame.height
