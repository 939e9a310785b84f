"""The template report: figures of one presenter video, a verdict and advice in Chinese and English.

Light (NumPy only): `figures_of` turns landmarks into figures, `judge` turns figures into the
verdict and advice. Each rule below names the figure it looks at and its "usable" and "poor"
limits; the verdict is "poor" when any rule says poor, "usable" when any says usable, else "good".
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from ..faces.canonical import CANONICAL_68, to_canonical_series
from ..faces.geometry import head_pose
from .mouths import USABLE_FOR_SPEECH, MouthClass, classify_features, mouth_features, neutral_of

SCHEMA = 1
FRONTAL_PITCH = float(head_pose(CANONICAL_68)[2])  # the pitch proxy of the mean face looking straight ahead

# speech-like movement: the mouth opens and closes again and again, as syllables make it do (about 2-5
# times a second in speech; talkers on the shared clips: 0.9-2.2 such cycles a second over the whole clip,
# pauses included), and the mouths are mostly speech-like. An expression held, or changed now and then,
# does not (a clip of grins and grimaces: 0.3 a second).
SWING = 0.04  # an opening cycle: up and down again by this much, in neutral mouth widths
WINDOW_S = 3.0  # a sample shows speech when the WINDOW_S around it hold ...
WINDOW_CYCLES = 2  # ... at least this many opening cycles ...
WINDOW_SPEECH_SHARE = 0.3  # ... and at least this share of its face samples is classed SPEECH
SHAPE_STEP = 0.05  # distinct shapes: cells of (opening, width) this size, in neutral mouth widths
SHAPE_MIN_S = 0.08  # a shape counts when the usable mouths show it this long in all ...
SHAPE_MIN_SHARE = 0.005  # ... and at least this share of their time (and 2 samples)

# (usable below / above, poor below / above) limits of each rule
FACE_SHARE = (0.9, 0.5)
FACE_PX = (110.0, 60.0)
TURN = (0.15, 0.3)  # median |yaw| and |pitch - frontal|, in eye-corner distances (~20 and ~35 degrees)
SPEECH_SHARE = (0.5, 0.25)  # talkers on the shared clips: 0.4-1.0; a clip of grins and grimaces: 0.22
SPEECH_S = (10.0, 2.5)
OPENING_RANGE = (0.12, 0.07)  # p97 - p3 of the opening of speech-usable mouths, in neutral widths
DISTINCT = (5, 2)  # distinct mouth shapes: a still face shows 1, real talkers 4 and more
EXPRESSION_SHARE = 0.25  # above: usable at best
OCCLUDED_SHARE = 0.2


class Verdict(StrEnum):
    """How well a presenter video will serve as a lip-sync template."""

    GOOD = "good"
    USABLE = "usable"
    POOR = "poor"


@dataclass
class TemplateReport:
    """What the template check found in one presenter video (JSON via `to_dict`/`to_json`)."""

    video: str
    verdict: Verdict
    summary: dict[str, str]  # {"zh": ..., "en": ...}
    advice: list[dict[str, str]]  # each {"code": ..., "zh": ..., "en": ...}; empty when nothing to improve
    source: str  # "track" (every frame, from the face track) or "sampled" (a subsample of frames)
    sample_rate_hz: float  # frames a second analysed
    frames_analysed: int
    duration_s: float
    fps: float
    width: int
    height: int
    is_image: bool
    face_share: float  # analysed frames with a usable face (found, mouth not hidden)
    face_px: float  # median brow-to-chin height of the face, pixels
    face_height_share: float  # face_px over the picture's height
    yaw: float  # median |yaw proxy|: the nose tip's offset across the face, in eye-corner distances
    pitch: float  # median |pitch proxy| against a face looking straight ahead, same units
    roll_deg: float  # median |tilt of the eye line|, degrees
    speech_share: float  # share of the face time showing speech-like mouth movement
    speech_s: float  # seconds of it
    classes: dict[str, float]  # share of analysed frames per MouthClass
    opening_range: float  # p97 - p3 of the mouth opening of speech-usable mouths, canonical units
    opening_range_rel: float  # the same in neutral mouth widths
    distinct_shapes: int  # (opening, width) cells the speech-usable mouths fill
    neutral: dict[str, Any] = field(default_factory=dict)  # the presenter's neutral mouth (see mouths.py)
    check_s: float = 0.0  # seconds the check took
    schema: int = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the verdict as its string)."""
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return data

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


