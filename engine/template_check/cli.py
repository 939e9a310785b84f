"""`python -m engine check VIDEO [...]`: the template check from a shell, as text or JSON lines."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ..errors import EngineError
from . import TemplateReport, check_template

ERROR_SCHEMA = 1
MARK = {"good": "OK", "usable": "!!", "poor": "XX"}
LABELS = {
    "en": {"verdict": {"good": "good", "usable": "usable", "poor": "poor"},
           "face": "face in {face:.0%} of the frames, {px:.0f} px high ({share:.0%} of the picture height)",
           "turn": "head turn: yaw {yaw:.2f}, pitch {pitch:.2f} (eye-corner distances), roll {roll:.0f} deg",
           "speech": "speech-like mouth movement: {speech:.0%} of the face time ({seconds:.1f} s)",
           "variety": "mouth variety: opening range {range:.3f} ({rel:.2f} mouth widths), {shapes} distinct shapes",
           "mouths": "mouths: {classes}", "source": "analysed: {source}, {n} frames at {rate:g}/s, in {secs:.1f} s"},
    "zh": {"verdict": {"good": "良好", "usable": "可用", "poor": "较差"},
           "face": "人脸出现在 {face:.0%} 的画面中，高约 {px:.0f} 像素（占画面高度 {share:.0%}）",
           "turn": "头部转动：偏航 {yaw:.2f}，俯仰 {pitch:.2f}（以眼角距离计），侧倾 {roll:.0f} 度",
           "speech": "像说话的嘴部动作：占人脸时间的 {speech:.0%}（{seconds:.1f} 秒）",
           "variety": "嘴型变化：张口范围 {range:.3f}（{rel:.2f} 个嘴宽），{shapes} 种不同嘴型",
           "mouths": "嘴型分类：{classes}",
           "source": "分析方式：{source}，{n} 帧，每秒 {rate:g} 帧，用时 {secs:.1f} 秒"},
}


def describe(report: TemplateReport, lang: str = "en") -> list[str]:
    """The report as readable lines in `lang` ("en" or "zh"): verdict, figures, then advice."""
    t = LABELS.get(lang, LABELS["en"])
    classes = ", ".join(f"{k} {v:.0%}" for k, v in report.classes.items() if v > 0)
    lines = [f"{report.video}: [{MARK[report.verdict.value]}] {t['verdict'][report.verdict.value]} - "
             f"{report.summary[lang]}",
             "  " + t["face"].format(face=report.face_share, px=report.face_px, share=report.face_height_share),
             "  " + t["turn"].format(yaw=report.yaw, pitch=report.pitch, roll=report.roll_deg)]
    if not report.is_image:
        lines += ["  " + t["speech"].format(speech=report.speech_share, seconds=report.speech_s),
                  "  " + t["variety"].format(range=report.opening_range, rel=report.opening_range_rel,
                                             shapes=report.distinct_shapes)]
    lines += ["  " + t["mouths"].format(classes=classes or "-"),
              "  " + t["source"].format(source=report.source, n=report.frames_analysed, rate=report.sample_rate_hz,
                                        secs=report.check_s)]
    lines += [f"  - {item[lang]}" for item in report.advice]
    return lines


def error_record(video: str, message: str) -> dict[str, Any]:
    """The JSON line written for a file that could not be checked."""
    return {"schema": ERROR_SCHEMA, "video": video, "error": message}


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check every file; 0 when all could be checked (whatever their verdicts), else 1."""
    out, err = out or sys.stdout, err or sys.stderr
    failed = 0
    for video in args.videos:
        try:
            report = check_template(video, cache_dir=args.cache_dir)
        except EngineError as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug on one file must not hide the others' reports
            message = f"cannot check '{video}': internal error: {type(exc).__name__}: {exc}".splitlines()[0]
        else:
            if args.json:
                out.write(report.to_json() + "\n")
            else:
                out.write("\n".join(describe(report, args.lang)) + "\n")
            out.flush()
            continue
        failed += 1
        print(f"error: {message}", file=err, flush=True)
        if args.json:
            out.write(json.dumps(error_record(video, message), ensure_ascii=False) + "\n")
            out.flush()
    return 1 if failed else 0
