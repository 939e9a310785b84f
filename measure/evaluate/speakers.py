"""Who speaks in each public development clip, and under which licence class it may be used.

Leave-one-speaker-out validation needs speakers, not files: two clips of one person must never
sit on both sides of a split. The public clips' speakers come from `../shared/media/SOURCES.md`
and `../shared/media/train/SOURCES.md` (GRID speakers identified from the frames there). Clips
not in the table fall back to `speaker_group`, their file stem without trailing numbered parts,
which is conservative (it can only merge clips, never split one person).

Licence classes, as the sources give them: `open` (GRID, CC BY 4.0), `research` (LRS2, MEAD,
MER2023, CMU-MOSEI: non-commercial research only; MER's EULA extends that to derived models) and
`unknown` (third-party broadcast, film and sample footage with no licence for the pictures).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

OPEN, RESEARCH, UNKNOWN = "open", "research", "unknown"
LICENCE_CLASSES = (OPEN, RESEARCH, UNKNOWN)


@dataclass(frozen=True)
class ClipSource:
    """One public clip: its speaker and licence class, and its language."""

    speaker: str
    licence: str
    language: str = "en"


def _grid(speaker: str) -> ClipSource:
    return ClipSource(f"GRID-{speaker}", OPEN)


_ZH = "zh"
PUBLIC_CLIPS: dict[str, ClipSource] = {
    # ../shared/media (third-party footage kept in code repositories)
    "mimictalk_German_20s": ClipSource("mimictalk_German", UNKNOWN),
    "styletalk_KristiNoem": ClipSource("KristiNoem", UNKNOWN),
    "styletalk_andrew_clip_1": ClipSource("styletalk_andrew", UNKNOWN),
    "styletalk_andrew_clip_2": ClipSource("styletalk_andrew", UNKNOWN),
    "dfrf_cnn2_25fps": ClipSource("dfrf_cnn2", UNKNOWN),
    "sadtalker_WDA_KatieHill_000": ClipSource("KatieHill", UNKNOWN),
    "vretalking_face_1": ClipSource("vretalking_face", UNKNOWN),
    "vretalking_face_2": ClipSource("vretalking_face", UNKNOWN),
    "vretalking_face_4": ClipSource("vretalking_face", UNKNOWN),
    "liveportrait_d20": ClipSource("liveportrait_d20", UNKNOWN, _ZH),
    "latentsync_demo3_video": ClipSource("latentsync_demo3", UNKNOWN),
    "facerec_short_hamilton_clip": ClipSource("hamilton", UNKNOWN),
    "pcavs_741400104": ClipSource("pcavs", UNKNOWN),
    "pcavs_741400163": ClipSource("pcavs", UNKNOWN),
    "w2lgfpgan_kim_7s_raw": ClipSource("w2lgfpgan_kim", UNKNOWN),
    "skyreels_driving_video_2": ClipSource("skyreels_driving", UNKNOWN),
    # ../shared/media/train: GRID (open)
    "lipnet_bbaf2n": _grid("A"),
    "lipread-ansh_video_20251208_015857_cac80689": _grid("A"),
    "lipnet_brbk7n": _grid("B"),
    "lipnet_lbax4n": _grid("C"),
    "lipnet_lbbc2a": _grid("D"),
    "lipnet_lrwp9a": _grid("E"),
    "liprp_id23_vcd_priazn": _grid("E"),
    "lipnet_lwbsza": _grid("F"),
    "lipnet_id2_vcd_swwp2s": _grid("G"),
    "lipnet_pwij3p": _grid("G"),
    "lipread-ansh_video_20251207_154307_b7d7e7a1": _grid("G"),
    "lipnet_sbia1a": _grid("H"),
    "lipnet_sbwe5n": _grid("I"),
    "lipnet_swiz3n": _grid("J"),
    "lipread-ansh_video_20251208_032621_6a59e295": _grid("K"),
    "lipread-ansh_video_20251208_032953_826b5db2": _grid("L"),
    "lipread-ansh_video_20251208_120232_93ae3d4b": _grid("M"),
    "lipread-ansh_video_20251208_122715_edff7a1c": _grid("N"),
    # LRS2, MEAD, MOSEI, MER2023: research only
    **{f"deepavsr_{n}": ClipSource(f"LRS2-{n}", RESEARCH) for n in
       ("00001", "00004", "00008", "00009", "00016", "00019", "00022", "00024")},
    "eamm_M030_sad_3_001": ClipSource("MEAD-M030", RESEARCH),
    "emollamav2_0y022OlZ3W0_4": ClipSource("MOSEI-0y022OlZ3W0", RESEARCH),
    "emollamav2_cM3Yna7AavY_1": ClipSource("MOSEI-cM3Yna7AavY", RESEARCH),
    **{f"emollama_sample_{n}": ClipSource(f"MER-{int(n)}", RESEARCH, _ZH) for n in
       ("00000669", "00000694", "00001073", "00003358", "00004136", "00004671")},
    # third-party footage with no licence for the pictures
    "edtalk_pose_source2": ClipSource("TedLieu", UNKNOWN),
    "syncnet_example": ClipSource("syncnet_anchor", UNKNOWN),
    "lipreaddl_sample_video": ClipSource("lipreaddl_man", UNKNOWN),
    "emollamav2_video_0019_0002": ClipSource("film_actress_0019", UNKNOWN, _ZH),
}


def speaker_group(name: str) -> str:
    """A clip's file stem without trailing numbered parts ('x_clip_2' -> 'x_clip')."""
    stem = Path(name).stem
    while re.search(r"_\d+$", stem):
        stem = re.sub(r"_\d+$", "", stem)
    return stem


def clip_source(name: str) -> ClipSource:
    """The clip's speaker and licence: from the table, else its stem and `unknown`."""
    stem = Path(name).stem
    return PUBLIC_CLIPS.get(stem) or ClipSource(speaker_group(stem), UNKNOWN)


def speaker_of(name: str) -> str:
    """The speaker id leave-one-speaker-out validation groups this clip by."""
    return clip_source(name).speaker
