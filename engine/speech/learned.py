"""The `mouth-model` front end: a speaker-independent map from speech features to mouth shape.

Features per video frame (`frame_features`): the coarticulated phone targets (opening, width,
rounding), loudness, their product, the voice-activity gate, 20 log-mel bands (mean-normalised
per utterance), each phone class's coarticulated share, and vowel formants and pitch normalised
per recording (`formants`: F1 follows the jaw, F2 the lips' rounding and spreading, in any
language and voice), each with two frames of context either side.

Outputs per frame: the mouth opening and width as z-scores of the speaker's own (so the model
learns how mouths follow speech in general, not one presenter's size), and the mouth's shape as
the scores of a few principal components of the 20 mouth landmarks in the canonical face frame,
each centred on the speaker's own mean mouth (the components: opening, spreading against
rounding, jaw and lip asymmetries). The map is a ridge regression fitted on the public talking
clips (`python -m measure train-mouth`, which chooses its penalty by leave-one-speaker-out
validation); its weights are a small JSON file, `mouth_model.json`, read with NumPy alone.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import EngineError
from .features import at_frames, voice_gate
from .ridge import fit_penalised, stack_context

MODEL_SCHEMA = 2
FEATURE_VERSION = 3
CONTEXT = 2  # frames either side
SHAPE_COMPONENTS = 4  # principal components of the mouth landmarks the model predicts
MOUTH_COORDS = 40  # 20 mouth points (48-67), x and y
MODEL_PATH = Path(__file__).with_name("mouth_model.json")
# Shipped models by name: the default hears no phones (any language); "en" adds the English phone
# recogniser's phones, which helps English speech and hurts Mandarin (README, "How well it works").
SHIPPED_MODELS = {"default": MODEL_PATH, "en": Path(__file__).with_name("mouth_model_en.json")}


class MouthModelMissing(EngineError):
    """The trained model file is missing or unreadable."""


FEATURE_SETS = ("all", "no-formants", "no-phones", "mel")
BASE_COLUMNS = 22  # loudness, voice gate, 20 log-mel bands
FORMANT_COLUMNS = 6


FORMANT_FEATURE_SETS = ("all", "no-phones")
PHONE_FEATURE_SETS = ("all", "no-formants")  # the sets that run the English phone recogniser


def _uses(feature_set: str) -> tuple[bool, bool]:
    """(formants, phones) of a feature set."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; choose one of {', '.join(FEATURE_SETS)}")
    return feature_set in FORMANT_FEATURE_SETS, feature_set in PHONE_FEATURE_SETS


def hop_features(a, feature_set: str = "all") -> np.ndarray:  # noqa: ANN001 - frontend.Analysis
    """(hops, features) per-hop features of an Analysis: loudness, gate and log-mel, then the
    formants, then the English phone targets and classes, as the feature set asks."""
    formants, phones = _uses(feature_set)
    loud = a.loudness()
    gate = voice_gate(a.activity())
    mel = a.mel()
    parts = [loud, gate, mel[:, ::2] / 5.0]
    if formants:
        parts.append(a.formants())
    if phones:  # the only part that runs the (English) phone recogniser
        p, classes = a.phone_targets(), a.phone_classes()
        h = min(len(p), len(classes), len(loud))
        parts += [p[:h], p[:h, 0] * loud[:h], classes[:h] * gate[:h, None]]
    h = min(len(x) for x in parts)
    return np.column_stack([x[:h] for x in parts])


def select_columns(hops: np.ndarray, feature_set: str) -> np.ndarray:
    """From hop_features(a, "all"), the columns hop_features(a, feature_set) gives."""
    formants, phones = _uses(feature_set)
    keep = list(range(BASE_COLUMNS))
    if formants:
        keep += list(range(BASE_COLUMNS, BASE_COLUMNS + FORMANT_COLUMNS))
    if phones:
        keep += list(range(BASE_COLUMNS + FORMANT_COLUMNS, hops.shape[1]))
    return hops[:, keep]


def frame_features(a, fps: float, n_frames: int, feature_set: str = "all") -> np.ndarray:  # noqa: ANN001
    """(n_frames, features * (2 * CONTEXT + 1)) model inputs at video frame rate."""
    return frame_inputs(hop_features(a, feature_set), fps, n_frames)


