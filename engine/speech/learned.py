"""The `mouth-model` front end: a speaker-independent linear map from speech features to opening.

Features per video frame (`frame_features`): the coarticulated phone targets (opening, width,
rounding), loudness, their product, the voice-activity gate, 20 log-mel bands (mean-normalised
per utterance) and each phone class's coarticulated share (so the fit learns how far every
phone opens the mouth), each with two frames of context either side. The map is a ridge regression
fitted on the real talking clips of ../shared/media (`python -m engine train-mouth`), the opening
of each clip standardised per speaker, so it learns how mouths follow speech in general rather
than one presenter's voice. Its weights are a few hundred numbers kept in `mouth_model.json`.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import EngineError
from .features import at_frames
from .ridge import fit_ridge, stack_context

MODEL_SCHEMA = 1
FEATURE_VERSION = 2
CONTEXT = 2  # frames either side
MODEL_PATH = Path(__file__).with_name("mouth_model.json")


class MouthModelMissing(EngineError):
    """The trained model file is missing or unreadable."""


def hop_features(a) -> np.ndarray:  # noqa: ANN001 - frontend.Analysis
    """(hops, 26 + phone classes) per-hop features of an Analysis (see the module docstring)."""
    from .frontend import _gate

    p = a.phone_targets()
    classes = a.phone_classes()
    loud = a.loudness()
    mel = a.mel()
    gate = _gate(a.activity())
    h = min(len(p), len(classes), len(loud), len(mel), len(gate))
    return np.column_stack([p[:h], loud[:h], p[:h, 0] * loud[:h], gate[:h], mel[:h, ::2] / 5.0,
                            classes[:h] * gate[:h, None]])


def frame_features(a, fps: float, n_frames: int) -> np.ndarray:  # noqa: ANN001
    """(n_frames, features * (2 * CONTEXT + 1)) model inputs at video frame rate."""
    return stack_context(at_frames(hop_features(a), fps, n_frames), CONTEXT, CONTEXT)


def standardise_opening(opening: np.ndarray) -> np.ndarray:
    """A speaker's opening series as z-scores (median-centred), NaN kept."""
    o = np.asarray(opening, np.float64)
    return (o - np.nanmedian(o)) / (np.nanstd(o) + 1e-9)


@dataclass
class MouthModel:
    """y = ((x - mean) / scale) @ coef + intercept, y an opening z-score; y_closed/y_open are the
    training openings' 3rd and 97th percentiles (used to map y to 0..1)."""

    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    y_closed: float
    y_open: float
    trained_on: list[str] = field(default_factory=list)
    penalty: float = 0.0
    feature_version: int = FEATURE_VERSION
    schema: int = MODEL_SCHEMA

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Opening z-scores for rows of features."""
        return ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef) + self.intercept

    def relative(self, x: np.ndarray) -> np.ndarray:
        """Openings mapped so 0 is the training's closed mouth and 1 its wide-open one."""
        return (self.predict(x) - self.y_closed) / max(self.y_open - self.y_closed, 1e-6)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as JSON."""
        Path(path).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str] = MODEL_PATH) -> MouthModel:
        """Read a model written by `save`."""
        try:
            data = json.loads(Path(path).read_text())
            model = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise MouthModelMissing(f"cannot read the mouth model {path}: {exc}; reinstall LipSpool or "
                                    "choose another front end") from exc
        if model.schema != MODEL_SCHEMA or model.feature_version != FEATURE_VERSION:
            raise MouthModelMissing(f"the mouth model {path} is for another version of LipSpool; "
                                    "retrain it with 'python -m engine train-mouth'")
        return model


@lru_cache(maxsize=1)
def default_model() -> MouthModel:
    """The model shipped with the engine (read once)."""
    return MouthModel.load(MODEL_PATH)


def fit_model(features: list[np.ndarray], openings: list[np.ndarray], names: list[str]) -> MouthModel:
    """Fit on per-clip feature rows and raw openings (each clip standardised on its own)."""
    x = np.concatenate(features)
    y = np.concatenate([standardise_opening(o) for o in openings])
    fit = fit_ridge(x, y)
    ok = np.isfinite(y)
    return MouthModel(mean=fit.mean.tolist(), scale=fit.scale.tolist(), coef=fit.coef.tolist(),
                      intercept=fit.intercept, y_closed=float(np.percentile(y[ok], 3)),
                      y_open=float(np.percentile(y[ok], 97)), trained_on=list(names), penalty=fit.lam)
