"""The audio front ends: speech samples in, per-frame mouth targets out.

Candidates (compared by `python -m measure frontends`, see the README's table):
- `loudness`: opening follows speech-band loudness; the trivial rule.
- `phones`: PocketSphinx phones mapped to mouth targets with coarticulation (`visemes`).
- `phones+loudness`: the same, opening scaled by loudness (a louder vowel opens wider).
- `mel-fit`: a ridge map from log-mel context to this presenter's opening, fitted on the template
  video's own speech track; it learns the presenter's voice, so it suffers with another narrator.
- `phones-fit`: a ridge map from the phone targets and loudness (speaker-independent features)
  to this presenter's opening, fitted on the template's own speech.
- `mouth-model` (default): a speaker-independent ridge map from phone targets, loudness and
  log-mel context to the opening, fitted once on many speakers (`learned`).
Every candidate closes the mouth where no speech is heard.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import names
from .curves import MouthCurves, PresenterSample
from .features import (
    ANALYSIS_RATE,
    at_frames,
    band_db,
    log_mel,
    power_spectrum,
    relative_loudness,
    voice_activity,
    voice_gate,
)
from .phones import recognise_phones
from .ridge import fit_ridge, stack_context
from .visemes import phone_curves, phone_weights

MIN_FIT_S = 6.0  # a presenter fit needs at least this much of the template's own speech
CONTEXT = (6, 6)  # frames of context before and after, for the fitted maps
WIDTH_Z_SPAN = 2.0  # a predicted width this many standard deviations from the speaker's is the extreme (+-1)


class Analysis:
    """Lazily computed features of one mono 16 kHz signal (each computed once)."""

    def __init__(self, samples: np.ndarray) -> None:
        self.samples = np.asarray(samples, np.float64)
        self.duration_s = len(self.samples) / ANALYSIS_RATE
        self._spec = None
        self._segments = None
        self._phones = None
        self._formants = None

    @property
    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        if self._spec is None:
            self._spec = power_spectrum(self.samples, ANALYSIS_RATE)
        return self._spec

    def loudness_db(self) -> np.ndarray:
        """Speech-band dB per hop."""
        return band_db(*self.spectrum)

    def activity(self) -> np.ndarray:
        """Voice activity per hop."""
        return voice_activity(self.loudness_db())

    def loudness(self) -> np.ndarray:
        """Per hop: 0 at 35 dB under the speech level, 1 at the speech level (90th percentile)."""
        return relative_loudness(self.loudness_db())

    def segments(self) -> list:
        """The recognised phones (computed once)."""
        if self._segments is None:
            self._segments = recognise_phones(self.samples)
        return self._segments

    def phone_targets(self) -> np.ndarray:
        """(hops, 3) coarticulated phone targets."""
        if self._phones is None:
            self._phones = phone_curves(self.segments(), self.duration_s)
        return self._phones

    def phone_classes(self) -> np.ndarray:
        """(hops, classes) coarticulated share of each phone class."""
        return phone_weights(self.segments(), self.duration_s)

    def formants(self) -> np.ndarray:
        """(hops, 6) vowel formants and pitch, normalised over this recording (`formants`)."""
        if self._formants is None:
            from .formants import formant_features

            self._formants = formant_features(self.samples, len(self.loudness_db()))
        return self._formants

    def mel(self) -> np.ndarray:
        """(hops, 40) log-mel, each utterance mean-normalised (cepstral-mean style)."""
        m = log_mel(*self.spectrum)
        return m - m.mean(axis=0, keepdims=True)


def _hops(series: np.ndarray, hops: int) -> np.ndarray:
    """Cut or edge-pad a per-hop series to `hops` rows."""
    if len(series) >= hops:
        return series[:hops]
    pad = np.repeat(series[-1:], hops - len(series), axis=0) if len(series) else np.zeros((hops, *series.shape[1:]))
    return np.concatenate([series, pad])


def _curves(open_hops: np.ndarray, width_hops: np.ndarray, round_hops: np.ndarray, a: Analysis,
            fps: float, n_frames: int) -> MouthCurves:
    act = a.activity()
    hops = len(act)
    gate = voice_gate(act)
    opening = at_frames(np.clip(_hops(open_hops, hops), 0, None) * gate, fps, n_frames)
    width = at_frames(_hops(width_hops, hops) * gate, fps, n_frames)
    rnd = at_frames(_hops(round_hops, hops) * gate, fps, n_frames)
    return MouthCurves(fps, opening, width, rnd, _speech_frames(a, fps, n_frames))


def _speech_frames(a: Analysis, fps: float, n_frames: int) -> np.ndarray:
    """Per video frame: whether speech is heard over most of it."""
    return speech_frames(a.activity(), fps, n_frames)


def speech_frames(activity: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Per video frame: whether the per-hop voice `activity` covers most of it."""
    return at_frames(activity.astype(np.float64), fps, n_frames) > 0.5


def _loudness(a: Analysis, fps: float, n: int, presenter: PresenterSample | None) -> MouthCurves:
    z = np.zeros(len(a.loudness_db()))
    return _curves(a.loudness(), z, z, a, fps, n)


