"""The `rewrite` backend's options, declared once (see engine.options)."""
from __future__ import annotations

from dataclasses import dataclass

from ...options import option
from ...speech.names import DEFAULT_FRONT_END, FRONT_END_NAMES, SHIPPED_MODEL_NAMES


@dataclass(frozen=True)
class RewriteOptions:
    """How the audio chooses the presenter's own mouths."""

    mouth_model: str = option(
        "", ("Narration language", "旁白语言"),
        ("picks the mouth model: Chinese (and any language but English) uses the general model, which hears no "
         "phones; English adds an English phone recogniser, which syncs English narration better (a model file "
         "of your own works too)",
         "按旁白的语言选择嘴型模型：中文（及英语以外的语言）用不依赖音素的通用模型；英语用加入英语音素识别的模型，"
         "英语旁白的口型更准（也可以用自己训练的模型文件）"),
        file=True, names=SHIPPED_MODEL_NAMES, suggest=(("zh", "default"), ("en", "en")),
        labels=(("default", "Chinese (or any language)", "中文（或其他语言）"), ("en", "English", "英语")))
    front_end: str = option(
        DEFAULT_FRONT_END, ("Speech analysis", "语音分析方式"),
        ("mouth-model: the general model (recommended); the others are simpler rules or per-presenter fits, "
         "for comparison", "mouth-model：通用模型（推荐）；其他为对比用的简单规则或按人物拟合"),
        choices=FRONT_END_NAMES, advanced=True)
    shape_weight: float = option(
        0.3, ("Shape weight", "口型细节权重"),
        ("how much the predicted mouth shape beyond opening and width counts in choosing mouths, 0 to 2",
         "选择口型时，张口和宽度以外的形状占多少分量，0 到 2"), low=0.0, high=2.0, advanced=True)
    adjust_opening: bool = option(
        True, ("Adjust opening", "微调张口"),
        ("warp each chosen mouth a little towards the opening the audio asks for",
         "把选中的口型向音频要求的张口程度稍作变形"), advanced=True)
