"""Render options: what a caller may ask of one render, declared once.

`RenderOptions` holds the engine's own options (backend, device, quality, folders, limits); each
backend declares its own as a frozen dataclass whose fields are made with `option()` (type,
default, bounds or choices, a label and one-line help in English and Chinese). `declared()` reads
a declaration back as `OptionSpec`s, and `parse_declared()` turns a dict into the dataclass,
refusing unknown keys with the list of known ones. The CLI flags, the job check at submit and
claim, the daemon and the dashboard's widgets are all made from these declarations
(`engine.backends.option_specs`), so adding an option touches one file.

This module is light (no media libraries), so the spooler and the dashboard can validate a
job's options before it is queued.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, TypeVar

from .errors import InvalidOptions
from .limits import parse_pixels, parse_seconds, parse_side

T = TypeVar("T")
DEFAULT_BACKEND = "rewrite"
LANDMARKS = ("dlib", "fan")  # landmark models the face tracker can use (engine.faces)
USER, DAEMON, OPERATOR = "user", "daemon", "operator"  # who sets an option


@dataclass(frozen=True)
class Option:
    """What the declaration says about one option besides its name, type and default."""

    label: tuple[str, str]  # (English, Chinese)
    help: tuple[str, str]  # one line each, (English, Chinese)
    choices: tuple[Any, ...] = ()  # the only values allowed (when given)
    low: float | None = None  # bounds for numbers, inclusive
    high: float | None = None
    file: bool = False  # names a file the render reads (resolved inside the allowed roots)
    names: tuple[str, ...] = ()  # for a file option: names accepted in place of a path (shipped files)
    in_models: bool = False  # for a file option: a bare file name means a file in <root>/models
    set_by: str = USER  # USER: jobs and users; DAEMON: the daemon's own folders; OPERATOR: limits
    suggest: tuple[tuple[str, Any], ...] = ()  # (UI language, value) pre-selected in the dashboard
    labels: tuple[tuple[Any, str, str], ...] = ()  # (value, English, Chinese) shown for choices and names
    advanced: bool = False  # the dashboard shows it under "advanced"


def option(default: Any, label: tuple[str, str], help: tuple[str, str], **more: Any) -> Any:  # noqa: A002
    """A dataclass field declared as a render option (see Option for `more`)."""
    return field(default=default, metadata={"option": Option(label, help, **more)})


@dataclass(frozen=True)
class OptionSpec:
    """One declared option, read back from its dataclass: what CLIs, checks and forms are made from."""

    name: str
    kind: type  # bool, int, float or str
    default: Any
    meta: Option

    @property
    def flag(self) -> str:
        """Its command-line flag, e.g. --shape-weight."""
        return "--" + self.name.replace("_", "-")

    def label(self, lang: str) -> str:
        """The label in `lang` ("zh" or "en")."""
        return self.meta.label[1 if lang == "zh" else 0]

    def help(self, lang: str) -> str:
        """The one-line help in `lang` ("zh" or "en")."""
        return self.meta.help[1 if lang == "zh" else 0]

    def value_label(self, value: Any, lang: str) -> str:
        """How a choice or name is shown in `lang` (the value itself when no label is declared)."""
        for v, en, zh in self.meta.labels:
            if v == value:
                return zh if lang == "zh" else en
        return str(value)

    def suggested(self, lang: str) -> Any:
        """The value the dashboard pre-selects for a user of `lang`: a declared suggestion, else the default."""
        return dict(self.meta.suggest).get(lang, self.default)

    def describe(self) -> str:
        """Allowed values in words, for error messages and --help."""
        if self.meta.choices:
            return "one of " + ", ".join(map(str, self.meta.choices))
        if self.kind is bool:
            return "true or false"
        if self.kind in (int, float):
            noun = "a whole number" if self.kind is int else "a number"
            if self.meta.low is not None and self.meta.high is not None:
                return f"{noun} from {_num(self.meta.low)} to {_num(self.meta.high)}"
            if self.meta.low is not None:
                return f"{noun} >= {_num(self.meta.low)}"
            return noun
        if self.meta.file:
            return ("one of " + ", ".join(self.meta.names) + " or a file path") if self.meta.names else "a file path"
        return "text"

    def convert(self, value: Any) -> Any:
        """`value` as this option's type, checked; InvalidOptions saying what is allowed."""
        bad = InvalidOptions(f"{self.name} must be {self.describe()}, got {value!r}"[:300])
        if self.kind is bool:
            try:
                out: Any = parse_flag(self.name, value)
            except InvalidOptions:
                raise bad from None
        elif self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise bad
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                raise bad from None
            if not math.isfinite(number) or (self.kind is int and number != int(number)):
                raise bad
            out = int(number) if self.kind is int else number
            if ((self.meta.low is not None and out < self.meta.low)
                    or (self.meta.high is not None and out > self.meta.high)):
                raise bad
        else:
            if not isinstance(value, str) or "\0" in value:
                raise bad
            out = value
        if self.meta.choices and out not in self.meta.choices:
            raise bad
        return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def declared(cls: type) -> list[OptionSpec]:
    """The options a declaration dataclass declares, in field order."""
    kinds = {"bool": bool, "int": int, "float": float, "str": str}
    out = []
    for f in fields(cls):
        meta = f.metadata.get("option")
        if meta is None:
            continue
        kind = f.type if isinstance(f.type, type) else kinds.get(str(f.type), str)
        default = f.default if f.default is not MISSING else None
        out.append(OptionSpec(f.name, kind, default, meta))
    return out


