"""JSON records of an evaluation: one per clip, one per failed clip, one summary with medians."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SCHEMA = 2  # 2: records say which voice drove the render ("voice")
VOICES = ("own", "other")  # the clip's own target audio, or it resynthesised in another voice
SUMMARY_FIELDS = ("aperture_r", "lag", "aperture_r0", "mouth_lmd", "baseline_lmd", "baseline_r", "loudness_r",
                  "silence_ratio", "silence_ratio_true", "psnr_outside", "jitter_ratio",
                  "flicker_ratio_median", "flicker_ratio_p90", "flicker_out_median", "flicker_out_p90",
                  "flicker_template_median", "flicker_template_p90")


def _clean(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, floats rounded to 4 decimals."""
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return round(v, 4) if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class JsonLine:
    """Records written as one JSON line each (NaN becomes null)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (NaN -> null)."""
        return _clean(asdict(self))  # type: ignore[call-overload]

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(self.to_dict())


@dataclass
class ClipReport(JsonLine):
    """Figures of one clip (QUALITY.md, self-reenactment); canonical units = outer-eye-corner distance.

    lag > 0: the output's mouth moves that many frames after the truth (loudness_lag > 0: the true
    mouth moves after the sound). silence_ratio is the output's, silence_ratio_true the truth's.
    flicker_*: frame-to-frame change of the face-aligned mouth region (`flicker`: mean CIELAB dE76
    per frame pair) of the output, the template half and the true half, median and 90th
    percentile over pairs; the ratios are the output's over the template's (1.0: no added flicker).
    """

    clip: str
    renderer: str
    fps: float
    frames: int  # M: target frames compared
    template_frames: int  # K
    duration_s: float  # target (= output) duration
    short_clip: bool  # a half is under 4 s: a noisy figure
    mouth_lmd: float
    aperture_r: float
    lag: int | None
    aperture_r0: float
    loudness_r: float
    loudness_lag: int | None
    loudness_r0: float
    silence_ratio: float
    silence_ratio_true: float
    silent_share: float  # share of target frames where the audio is silent
    baseline_lmd: float
    baseline_r: float
    baseline_lag: int | None
    baseline_r0: float
    baseline_silence_ratio: float
    faces_out: float  # share of output frames with a face
    faces_true: float  # share of true frames with a face
    faces_template: float
    out_frames: int  # frames the output actually had
    psnr_outside: float = float("nan")  # dB, output vs input outside the lower face grown 15 % (median)
    jitter_ratio: float = float("nan")  # eye/nose motion of the output over the input's (1.0: none added)
    flicker_out_median: float = float("nan")  # dE76 per frame pair, output
    flicker_out_p90: float = float("nan")
    flicker_template_median: float = float("nan")  # the same over the template half (source frames 0..K-1)
    flicker_template_p90: float = float("nan")
    flicker_true_median: float = float("nan")  # the same over the true second half (source frames K..N-1)
    flicker_true_p90: float = float("nan")
    flicker_ratio_median: float = float("nan")  # output over template (1.0: no added flicker)
    flicker_ratio_p90: float = float("nan")
    voice: str = "own"  # the voice of the audio the renderer got (VOICES)
    seconds: float = 0.0  # wall time of this clip's evaluation
    kind: str = "clip"
    schema: int = SCHEMA


@dataclass
class ClipFailure(JsonLine):
    """A clip that could not be evaluated, and why."""

    clip: str
    renderer: str
    error: str
    voice: str = "own"
    kind: str = "error"
    schema: int = SCHEMA


@dataclass
class Summary(JsonLine):
    """Medians over the evaluated clips (failed clips left out), plus the same over clips of 4 s halves or more."""

    renderer: str
    clips: int
    failed: int
    voice: str = "own"
    medians: dict[str, float] = field(default_factory=dict)
    long_clips: int = 0
    medians_long: dict[str, float] = field(default_factory=dict)
    kind: str = "summary"
    schema: int = SCHEMA


def _medians(reports: list[ClipReport]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in SUMMARY_FIELDS:
        vals = np.array([np.nan if getattr(r, name) is None else float(getattr(r, name)) for r in reports])
        vals = vals[np.isfinite(vals)]
        out[name] = float(np.median(vals)) if vals.size else float("nan")
    return out


def summarise(renderer: str, reports: list[ClipReport], failed: int = 0, voice: str = "own") -> Summary:
    """The summary record of a run."""
    long = [r for r in reports if not r.short_clip]
    return Summary(renderer=renderer, clips=len(reports), failed=failed, voice=voice, medians=_medians(reports),
                   long_clips=len(long), medians_long=_medians(long))


class LineSink:
    """Prints JSON lines to stdout and, when given a path, also writes them to that file."""

    def __init__(self, path: str | None = None) -> None:
        self._file = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def __call__(self, line: str) -> None:
        """Emit one line."""
        print(line, flush=True)
        if self._file is not None:
            self._file.write(line + "\n")
            self._file.flush()

    def __enter__(self) -> LineSink:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()

