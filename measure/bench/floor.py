"""The ffmpeg-only floor: decode the input and encode the same output with nothing else in between.

Same settings as a render: libx264 with the same crf/preset, yuv420p, the source frame rate,
exactly n_frames frames (the input is decoded again from the start whenever it runs out, like
`ffmpeg -stream_loop -1`), and the same audio resampled and encoded as AAC into an MP4.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from engine.media.audio import aac_output_format, iter_audio_frames
from engine.media.probe import fps_fraction, probe


def _looped_frames(path: Path) -> Iterator[av.VideoFrame]:
    """The video's decoded frames, from the start again at every end (forever)."""
    while True:
        produced = 0
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                produced += 1
                yield frame
        if not produced:
            raise ValueError(f"no frames in {path.name}")


def ffmpeg_floor(video: str | os.PathLike[str], audio: str | os.PathLike[str], out: str | os.PathLike[str],
                 n_frames: int, crf: int, preset: str) -> int:
    """Decode `video` and encode n_frames of it with `audio` into `out`; returns the frames written."""
    vinfo, ainfo = probe(video, "video"), probe(audio, "audio")
    rate = fps_fraction(vinfo.fps)
    a_rate, layout = aac_output_format(ainfo.audio_rate, ainfo.audio_channels)
    with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        v = container.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = vinfo.width + vinfo.width % 2, vinfo.height + vinfo.height % 2, "yuv420p"
        tb = v.time_base = 1 / rate
        v.options = {"crf": str(crf), "preset": preset}
        a = container.add_stream("aac", rate=a_rate, layout=layout)
        a.bit_rate = 128_000 if layout != "mono" else 96_000
        a.time_base = Fraction(1, a_rate)
        sound = iter_audio_frames(audio, a_rate, layout)
        samples, written = 0, 0
        frames = _looped_frames(Path(video))
        for frame in frames:
            if written >= n_frames:
                break
            while samples < (written + 1) * a_rate / rate:
                chunk = next(sound, None)
                if chunk is None:
                    break
                chunk.pts = samples
                samples += chunk.samples
                container.mux(a.encode(chunk))
            frame.pts, frame.time_base = written, tb
            frame.pict_type = av.video.frame.PictureType.NONE
            container.mux(v.encode(frame))
            written += 1
        frames.close()
        for chunk in sound:
            chunk.pts = samples
            samples += chunk.samples
            container.mux(a.encode(chunk))
        container.mux(v.encode(None))
        container.mux(a.encode(None))
    return written