def frame_inputs(hops: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Per-hop features averaged over each video frame, with CONTEXT frames either side."""
    return stack_context(at_frames(hops, fps, n_frames), CONTEXT, CONTEXT)


def standardise_opening(opening: np.ndarray) -> np.ndarray:
    """A speaker's opening (or width) series as z-scores (median-centred), NaN kept."""
    o = np.asarray(opening, np.float64)
    return (o - np.nanmedian(o)) / (np.nanstd(o) + 1e-9)


def centred_mouths(mouth: np.ndarray) -> np.ndarray:
    """(n, 20, 2) canonical mouth points -> (n, 40) deviations from the series' own mean mouth."""
    m = np.asarray(mouth, np.float64).reshape(len(mouth), -1)
    if not np.isfinite(m).any():
        return m
    return m - np.nanmean(m, axis=0)


@dataclass
class MouthModel:
    """Outputs y = ((x - mean) / scale) @ coef + intercept, one column per output: opening z,
    width z, then the scores of `shape_basis` (rows: unit components of a centred mouth, in
    canonical units). y_closed/y_open are the training openings' 3rd and 97th percentiles (used
    to map the opening to 0..1); `shape_gain` rescales predicted scores to the spread of real ones."""

    mean: list[float]
    scale: list[float]
    coef: list[list[float]]
    intercept: list[float]
    y_closed: float
    y_open: float
    shape_basis: list[list[float]]
    shape_gain: list[float]
    trained_on: list[str] = field(default_factory=list)
    licences: list[str] = field(default_factory=list)
    penalty: float = 0.0
    feature_set: str = "all"
    context: int = CONTEXT
    feature_version: int = FEATURE_VERSION
    schema: int = MODEL_SCHEMA

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(rows, 2 + components): opening z, width z and shape scores for rows of features."""
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.coef) + np.asarray(self.intercept)

    def check_inputs(self, x: np.ndarray) -> None:
        """MouthModelMissing unless rows of x have the inputs this model was trained on."""
        if x.ndim != 2 or x.shape[1] != len(self.mean):
            raise MouthModelMissing(f"this mouth model takes {len(self.mean)} inputs, its feature set "
                                    f"{self.feature_set!r} gives {x.shape[-1]}; retrain it with "
                                    "'python -m measure train-mouth'")

    def curves(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(opening mapped so 0 is the training's closed mouth and 1 its wide-open one, width z,
        shape scores rescaled to the real spread) for rows of features."""
        self.check_inputs(x)
        y = self.predict(x)
        relative = (y[:, 0] - self.y_closed) / max(self.y_open - self.y_closed, 1e-6)
        return relative, y[:, 1], y[:, 2:] * np.asarray(self.shape_gain)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as JSON."""
        Path(path).write_text(json.dumps(asdict(self), indent=None, separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str] = MODEL_PATH) -> MouthModel:
        """Read a model written by `save`."""
        try:
            data = json.loads(Path(path).read_text())
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            model = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise MouthModelMissing(f"cannot read the mouth model {path}: {exc}; reinstall LipSpool or "
                                    "choose another front end") from exc
        if (model.schema != MODEL_SCHEMA or model.feature_version != FEATURE_VERSION
                or model.feature_set not in FEATURE_SETS):
            raise MouthModelMissing(f"the mouth model {path} is for another version of LipSpool; "
                                    "retrain it with 'python -m measure train-mouth'")
        try:
            model._check_shapes()
        except (ValueError, TypeError) as exc:
            raise MouthModelMissing(f"the mouth model {path} is damaged: {exc}; reinstall LipSpool or retrain it "
                                    "with 'python -m measure train-mouth'") from exc
        return model

    def _check_shapes(self) -> None:
        """ValueError unless every array is finite and the arrays' sizes agree with each other."""
        if self.context != CONTEXT:  # frame_features stacks CONTEXT frames either side
            raise ValueError(f"context should be {CONTEXT}")
        inputs, outputs = len(self.mean), 2 + len(self.shape_gain)
        want = {"mean": (inputs,), "scale": (inputs,), "coef": (inputs, outputs), "intercept": (outputs,),
                "shape_basis": (outputs - 2, MOUTH_COORDS), "shape_gain": (outputs - 2,),
                "y_closed": (), "y_open": (), "penalty": ()}
        for name, shape in want.items():
            value = np.asarray(getattr(self, name), np.float64)
            if value.shape != shape or not np.isfinite(value).all():
                raise ValueError(f"{name} should be {shape or 'a number'} finite numbers")


@lru_cache(maxsize=4)
def shipped_model(name: str = "default") -> MouthModel:
    """A model shipped with the engine, by name (read once)."""
    if name not in SHIPPED_MODELS:
        raise MouthModelMissing(f"no shipped mouth model {name!r}; choose one of {', '.join(SHIPPED_MODELS)} "
                                "or give a model file")
    return MouthModel.load(SHIPPED_MODELS[name])


def default_model() -> MouthModel:
    """The default model shipped with the engine (language-independent)."""
    return shipped_model("default")


def shape_basis(mouths: list[np.ndarray], components: int = SHAPE_COMPONENTS) -> np.ndarray:
    """(components, 40) principal directions of per-clip-centred canonical mouths (finite frames)."""
    dev = np.concatenate([centred_mouths(m) for m in mouths])
    dev = dev[np.isfinite(dev).all(axis=1)]
    if len(dev) < components:
        raise ValueError("too few frames with a face to find mouth shape components")
    _, _, vt = np.linalg.svd(dev - dev.mean(axis=0), full_matrices=False)
    basis = vt[:components].copy()
    lower, upper = 2 * (66 - 48) + 1, 2 * (62 - 48) + 1  # y of the inner lips' middle points
    if basis[0, lower] - basis[0, upper] < 0:  # the first component grows as the mouth opens
        basis[0] *= -1.0
    return basis


def training_targets(opening: np.ndarray, width: np.ndarray, mouth: np.ndarray | None,
                     basis: np.ndarray) -> np.ndarray:
    """(n, 2 + components) targets of one clip: opening z, width z, shape scores (NaN where unknown)."""
    n = len(opening)
    scores = np.full((n, len(basis)), np.nan) if mouth is None else centred_mouths(mouth) @ basis.T
    return np.column_stack([standardise_opening(opening), standardise_opening(width), scores])


def fit_model(features: list[np.ndarray], openings: list[np.ndarray], names: list[str],
              widths: list[np.ndarray] | None = None, mouths: list[np.ndarray | None] | None = None,
              penalty: float = 100.0, licences: list[str] | None = None, feature_set: str = "all") -> MouthModel:
    """Fit on per-clip feature rows and raw series (each clip standardised and centred on its own)."""
    widths = widths if widths is not None else [np.full(len(o), np.nan) for o in openings]
    have = [m for m in (mouths or []) if m is not None]
    basis = shape_basis(have) if have else np.zeros((SHAPE_COMPONENTS, MOUTH_COORDS))
    mouths = mouths if mouths is not None else [None] * len(openings)
    ys = [training_targets(o, w, m, basis) for o, w, m in zip(openings, widths, mouths)]
    x, y = np.concatenate(features), np.concatenate(ys)
    y = np.where(np.isfinite(y), y, 0.0) if not have else y
    y[:, 1] = np.nan_to_num(y[:, 1])
    fit = fit_penalised(x, y, penalty)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1)
    pred = fit.predict(x[ok])
    spread = y[ok, 2:].std(axis=0) / np.maximum(pred[:, 2:].std(axis=0), 1e-9)
    gain = np.where(y[ok, 2:].std(axis=0) > 0, spread, 1.0)
    op = y[ok, 0]
    return MouthModel(mean=fit.mean.tolist(), scale=fit.scale.tolist(), coef=fit.coef.tolist(),
                      intercept=np.asarray(fit.intercept).tolist(),
                      y_closed=float(np.percentile(op, 3)), y_open=float(np.percentile(op, 97)),
                      shape_basis=basis.tolist(), shape_gain=gain.tolist(), trained_on=list(names),
                      licences=sorted(set(licences or [])), penalty=float(penalty), feature_set=feature_set)
