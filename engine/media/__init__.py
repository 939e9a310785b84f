"""Media in and out, one job per module, all on PyAV (FFmpeg inside the wheel):

- `probe`: what a file holds (MediaInfo), checked against the input limits from the headers;
- `read`: decoded frames (RGB arrays or display-oriented YUV frames);
- `write`: the MP4 writer (H.264 + AAC), written to a temporary name and renamed;
- `audio`: streamed audio frames, whole-file loading and the AAC output format;
- `yuv`: reading and rewriting a region of a YUV frame;
- `color`: the YUV matrices and ranges a frame is converted with;
- `limits`: the input limits enforced on headers and decoded frames;
- `errors`: MediaError messages that name the file and say what is wrong.

The package imports none of them, so `engine.media.probe` is always the module.
"""
