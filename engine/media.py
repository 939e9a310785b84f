"""Media I/O in one import: probing, streamed frame/audio reading and the MP4 writer."""
from __future__ import annotations

from .media_audio import aac_output_format, iter_audio_frames, load_audio
from .media_probe import MediaInfo, audio_duration, fps_fraction, probe
from .media_read import iter_frames, read_frame_at, to_rgb
from .media_write import VideoWriter

__all__ = ["MediaInfo", "VideoWriter", "aac_output_format", "audio_duration", "fps_fraction",
           "iter_audio_frames", "iter_frames", "load_audio", "probe", "read_frame_at", "to_rgb"]
