"""Vowel formants and pitch from Praat (through `praat-parselmouth`), normalised per speaker.

F1 rises as the jaw opens, F2 falls as the lips round and rises as they spread: facts of the vocal
tract, not of one language, so they carry mouth shape across English, Mandarin and any voice.
Raw formants differ between speakers (a woman's are about 15-20 % higher than a man's), so each
recording is normalised on its own (Lobanov): log formants become z-scores over the voiced hops
of that recording, and unvoiced hops get 0 (the speaker's average vowel).
"""
from __future__ import annotations

import numpy as np

from .features import ANALYSIS_RATE, HOP_S

FEATURE_NAMES = ("f1", "f2", "f3", "f2-f1", "voiced", "f0")
MALE_F0_HZ = 165.0  # median pitch under this: formant ceiling 5000 Hz, else 5500 Hz (Praat's advice)
MIN_VOICED_HOPS = 10
MIN_SAMPLES = int(0.1 * ANALYSIS_RATE)  # shorter sounds get no formants
PITCH_FLOOR_HZ, PITCH_CEILING_HZ = 70.0, 500.0
MAX_FORMANTS = 5


def formant_ceiling(f0: np.ndarray) -> float:
    """Praat's formant ceiling for a voice: 5000 Hz under a median pitch of MALE_F0_HZ, else 5500 Hz."""
    voiced_f0 = f0[f0 > 0]
    return 5000.0 if voiced_f0.size and np.median(voiced_f0) < MALE_F0_HZ else 5500.0


def grid_index(t0: float, step: float, hops: int, first_hop: int = 0) -> np.ndarray:
    """For hops first_hop..hops-1 of the grid k * HOP_S, the nearest analysis frame at t0 + i * step."""
    grid = np.arange(first_hop, hops) * HOP_S
    return np.round((grid - t0) / step).astype(int)


def _on_grid(times: np.ndarray, values: np.ndarray, hops: int) -> np.ndarray:
    """Values at evenly spaced `times` moved onto the hop grid k * HOP_S (nearest; NaN outside)."""
    out = np.full(hops, np.nan)
    if not len(times):
        return out
    step = float(times[1] - times[0]) if len(times) > 1 else HOP_S
    idx = grid_index(float(times[0]), step, hops)
    inside = (idx >= 0) & (idx < len(times))
    out[inside] = values[idx[inside]]
    return out


def formant_tracks(samples: np.ndarray, hops: int) -> np.ndarray:
    """(hops, 4): F1, F2, F3 and F0 in Hz on the 10 ms hop grid; F0 is 0 and formants NaN when unvoiced."""
    import parselmouth

    x = np.asarray(samples, np.float64)
    out = np.full((hops, 4), np.nan)
    out[:, 3] = 0.0
    if len(x) < MIN_SAMPLES or not np.any(x):
        return out
    sound = parselmouth.Sound(x, ANALYSIS_RATE)
    pitch = sound.to_pitch(time_step=HOP_S, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ)
    f0 = np.asarray(pitch.selected_array["frequency"], np.float64)
    f0_grid = np.nan_to_num(_on_grid(np.asarray(pitch.xs()), f0, hops), nan=0.0)
    ceiling = formant_ceiling(f0)
    formant = sound.to_formant_burg(time_step=HOP_S, max_number_of_formants=MAX_FORMANTS, maximum_formant=ceiling)
    times = np.asarray(formant.xs())
    values = formant_values(formant, times)
    for i in range(3):
        out[:, i] = _on_grid(times, values[:, i], hops)
    out[:, 3] = f0_grid
    out[f0_grid <= 0, :3] = np.nan
    return out


def formant_values(formant, times: np.ndarray) -> np.ndarray:  # noqa: ANN001 - parselmouth.Formant
    """(len(times), 3) F1..F3 of a Praat Formant at `times` (NaN where a frame has fewer formants)."""
    values = np.array([[formant.get_value_at_time(i, t) for i in (1, 2, 3)] for t in times], np.float64)
    return values.reshape(-1, 3)


LOG_COLUMNS = np.array([0, 1, 2, 3, 5])  # the output columns that are z-scored logs (all but "voiced")


def voiced_logs(tracks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(voiced, logs): which hops are voiced with all three formants, and the logs of F1, F2, F3,
    F2-F1 and F0 of every hop (the values normalised_formants z-scores over the voiced ones)."""
    voiced = (tracks[:, 3] > 0) & np.isfinite(tracks[:, :3]).all(axis=1)
    logs = np.log(np.column_stack([tracks[:, :3], tracks[:, 1] - tracks[:, 0], tracks[:, 3]]).clip(1.0))
    return voiced, logs


def normalise_rows(tracks: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None) -> np.ndarray:
    """normalised_formants' rows for some hops, given the recording's voiced log mean and standard
    deviation (None when too few hops are voiced: then only the voicing flag is set)."""
    out = np.zeros((len(tracks), len(FEATURE_NAMES)))
    voiced, logs = voiced_logs(tracks)
    out[:, 4] = voiced
    if mean is not None and std is not None:
        z = (logs[voiced] - mean) / (std + 1e-6)
        out[np.flatnonzero(voiced)[:, None], LOG_COLUMNS[None, :]] = np.clip(z, -4.0, 4.0)
    return out


def normalised_formants(tracks: np.ndarray) -> np.ndarray:
    """(hops, 6) features: z-scored log F1, F2, F3 and F2-F1 over the voiced hops, the voicing flag,
    and z-scored log F0; 0 wherever a hop is unvoiced."""
    voiced, logs = voiced_logs(tracks)
    if voiced.sum() < MIN_VOICED_HOPS:
        return normalise_rows(tracks, None, None)
    v = logs[voiced]
    return normalise_rows(tracks, v.mean(axis=0), v.std(axis=0))


def formant_features(samples: np.ndarray, hops: int) -> np.ndarray:
    """Speaker-normalised formant features per hop (see `normalised_formants`)."""
    return normalised_formants(formant_tracks(samples, hops))
