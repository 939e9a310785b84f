"""The Wav2Lip generator re-implementation and its checkpoint loading, against the published facts
(../shared/reference/wav2lip_state_dict.json): exact state_dict layout, the official container
with and without `module.`, clear errors for missing, truncated and wrong checkpoints."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.backends.wav2lip.checkpoint import (
    check_state_dict,
    load_generator,
    random_weights,
    read_state_dict,
    save_official,
)
from engine.backends.wav2lip.model import Wav2Lip
from engine.errors import CheckpointError

FACTS = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "wav2lip_state_dict.json"


@pytest.fixture(scope="module")
def facts() -> dict:
    if not FACTS.is_file():
        pytest.skip(f"{FACTS} is not here (it lives in the shared folder beside the repository)")
    return json.loads(FACTS.read_text())


@pytest.fixture(scope="module")
def weights() -> dict:
    return random_weights(seed=3)


@pytest.fixture(scope="module")
def official(tmp_path_factory, weights) -> Path:
    """A checkpoint in the official container: legacy format, `module.` on every key, optimizer state beside."""
    return save_official(tmp_path_factory.mktemp("ckpt") / "wav2lip.pth", weights, module_prefix=True, legacy=True)


def test_state_dict_layout_equals_the_official_one(facts) -> None:
    gen = facts["generator"]
    expected = [tuple(e) for e in gen["entries"]] if "entries" in gen else [tuple(e) for e in gen["state_dict"]]
    model = Wav2Lip()
    mine = [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()]
    assert [m[0] for m in mine] == [e[0] for e in expected]  # same keys in the same order
    assert [(m[0], m[1], m[2]) for m in mine] == [(e[0], list(e[1]), e[2]) for e in expected]
    assert len(mine) == gen["num_entries"] == 352
    assert sum(p.numel() for p in model.parameters()) == gen["total_parameters"] == 36_298_035


def test_official_container_loads_strictly_with_and_without_module_prefix(official, weights, tmp_path) -> None:
    raw = torch.load(official, map_location="cpu", weights_only=True)
    assert set(raw) == {"state_dict", "optimizer", "global_step", "global_epoch"}
    assert all(k.startswith("module.") for k in raw["state_dict"])
    with open(official, "rb") as fh:
        assert fh.read(2) != b"PK"  # the legacy (pre-zip) format, as torch 1.1 wrote it
    bare = save_official(tmp_path / "bare.pth", weights, module_prefix=False, legacy=False)
    for path in (official, bare):
        model = load_generator(path)
        assert not model.training
        for key, value in model.state_dict().items():
            assert torch.equal(value, weights[key]), key


def test_missing_batch_counters_are_accepted(weights, tmp_path) -> None:
    trimmed = {k: v for k, v in weights.items() if not k.endswith("num_batches_tracked")}
    assert len(trimmed) == 352 - 50
    model = load_generator(save_official(tmp_path / "old.pth", trimmed))
    key = "audio_encoder.0.conv_block.1.running_var"
    assert torch.equal(model.state_dict()[key], weights[key])


def test_missing_file_says_where_checkpoints_come_from(tmp_path) -> None:
    with pytest.raises(CheckpointError, match=r"no Wav2Lip checkpoint at .*nothere\.pth.*wav2lip_gan\.pth"):
        read_state_dict(tmp_path / "nothere.pth")


def test_truncated_file_is_refused_clearly(official, tmp_path) -> None:
    cut = tmp_path / "cut.pth"
    cut.write_bytes(official.read_bytes()[: official.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pth .*cannot be read.*truncated"):
        load_generator(cut)


def test_a_syncnet_checkpoint_is_named_by_its_first_wrong_key(facts, tmp_path) -> None:
    entries = facts["syncnet_expert"].get("entries") or facts["syncnet_expert"]["state_dict"]
    sync = {k: torch.zeros(shape, dtype=getattr(torch, dtype)) for k, shape, dtype in entries}
    path = save_official(tmp_path / "lipsync_expert.pth", sync)
    first = entries[0][0]
    with pytest.raises(CheckpointError, match=rf"unexpected key '{first}'.*SyncNet expert"):
        load_generator(path)


def test_a_misshapen_or_incomplete_generator_names_the_key(weights) -> None:
    expected = Wav2Lip().state_dict()
    bad = dict(weights)
    bad["output_block.1.weight"] = torch.zeros(3, 16, 1, 1)
    with pytest.raises(CheckpointError, match=r"'output_block\.1\.weight' has shape \(3, 16, 1, 1\), expected "
                                              r"\(3, 32, 1, 1\)"):
        check_state_dict(bad, expected, "x.pth")
    short = {k: v for k, v in weights.items() if k != "face_decoder_blocks.3.0.conv_block.0.bias"}
    with pytest.raises(CheckpointError, match=r"missing key 'face_decoder_blocks\.3\.0\.conv_block\.0\.bias'"):
        check_state_dict(short, expected, "x.pth")


class Payload:  # a pickled object that is not a tensor: weights_only loading must refuse it
    def __reduce__(self):
        return (print, ("this must never run",))


def test_code_in_a_checkpoint_never_runs(tmp_path, capsys) -> None:
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": {"x": Payload()}}, fh)
    with pytest.raises(CheckpointError):
        read_state_dict(path)
    assert "never run" not in capsys.readouterr().out


def test_forward_is_deterministic_with_the_documented_shapes(official) -> None:
    model = load_generator(official)
    gen = torch.Generator().manual_seed(0)
    audio = torch.rand(3, 1, 80, 16, generator=gen) * 8 - 4
    face = torch.rand(3, 6, 96, 96, generator=gen)
    face[:, :3, 48:] = 0
    with torch.inference_mode():
        a, b = model(audio, face), model(audio, face)
        timed = model(torch.stack([audio[:1], audio[1:2]], dim=1), torch.stack([face[:1], face[1:2]], dim=2))
    assert a.shape == (3, 3, 96, 96) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert float(a.min()) > 0.0 and float(a.max()) < 1.0  # a sigmoid
    assert timed.shape == (1, 3, 2, 96, 96)
    assert torch.allclose(timed[0, :, 1], a[1], atol=1e-5)  # the 5-D form unrolls time-major
    # the sound changes the picture: a different mel chunk gives a different face
    with torch.inference_mode():
        other = model(audio.flip(0), face)
    assert float((other - a).abs().max()) > 1e-4
    assert np.isfinite(a.numpy()).all()
