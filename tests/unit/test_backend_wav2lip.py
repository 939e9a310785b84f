"""The `wav2lip` backend's whole path on the CPU: crops from our tracker, official mel chunks,
batched generation, compositing, encoding. With random weights this proves the plumbing, not the
quality (no real checkpoint can ship); an identity generator proves the crop and paste-back line
up; options and checkpoints are checked before any work."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import engine
from engine.backends.wav2lip import infer
from engine.backends.wav2lip.checkpoint import random_weights, save_official
from engine.composite import lower_face_mask, psnr
from engine.errors import CheckpointError, InvalidOptions
from engine.faces import detect_faces
from engine.media.read import iter_frames
from engine.testing.media import make_test_audio
from measure.evaluate.synthetic import base_face, make_talking_clip

FAST = {"preset": "ultrafast", "crf": 12}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """2 s of the synthetic astronaut talking (25 fps, 400x400)."""
    return make_talking_clip(tmp_path_factory.mktemp("w2l") / "talking.mp4", seconds=2.0, fps=25).path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A models folder holding a random-weight checkpoint under the official name and container."""
    folder = tmp_path_factory.mktemp("models")
    save_official(folder / "wav2lip_gan.pth", random_weights(seed=1))
    return folder


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> Path:
    return make_test_audio(tmp_path_factory.mktemp("a") / "speech.wav", seconds=1.6)


@pytest.fixture(scope="module")
def baseline(clip, audio, tmp_path_factory) -> list[np.ndarray]:
    """The `none` backend's frames: the picture every other backend starts from."""
    out = tmp_path_factory.mktemp("none") / "none.mp4"
    engine.render(audio, clip, out, {"backend": "none", **FAST})
    return list(iter_frames(out))


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    return detect_faces(base_face())[0].points


def _outside_and_inside(frames, baseline, points) -> tuple[float, float]:
    grown = lower_face_mask(points, frames[0].shape, grow=0.15) > 0
    outside = min(psnr(a, b, ~grown) for a, b in zip(frames, baseline))
    inside = float(np.median([psnr(a, b, lower_face_mask(points, a.shape) > 0) for a, b in zip(frames, baseline)]))
    return outside, inside


def test_plumbing_not_quality_random_weights_render_on_cpu(clip, audio, models, baseline, points, tmp_path) -> None:
    seen: list[str] = []
    out = tmp_path / "w2l.mp4"
    result = engine.render(audio, clip, out, {"backend": "wav2lip", "models_dir": str(models), "batch_size": 7,
                                              **FAST}, progress=lambda stage, f: seen.append(stage))
    frames = list(iter_frames(out))
    assert result.backend == "wav2lip" and len(frames) == len(baseline) == 40  # 1.6 s at 25 fps
    assert {"model", "synthesis"} <= set(seen)
    outside, inside = _outside_and_inside(frames, baseline, points)
    assert outside >= 40.0  # nothing outside the lower face changes (beyond re-encoding)
    assert inside < 30.0  # the random generator did replace the lower face
    print(f"random weights: lower face {inside:.1f} dB, outside {outside:.1f} dB")
    import av

    with av.open(str(out)) as c:
        assert c.streams.audio and c.streams.audio[0].duration is not None


class ReferenceOnly(torch.nn.Module):
    """A stand-in generator that returns the unmasked reference crop: a perfect 'lip-sync' of the frame itself."""

    def forward(self, audio: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        return face[:, 3:6]


def test_identity_generator_puts_the_face_back_where_it_was(clip, audio, models, baseline, points, tmp_path,
                                                            monkeypatch) -> None:
    monkeypatch.setattr(infer, "load_generator", lambda path, device: ReferenceOnly())
    infer._CACHE.clear()
    out = tmp_path / "same.mp4"
    engine.render(audio, clip, out, {"backend": "wav2lip", "models_dir": str(models), **FAST})
    infer._CACHE.clear()
    frames = list(iter_frames(out))
    outside, inside = _outside_and_inside(frames, baseline, points)
    assert outside >= 40.0
    # the only loss is the round trip through 96x96: a crop or paste off by a few pixels scores far lower
    assert inside >= 30.0, inside
    print(f"identity generator: lower face {inside:.1f} dB, outside {outside:.1f} dB")


def test_bad_options_and_missing_checkpoints_fail_before_any_work(clip, audio, models, tmp_path) -> None:
    seen: list[str] = []
    with pytest.raises(CheckpointError, match=r"no Wav2Lip checkpoint in .*empty.*wav2lip_gan\.pth"):
        (tmp_path / "empty").mkdir()
        engine.render(audio, clip, tmp_path / "a.mp4", {"backend": "wav2lip", "models_dir": str(tmp_path / "empty")},
                      progress=lambda stage, f: seen.append(stage))
    with pytest.raises(CheckpointError, match=r"no Wav2Lip checkpoint at .*gone\.pth"):
        engine.render(audio, clip, tmp_path / "b.mp4", {"backend": "wav2lip", "checkpoint": str(tmp_path / "gone.pth")})
    with pytest.raises(InvalidOptions, match="batch_size"):
        engine.render(audio, clip, tmp_path / "c.mp4", {"backend": "wav2lip", "models_dir": str(models),
                                                         "batch_size": "many"})
    with pytest.raises(InvalidOptions, match="fp16"):
        engine.render(audio, clip, tmp_path / "d.mp4", {"backend": "wav2lip", "models_dir": str(models),
                                                         "fp16": "maybe"})
    if not torch.cuda.is_available():
        with pytest.raises(InvalidOptions, match="no usable CUDA"):
            engine.render(audio, clip, tmp_path / "e.mp4", {"backend": "wav2lip", "models_dir": str(models),
                                                             "device": "cuda"})
    assert not list(tmp_path.glob("*.mp4"))
    assert "faces" not in seen and "synthesis" not in seen  # refused up front, before tracking


def test_a_checkpoint_is_found_by_name_in_the_models_folder(clip, audio, models, tmp_path) -> None:
    out = tmp_path / "named.mp4"
    engine.render(audio, clip, out, {"backend": "wav2lip", "models_dir": str(models), "checkpoint": "wav2lip_gan.pth",
                                     **FAST})
    assert out.is_file()


def test_batch_size_does_not_change_the_faces(models) -> None:
    from engine.backends.wav2lip.infer import Generator, GeneratorSettings, probe_inputs

    mels, faces = probe_inputs(8, seed=5)
    small = Generator(GeneratorSettings(models / "wav2lip_gan.pth", batch_size=3))(mels, faces)
    whole = Generator(GeneratorSettings(models / "wav2lip_gan.pth", batch_size=8))(mels, faces)
    assert small.shape == whole.shape == (8, 96, 96, 3) and small.dtype == np.uint8
    assert np.abs(small.astype(int) - whole.astype(int)).max() <= 1  # float rounding only
    assert small.std() > 5  # not a flat grey: the random generator draws something


def test_float16_check_measures_a_small_difference(models) -> None:
    """The probe that decides float16 on CUDA, run here through CPU autocast: it agrees within tolerance."""
    from engine.backends.wav2lip.checkpoint import load_generator
    from engine.backends.wav2lip.infer import HALF_TOLERANCE, half_agrees

    diff = half_agrees(load_generator(models / "wav2lip_gan.pth"), "cpu")
    assert 0.0 < diff <= HALF_TOLERANCE