def _phones(a: Analysis, fps: float, n: int, presenter: PresenterSample | None) -> MouthCurves:
    p = a.phone_targets()
    return _curves(p[:, 0], p[:, 1], p[:, 2], a, fps, n)


def _phones_loudness(a: Analysis, fps: float, n: int, presenter: PresenterSample | None) -> MouthCurves:
    p = a.phone_targets()
    hops = min(len(p), len(a.loudness()))
    gain = 0.4 + 0.6 * np.clip(a.loudness()[:hops], 0, 1)
    return _curves(p[:hops, 0] * gain, p[:hops, 1], p[:hops, 2], a, fps, n)


def _fit(features: Callable[[Analysis], np.ndarray],
         fallback: Callable[..., MouthCurves]) -> Callable[..., MouthCurves]:
    """A presenter-fitted front end over per-hop `features`, or `fallback` without a usable template."""

    def run(a: Analysis, fps: float, n: int, presenter: PresenterSample | None) -> MouthCurves:
        if presenter is None or len(presenter.samples) / presenter.rate < MIN_FIT_S:
            return fallback(a, fps, n, presenter)
        ta = Analysis(presenter.samples)
        m = len(presenter.opening)
        x_t = stack_context(at_frames(features(ta), presenter.fps, m), *CONTEXT)
        try:
            model = fit_ridge(x_t, np.asarray(presenter.opening, np.float64))
        except ValueError:
            return fallback(a, fps, n, presenter)
        scale = float(np.nanpercentile(presenter.opening, 95)) or 1.0
        x = stack_context(at_frames(features(a), fps, n), *CONTEXT)
        opening = np.clip(model.predict(x) / scale, 0.0, 1.5)
        base = _phones(a, fps, n, presenter)
        gate = at_frames(voice_gate(a.activity()), fps, n)
        return MouthCurves(fps, opening * gate, base.width, base.round, base.speech)

    return run


def _phone_features(a: Analysis) -> np.ndarray:
    p = a.phone_targets()
    loud = a.loudness()
    hops = min(len(p), len(loud))
    return np.column_stack([p[:hops], loud[:hops], p[:hops, 0] * loud[:hops]])


def _mouth_model(a: Analysis, fps: float, n: int, presenter: PresenterSample | None,
                 model: object | None = None) -> MouthCurves:
    from .learned import PHONE_FEATURE_SETS, default_model, frame_features

    m = model or default_model()
    outputs = m.curves(frame_features(a, fps, n, m.feature_set))  # type: ignore[attr-defined]
    # rounding from the phones only where the model hears them anyway: a phone-free model never runs
    # the (English) recogniser, and its rounding is in the shape scores
    uses_phones = m.feature_set in PHONE_FEATURE_SETS  # type: ignore[attr-defined]
    rnd = _phones(a, fps, n, presenter).round if uses_phones else np.zeros(n)
    return model_curves(m, outputs, a.activity(), rnd, fps, n)


def model_curves(model: object, outputs: tuple[np.ndarray, np.ndarray, np.ndarray], activity: np.ndarray,
                 rounding: np.ndarray, fps: float, n: int) -> MouthCurves:
    """MouthCurves from a mouth model's per-frame (opening, width z, shape) and the per-hop voice activity."""
    rel, width_z, shape = outputs
    gate = at_frames(voice_gate(activity), fps, n)
    return MouthCurves(fps, np.clip(rel, 0.0, 1.5) * gate, np.clip(width_z / WIDTH_Z_SPAN, -1.0, 1.0) * gate,
                       rounding, speech_frames(activity, fps, n), shape=shape * gate[:, None],
                       shape_basis=np.asarray(model.shape_basis))  # type: ignore[attr-defined]


FRONT_ENDS: dict[str, Callable[[Analysis, float, int, PresenterSample | None], MouthCurves]] = {
    "loudness": _loudness,
    "phones": _phones,
    "phones+loudness": _phones_loudness,
    "mel-fit": _fit(lambda a: a.mel(), _phones_loudness),
    "phones-fit": _fit(_phone_features, _phones_loudness),
    "mouth-model": _mouth_model,
}
DEFAULT_FRONT_END = names.DEFAULT_FRONT_END


def predict_mouth(samples: np.ndarray, fps: float, n_frames: int, front_end: str = DEFAULT_FRONT_END,
                  presenter: PresenterSample | None = None, model: object | None = None) -> MouthCurves:
    """Mouth targets for n_frames video frames from mono float samples at 16 kHz.

    `model`: a MouthModel for the `mouth-model` front end instead of the shipped one.
    """
    if front_end not in FRONT_ENDS:
        raise ValueError(f"unknown front end {front_end!r}; choose one of {', '.join(FRONT_ENDS)}")
    if n_frames <= 0:
        return MouthCurves.closed(fps, 0)
    a = Analysis(samples)
    if not a.samples.size or not a.activity().any():
        return MouthCurves.closed(fps, n_frames)
    if front_end == "mouth-model":
        return _mouth_model(a, fps, n_frames, presenter, model)
    return FRONT_ENDS[front_end](a, fps, n_frames, presenter)