def _r(x: float, digits: int = 3) -> float:
    return round(float(x), digits) if np.isfinite(x) else 0.0


def _median_abs(x: np.ndarray) -> float:
    return float(np.median(np.abs(x))) if len(x) else 0.0


def opening_cycles(times: np.ndarray, opening: np.ndarray, swing: float) -> np.ndarray:
    """Times of the peaks of the opening's up-and-down cycles of at least `swing` (NaN: a gap, which ends a cycle)."""
    peaks: list[float] = []
    rising, lo, hi, t_hi = False, np.inf, -np.inf, 0.0
    for t, v in zip(times, opening):
        if not np.isfinite(v):
            rising, lo, hi = False, np.inf, -np.inf
            continue
        if not rising:
            lo = min(lo, v)
            if v - lo >= swing:
                rising, hi, t_hi = True, v, t
        else:
            if v > hi:
                hi, t_hi = v, t
            if hi - v >= swing:
                peaks.append(t_hi)
                rising, lo = False, v
    return np.array(peaks, np.float64)


def speech_windows(times: np.ndarray, classes: np.ndarray, opening: np.ndarray, unit: float) -> np.ndarray:
    """Per sample: True where the WINDOW_S around it show speech-like mouth movement (see module constants)."""
    times = np.asarray(times, np.float64)
    usable = np.isin(classes, USABLE_FOR_SPEECH)
    peaks = opening_cycles(times, np.where(usable, opening / unit, np.nan), SWING)
    half = WINDOW_S / 2
    n_peaks = np.searchsorted(peaks, times + half, side="right") - np.searchsorted(peaks, times - half, side="left")
    face = (classes != MouthClass.NO_FACE).astype(np.int64)
    speech = (classes == MouthClass.SPEECH).astype(np.int64)
    cum_face, cum_speech = np.concatenate([[0], np.cumsum(face)]), np.concatenate([[0], np.cumsum(speech)])
    lo, hi = np.searchsorted(times, times - half, side="left"), np.searchsorted(times, times + half, side="right")
    faces, speaking = cum_face[hi] - cum_face[lo], cum_speech[hi] - cum_speech[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(faces > 0, speaking / np.maximum(faces, 1), 0.0)
    return (face > 0) & (n_peaks >= WINDOW_CYCLES) & (share >= WINDOW_SPEECH_SHARE)


def distinct_shapes(opening: np.ndarray, width: np.ndarray, unit: float, rate_hz: float) -> int:
    """How many clearly different (opening, width) mouths the samples (taken at rate_hz) dwell on.

    The shapes, in neutral mouth widths, are binned in cells of half SHAPE_STEP; the fullest cells
    are taken greedily as shape centres, each at least SHAPE_STEP from every centre already taken
    (so landmark jitter around one shape counts once), while they hold at least SHAPE_MIN_S seconds
    and SHAPE_MIN_SHARE of the samples (and 2 samples).
    """
    if len(opening) <= 1:
        return len(opening)
    half = SHAPE_STEP / 2
    cells = np.stack([np.floor(opening / unit / half), np.floor(width / unit / half)], axis=1).astype(np.int64)
    found, counts = np.unique(cells, axis=0, return_counts=True)
    least = max(2.0, SHAPE_MIN_S * rate_hz, SHAPE_MIN_SHARE * len(opening))
    centres: list[np.ndarray] = []
    for k in np.argsort(-counts, kind="stable"):
        if counts[k] < least:
            break
        if all(np.abs(found[k] - c).max() >= 2 for c in centres):
            centres.append(found[k])
    return len(centres)


@dataclass
class Figures:
    """The measured figures, before judging."""

    n: int
    face_share: float
    face_px: float
    face_height_share: float
    yaw: float
    pitch: float
    roll_deg: float
    speech_share: float
    speech_s: float
    classes: dict[str, float]
    opening_range: float
    opening_range_rel: float
    distinct_shapes: int
    neutral: dict[str, Any]


def figures_of(points: np.ndarray, times: np.ndarray, frame_height: int) -> Figures:
    """Figures of one presenter from image landmarks (n, 68, 2) (NaN: no face) at `times` seconds."""
    pts = np.asarray(points, np.float64)
    n = len(pts)
    canon = to_canonical_series(pts)
    features = mouth_features(canon)
    neutral = neutral_of(features)
    classes = classify_features(features, neutral)
    counts = {c.value: _r(np.mean(classes == c)) if n else 0.0 for c in MouthClass}
    face = (classes != MouthClass.NO_FACE) & (classes != MouthClass.OCCLUDED)
    empty = Figures(n=n, face_share=0.0, face_px=0.0, face_height_share=0.0, yaw=0.0, pitch=0.0, roll_deg=0.0,
                    speech_share=0.0, speech_s=0.0, classes=counts, opening_range=0.0, opening_range_rel=0.0,
                    distinct_shapes=0, neutral={})
    if neutral is None or not face.any():
        return empty
    fp = pts[face]
    brow = (fp[:, 19] + fp[:, 24]) / 2
    face_px = float(np.median(np.linalg.norm(fp[:, 8] - brow, axis=1)))
    poses = np.array([head_pose(p) for p in fp])
    unit = neutral.width
    windows = speech_windows(times, classes, features.opening, unit)
    speech_share = float(windows[face].mean())
    duration = _span(times)
    usable = np.isin(classes, USABLE_FOR_SPEECH)
    opening = features.opening[usable]
    o_range = float(np.percentile(opening, 97) - np.percentile(opening, 3)) if len(opening) else 0.0
    return Figures(n=n, face_share=_r(face.mean()), face_px=_r(face_px, 1),
                   face_height_share=_r(face_px / frame_height if frame_height else 0.0),
                   yaw=_r(_median_abs(poses[:, 1])), pitch=_r(_median_abs(poses[:, 2] - FRONTAL_PITCH)),
                   roll_deg=_r(np.degrees(_median_abs(poses[:, 0])), 1),
                   speech_share=_r(speech_share), speech_s=_r(speech_share * face.mean() * duration, 1),
                   classes=counts, opening_range=_r(o_range, 4), opening_range_rel=_r(o_range / unit),
                   distinct_shapes=distinct_shapes(opening, features.width[usable], unit, 1.0 / _step(times)),
                   neutral=neutral.to_dict())


def _step(times: np.ndarray) -> float:
    """The usual time between samples (1 s for a single sample)."""
    return float(np.median(np.diff(times))) if len(times) > 1 else 1.0


def _span(times: np.ndarray) -> float:
    """Seconds the samples cover (one sample interval added for the last one)."""
    return float(times[-1] - times[0]) + _step(times) if len(times) > 1 else 0.0


SUMMARY = {
    Verdict.GOOD: {"zh": "模板良好：适合口型同步。", "en": "Good template: well suited to lip-sync."},
    Verdict.USABLE: {"zh": "模板可用：能生成结果，但效果可能不够自然。",
                     "en": "Usable template: it will work, but the result may look less natural."},
    Verdict.POOR: {"zh": "模板较差：口型同步效果会不自然。",
                   "en": "Poor template: the lip-sync will not look natural."},
}
RECORD_ADVICE = {"zh": "请录制 10 秒以上正对镜头讲话的视频。",
                 "en": "Record 10 s or more of the presenter speaking, facing the camera."}


def _advice(code: str, zh: str, en: str) -> dict[str, str]:
    return {"code": code, "zh": zh, "en": en}


def judge(fig: Figures, is_image: bool) -> tuple[Verdict, list[dict[str, str]]]:
    """The verdict and the advice (most important first) for measured figures."""
    levels: list[Verdict] = []
    advice: list[dict[str, str]] = []

    def rule(level: Verdict | None, item: dict[str, str]) -> None:
        if level is not None:
            levels.append(level)
            advice.append(item)

    def grade(value: float, limits: tuple[float, float], higher_is_better: bool = True) -> Verdict | None:
        usable, poor = limits
        if higher_is_better:
            return Verdict.POOR if value < poor else Verdict.USABLE if value < usable else None
        return Verdict.POOR if value > poor else Verdict.USABLE if value > usable else None

    if fig.face_share <= 0:
        rule(Verdict.POOR, _advice("no_face", "未检测到可用的人脸。请使用人物面部清晰、正对镜头的视频或照片。",
                                   "No usable face was found. Use a video or photo in which the presenter's face "
                                   "is clearly visible and faces the camera."))
        return Verdict.POOR, advice
    if is_image:
        rule(Verdict.POOR, _advice("photo", "这是一张照片：照片只能生成粗略的口型动画。" + RECORD_ADVICE["zh"],
                                   "This is a photo: a photo can only be animated roughly. " + RECORD_ADVICE["en"]))
    pct = round(fig.face_share * 100)
    rule(grade(fig.face_share, FACE_SHARE), _advice(
        "face_missing", f"只有 {pct}% 的画面能看清人脸。请让人物面部始终在画面中，不要遮挡嘴部。",
        f"A usable face is visible in only {pct}% of the video. Keep the presenter's face in the picture all "
        "the time, with nothing in front of the mouth."))
    px = round(fig.face_px)
    rule(grade(fig.face_px, FACE_PX), _advice(
        "face_small", f"人脸太小（高约 {px} 像素）。请靠近拍摄或使用更高分辨率，"
                      f"使人脸高度至少达到 {FACE_PX[0]:.0f} 像素。",
        f"The face is small (about {px} px high). Film closer or at a higher resolution, so that the face is at "
        f"least {FACE_PX[0]:.0f} px high."))
    turn = max(fig.yaw, fig.pitch)
    rule(grade(turn, TURN, higher_is_better=False), _advice(
        "head_turned", "头部经常偏离镜头（侧脸、低头或抬头）。请正对镜头。",
        "The head is often turned away from the camera (to the side, up or down). Face the camera."))
    if not is_image:
        speech = grade(fig.speech_share, SPEECH_SHARE)
        seconds = grade(fig.speech_s, SPEECH_S)
        if Verdict.POOR in (speech, seconds):
            rule(Verdict.POOR, _advice("little_speech", "视频中人物几乎没有说话。" + RECORD_ADVICE["zh"],
                                       "The presenter hardly speaks in this video. " + RECORD_ADVICE["en"]))
        elif seconds is not None:
            rule(seconds, _advice("short_speech", f"只有约 {fig.speech_s:.0f} 秒像在说话。" + RECORD_ADVICE["zh"],
                                  f"Only about {fig.speech_s:.0f} s show speech-like mouth movement. "
                                  + RECORD_ADVICE["en"]))
        elif speech is not None:
            rule(speech, _advice("some_speech", f"只有 {round(fig.speech_share * 100)}% 的时间在说话。"
                                 "请使用人物持续讲话的片段。",
                                 f"The presenter speaks in only {round(fig.speech_share * 100)}% of the video. "
                                 "Use a stretch in which the presenter keeps talking."))
        variety = grade(fig.opening_range_rel, OPENING_RANGE)
        shapes = grade(fig.distinct_shapes, DISTINCT)
        worst = Verdict.POOR if Verdict.POOR in (variety, shapes) else variety or shapes
        rule(worst, _advice("few_shapes", "嘴型变化很少。请录制人物自然说话、嘴巴正常开合的视频。",
                            "The mouth barely changes shape. Record the presenter talking naturally, opening the "
                            "mouth as in normal speech."))
    expression = fig.classes.get(MouthClass.EXPRESSION, 0.0) + fig.classes.get(MouthClass.ASYMMETRIC, 0.0)
    occluded = fig.classes.get(MouthClass.OCCLUDED, 0.0)
    for share, limit, code, zh, en in (
            (expression, EXPRESSION_SHARE, "expressions",
             "{pct}% 的画面在微笑、撇嘴或做表情，这些嘴型不能用来说话。请在讲话时保持自然放松的表情。",
             "The presenter smiles, smirks or pulls faces in {pct}% of the video; those mouths cannot be used for "
             "speech. Keep a relaxed, natural face while talking."),
            (occluded, OCCLUDED_SHARE, "mouth_hidden",
             "{pct}% 的画面中嘴部被遮挡或看不清（手、话筒、头发）。请让嘴部始终清晰可见。",
             "The mouth is hidden or unclear in {pct}% of the video (a hand, a microphone, hair). Keep the mouth "
             "clearly visible.")):
        if share > limit:
            pct = round(share * 100)
            rule(Verdict.USABLE, _advice(code, zh.format(pct=pct), en.format(pct=pct)))
    verdict = Verdict.POOR if Verdict.POOR in levels else Verdict.USABLE if levels else Verdict.GOOD
    order = {Verdict.POOR: 0, Verdict.USABLE: 1}
    ranked = sorted(zip(levels, advice), key=lambda la: order[la[0]])
    return verdict, [a for _, a in ranked]
