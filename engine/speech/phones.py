"""Phone recognition with PocketSphinx: its English acoustic model and phone language model ship
inside the `pocketsphinx` wheel, so nothing is downloaded. Used on any language: Mandarin vowels
and consonants come out as their nearest English phones, which is all a mouth needs."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

from ..errors import EngineError

SPHINX_RATE = 16000
SPHINX_HOP_S = 0.010
_lock = threading.Lock()
_decoder = None


class PhoneRecogniserUnavailable(EngineError):
    """pocketsphinx (and its bundled English model) is not installed."""


@dataclass(frozen=True)
class PhoneSegment:
    """One recognised phone (ARPAbet without stress, or SIL / noise) from start_s to end_s."""

    phone: str
    start_s: float
    end_s: float

    @property
    def centre_s(self) -> float:
        """Midpoint in seconds."""
        return 0.5 * (self.start_s + self.end_s)


def _get_decoder():  # noqa: ANN202 - pocketsphinx.Decoder, imported lazily
    global _decoder
    if _decoder is None:
        try:
            from pocketsphinx import Decoder, get_model_path
        except ImportError as exc:
            raise PhoneRecogniserUnavailable(
                "the phone recogniser needs the 'pocketsphinx' package; run scripts/setup.sh again") from exc
        model = get_model_path()
        _decoder = Decoder(hmm=os.path.join(model, "en-us", "en-us"),
                           allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
                           lm=None, dict=None, lw=2.0, pip=0.3, beam=1e-20, pbeam=1e-20, loglevel="FATAL")
    return _decoder


def recognise_phones(samples: np.ndarray, peak: float | None = None, first_frame: int = 0) -> list[PhoneSegment]:
    """Phones of mono float samples at 16 kHz, in time order, covering the whole signal.

    The samples are level-normalised by `peak` (default: their own largest magnitude; a chunk of a
    longer sound passes the whole sound's), and `first_frame` (10 ms frames) is added to the times
    (a chunk starting that many frames into the sound). The result depends on these alone: the
    recogniser's running cepstral mean starts afresh on every call.
    """
    x = np.asarray(samples, np.float64)
    if not x.size:
        return []
    peak = float(np.max(np.abs(x))) if peak is None else float(peak)
    gain = 0.5 / peak if peak > 1e-6 else 1.0  # level-normalised: quiet recordings decode as well
    pcm = (np.clip(x * gain, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
    with _lock:
        decoder = _get_decoder()
        decoder.reinit_feat()  # else the cepstral mean carries over from the last sound decoded
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        segs = [(s.word, s.start_frame, s.end_frame) for s in decoder.seg()]
    out = []
    for word, a, b in segs:
        phone = word.strip("+").upper() if word.startswith("+") else word.upper()
        out.append(PhoneSegment("SIL" if phone in ("SIL", "<S>", "</S>", "NSN", "SPN") else phone,
                                (first_frame + a) * SPHINX_HOP_S, (first_frame + b + 1) * SPHINX_HOP_S))
    return out
