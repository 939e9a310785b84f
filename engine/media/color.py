"""Colour matrices: which YUV matrix a frame uses, which one the output keeps, and the tags to write.

The output keeps the source's matrix (BT.709 or BT.601) so unmodified frames can pass from
decoder to encoder without any conversion; rarer matrices (BT.2020, SMPTE 240M, FCC) are
converted to BT.709. Untagged YUV is read the way players guess it: BT.709 for HD sizes,
BT.601 otherwise. RGB frames are written in the output's matrix.
"""
from __future__ import annotations

import av

BT709, BT601 = "bt709", "bt601"
# AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic values
_SPC_BT709, _SPC_BT470BG, _SPC_SMPTE170M = 1, 5, 6
_UNTAGGED = (0, 2, 3)  # RGB, UNSPECIFIED, RESERVED
_SWS_NAMES = {BT709: "ITU709", BT601: "ITU601"}
# (colorspace, primaries, transfer) tags written for each output matrix
TAGS = {BT709: (1, 1, 1), BT601: (6, 6, 6)}
RANGE_MPEG, RANGE_JPEG = 1, 2
_YUV_PREFIXES = ("yuv", "nv", "p0", "p2", "p4")


def is_yuv(frame: av.VideoFrame) -> bool:
    """True for YUV pixel formats (planar or semi-planar)."""
    return frame.format.name.startswith(_YUV_PREFIXES)


def is_hd(width: int, height: int) -> bool:
    """The size rule players use to guess the matrix of untagged video."""
    return width >= 1280 or height > 576


def source_colorspace(frame: av.VideoFrame) -> str | int:
    """The swscale colorspace to read a frame with: its tag, or the players' guess when untagged."""
    if is_yuv(frame) and frame.colorspace in _UNTAGGED:
        return "ITU709" if is_hd(frame.width, frame.height) else "ITU601"
    return frame.colorspace


def output_matrix(frame: av.VideoFrame) -> str:
    """The matrix an output of this source is written in: the source's own when BT.709/BT.601."""
    if not is_yuv(frame):
        return BT709
    spc = frame.colorspace
    if spc in _UNTAGGED:
        return BT709 if is_hd(frame.width, frame.height) else BT601
    return BT601 if spc in (_SPC_BT470BG, _SPC_SMPTE170M) else BT709


def sws_name(matrix: str) -> str:
    """swscale's name for an output matrix ("ITU709" / "ITU601")."""
    return _SWS_NAMES[matrix]


def is_full_range(frame: av.VideoFrame) -> bool:
    """True for full-range (JPEG) YUV: tagged so, or a yuvj* format."""
    return frame.color_range == RANGE_JPEG or frame.format.name.startswith("yuvj")


def matches_output(frame: av.VideoFrame, matrix: str) -> bool:
    """True when a frame is already 8-bit 4:2:0 limited-range YUV in `matrix` (nothing to convert)."""
    return frame.format.name == "yuv420p" and not is_full_range(frame) and output_matrix(frame) == matrix \
        and frame.colorspace in (*_UNTAGGED, _SPC_BT709, _SPC_BT470BG, _SPC_SMPTE170M)