def parse_declared(cls: type[T], data: dict[str, Any] | None, owner: str) -> T:
    """`data` as the declaration `cls`; InvalidOptions for an unknown key (listing the known ones) or a bad value."""
    specs = {spec.name: spec for spec in declared(cls)}
    data = dict(data or {})
    unknown = sorted(k for k in data if k not in specs)
    if unknown:
        known = ", ".join(specs) or "none"
        raise InvalidOptions(f"unknown option {unknown[0]!r} for {owner}; its options are: {known}"[:400])
    return cls(**{k: specs[k].convert(v) for k, v in data.items()})


@dataclass(frozen=True)
class NoOptions:
    """The declaration of a backend without options of its own."""
DEVICES = ("cpu", "cuda")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass
class RenderOptions:
    """The engine's own options for one render; the chosen backend's options are kept in `extra`
    (checked against its declaration by `engine.backends.backend_options`)."""

    backend: str = option(DEFAULT_BACKEND, ("Lip-sync engine", "口型引擎"),
                          ("rewrite: the presenter's own mouths (CPU is enough); wav2lip: the official Wav2Lip model "
                           "(your checkpoint; fast on a GPU); none: no lip-sync",
                           "rewrite：用人物自己的嘴型（CPU 即可）；"
                           "wav2lip：官方 Wav2Lip 模型（需自备检查点，GPU 更快）；"
                           "none：不做口型同步"))
    device: str = option("cpu", ("Device", "设备"), ("cpu or cuda (the daemon sets it per worker)",
                                                    "cpu 或 cuda（守护进程按工作进程设置）"), choices=DEVICES,
                         set_by=DAEMON)
    crf: int = option(20, ("Output quality", "输出质量"),
                      ("x264 CRF: lower is better and bigger (18-28 is sensible)",
                       "x264 CRF：数值越小画质越好、文件越大（18–28 合理）"),
                      low=0, high=51)
    preset: str = option("veryfast", ("Encoder speed", "编码速度"), ("x264 preset: slower makes smaller files",
                                                                  "x264 预设：越慢文件越小"), choices=X264_PRESETS,
                          advanced=True)
    landmarks: str = option("dlib", ("Landmark model", "面部关键点模型"),
                            ("dlib (shipped) or fan (face-alignment; needs its weights in the models folder)",
                             "dlib（自带）或 fan（face-alignment，需要把权重放进模型文件夹）"), choices=LANDMARKS,
                            advanced=True)
    cache_dir: str = option("", ("Analysis cache", "分析缓存"), ("folder of per-video analysis (face tracks); "
                            "empty: none", "按视频缓存分析结果（人脸轨迹）的文件夹；空：不缓存"), set_by=DAEMON)
    models_dir: str = option("", ("Models folder", "模型文件夹"), ("where user-supplied model files are looked up",
                             "用户提供的模型文件所在的文件夹"), set_by=DAEMON)
    scratch_dir: str = option("", ("Scratch folder", "临时文件夹"), ("where temporary files go (default: beside "
                              "the output)", "临时文件放在哪里（默认：输出文件旁边）"), set_by=DAEMON)
    # input limits (engine.limits); 0 = LIPSPOOL_MAX_PIXELS / _SIDE / _AUDIO_S, else 7680x4320, 8192, 6 h
    max_pixels: int = option(0, ("Most pixels", "最大像素数"), ("most pixels a presenter frame may have; "
                             "WIDTHxHEIGHT is accepted too", "主讲人画面最多的像素数；也可写成 宽x高"), set_by=OPERATOR)
    max_side: int = option(0, ("Longest side", "最长边"), ("longest side a presenter frame may have, in pixels",
                           "主讲人画面的最长边（像素）"), set_by=OPERATOR)
    max_audio_s: float = option(0.0, ("Longest audio", "最长音频"), ("longest audio in seconds (90m and 6h are "
                                "accepted too)", "音频最长秒数（也可写成 90m、6h）"), set_by=OPERATOR)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.backend, str) or not self.backend:
            raise InvalidOptions(f"backend must be a name, got {self.backend!r}")
        for spec in declared(RenderOptions):  # device, preset, landmarks: one of their declared choices
            if spec.meta.choices:
                spec.convert(getattr(self, spec.name))
        if isinstance(self.crf, bool) or not isinstance(self.crf, (int, float)) or not 0 <= self.crf <= 51:
            raise InvalidOptions(f"crf must be a number from 0 (lossless) to 51, got {self.crf!r}")
        self.crf = int(self.crf)
        for name in ("cache_dir", "models_dir", "scratch_dir"):
            if not isinstance(getattr(self, name), str):
                raise InvalidOptions(f"{name} must be a folder path, got {getattr(self, name)!r}")
        if not isinstance(self.extra, dict):
            raise InvalidOptions(f"extra must be an object, got {self.extra!r}")
        self.max_pixels = 0 if _unset(self.max_pixels) else parse_pixels(self.max_pixels)
        self.max_side = 0 if _unset(self.max_side) else parse_side(self.max_side)
        self.max_audio_s = 0.0 if _unset(self.max_audio_s) else parse_seconds(self.max_audio_s)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RenderOptions:
        """Build from a job's `options` dict, validated; keys the engine does not know go to `extra`."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)} - {"extra"}
        kwargs = {k: data.pop(k) for k in list(data) if k in known}
        extra = data.pop("extra", {}) or {}
        if not isinstance(extra, dict):
            raise InvalidOptions(f"extra must be an object, got {extra!r}")
        return cls(**kwargs, extra={**extra, **data})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (inverse of from_dict)."""
        return asdict(self)


def _unset(value: Any) -> bool:
    """An input limit left to the environment or the default: 0, None or empty."""
    return value is None or (not isinstance(value, bool) and value in (0, "", "0"))


def parse_option_pairs(pairs: list[str]) -> dict[str, str]:
    """Command-line KEY=VALUE strings (repeatable --option) as a dict; InvalidOptions for a malformed one."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidOptions(f"--option takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def parse_flag(name: str, value: Any, allow_auto: bool = False) -> bool | None:
    """A yes/no option given as a bool, 1/0, true/false, yes/no or on/off; None for "auto" where allowed."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    if allow_auto and text == "auto":
        return None
    raise InvalidOptions(f"{name} must be {'auto, ' if allow_auto else ''}true or false, got {value!r}")
