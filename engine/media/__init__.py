"""Media I/O in one import: probing, streamed frame/audio reading and the MP4 writer."""
from __future__ import annotations

from .audio import aac_output_format, iter_audio_frames, load_audio
from .probe import MediaInfo, audio_duration, fps_fraction, probe
from .read import iter_frames, read_frame_at, to_rgb
from .write import VideoWriter

__all__ = ["MediaInfo", "VideoWriter", "aac_output_format", "audio_duration", "fps_fraction",
           "iter_audio_frames", "iter_frames", "load_audio", "probe", "read_frame_at", "to_rgb"]
