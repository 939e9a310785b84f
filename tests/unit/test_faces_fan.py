"""The `fan` landmark backend's plumbing, with face-alignment's FAN(4) built from its own
architecture and random (seeded) weights: loading both weight forms, the crop and heatmap geometry,
the readable error without weights, no download ever, the chooser, and tracking with it.

Random weights give meaningless landmarks: the quality of the real 2DFAN4 weights is not measured here.
"""
from __future__ import annotations

import socket
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

from engine.errors import EngineError, InvalidOptions
from engine.faces import LANDMARK_BACKENDS, FaceModelError, FanWeightsMissing, landmark_backend, track_video
from engine.faces.fan_crop import INPUT_SIZE, CropWindow, decode_heatmaps
from engine.faces.fan_weights import WEIGHT_NAMES, WEIGHTS_URL
from engine.testing.clips import astronaut, place, write_clip

STATE_DICT, TORCHSCRIPT = WEIGHT_NAMES  # "2DFAN4-11f355bf06.pth.tar", "2DFAN4-cd938726ad.zip"


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Every way out to the network fails loudly and is recorded; torch's hub folder is an empty one."""
    attempts: list[str] = []

    def refuse(what: str):
        def _refuse(*args, **kwargs):
            attempts.append(what)
            raise AssertionError(f"tried to reach the network ({what})")
        return _refuse

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))
    try:
        import torch.hub
    except ImportError:
        pass
    else:
        monkeypatch.setattr(torch.hub, "download_url_to_file", refuse("download_url_to_file"))
        monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse("load_state_dict_from_url"))
    try:
        import face_alignment.utils
    except ImportError:
        pass
    else:
        monkeypatch.setattr(face_alignment.utils, "load_file_from_url", refuse("face_alignment load_file_from_url"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("LIPSPOOL_MODELS", raising=False)
    yield attempts
    assert attempts == []


@pytest.fixture(scope="module")
def random_fan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """FAN(4) with seeded random weights, saved as a state_dict and as TorchScript in two models folders."""
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("face_alignment.models")
    torch.manual_seed(0)
    net = models.FAN(4).eval()
    with torch.no_grad():  # random batch-norm statistics too, so the untrained network is not degenerate
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    state = tmp_path_factory.mktemp("models-state")
    torch.save(net.state_dict(), state / STATE_DICT)
    script = tmp_path_factory.mktemp("models-script")
    # traced on a small input: the network is fully convolutional, the trace works at 256x256 too
    with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13, and FAN returns a list
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(net, torch.zeros(1, 3, 64, 64), check_trace=False)
    traced.save(str(script / TORCHSCRIPT))
    return {"state": state, "script": script}


@pytest.fixture(scope="module")
def face_frame() -> tuple[np.ndarray, np.ndarray]:
    """A 320x240 frame with the astronaut's head, and dlib's box around it."""
    from engine.faces.landmarks import LandmarkDetector

    frame = np.full((240, 320, 3), 100, np.uint8)
    place(frame, astronaut(), 1.0, (160, 110), head_only=True)
    box = LandmarkDetector().detect(frame)[0].box
    return frame, box


def test_heatmap_peaks_decode_to_the_cell_centre_moved_towards_the_higher_neighbour():
    hm = np.zeros((68, 64, 64), np.float32)
    hm[0, 30, 20] = 1.0
    hm[0, 30, 21], hm[0, 30, 19] = 0.6, 0.2  # right higher: +0.25 in x
    hm[0, 29, 20], hm[0, 31, 20] = 0.5, 0.1  # above higher: -0.25 in y
    hm[1, 63, 0] = 1.0  # on the border: no neighbour on one side, no shift
    hm[1, 62, 0], hm[1, 63, 1] = 0.9, 0.9
    hm[2, 7, 40] = 1.0  # equal neighbours: no shift
    hm[2, 7, 39] = hm[2, 7, 41] = hm[2, 6, 40] = hm[2, 8, 40] = 0.3
    pts = decode_heatmaps(hm)
    assert pts.shape == (68, 2)
    np.testing.assert_allclose(pts[0], [20.75, 30.25])
    np.testing.assert_allclose(pts[1], [0.5, 63.5])
    np.testing.assert_allclose(pts[2], [40.5, 7.5])


def test_the_crop_window_is_centred_above_the_box_and_scaled_by_its_size():
    window = CropWindow.around([100, 100, 200, 200])  # 200 * (100 + 100) / 195 -> 206 px, centre 12 px up
    assert window == CropWindow(47, 35, 206)
    np.testing.assert_allclose(window.to_frame([[32.0, 16.0]], 64), [[47 + 103 - 0.5, 35 + 51.5 - 0.5]])


def test_the_crop_and_the_mapping_back_agree_pixel_for_pixel():
    frame = np.zeros((300, 400, 3), np.uint8)
    frame[120, 210] = (255, 0, 0)
    window = CropWindow(90, 30, INPUT_SIZE)  # 1:1, so the cut is an exact copy
    crop = window.cut(frame)
    y, x = np.argwhere(crop[:, :, 0] == 255)[0]
    np.testing.assert_allclose(window.to_frame([[x + 0.5, y + 0.5]], INPUT_SIZE), [[210, 120]])
    outside = CropWindow(-100, -100, 200).cut(frame)  # beyond the frame's edges: black, no error
    assert outside.shape == (INPUT_SIZE, INPUT_SIZE, 3) and outside[:100].max() == 0


def test_a_network_that_marks_a_bright_dot_puts_the_points_on_the_dot(tmp_path):
    """End to end through the backend: crop, forward, decode and mapping back land on the dot."""
    torch = pytest.importorskip("torch")

    class DotFinder(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.avg_pool2d(x.mean(1, keepdim=True), 4).repeat(1, 68, 1, 1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(DotFinder()).save(str(tmp_path / TORCHSCRIPT))
    backend = landmark_backend("fan", models_dir=tmp_path)
    for dot, box in (((250, 140), (200, 100, 300, 200)), ((120, 60), (60, 40, 190, 170))):
        frame = np.zeros((360, 480, 3), np.uint8)
        frame[dot[1] - 4:dot[1] + 5, dot[0] - 4:dot[0] + 5] = 255
        pts = backend.points_in_box(frame, np.array(box, np.float32))
        assert pts.shape == (68, 2) and pts.dtype == np.float32
        assert np.abs(pts - np.array(dot)).max() < 1.7  # a quarter of a heatmap cell is ~0.8 px here


def test_both_weight_forms_load_and_give_68_points_near_the_face(random_fan, face_frame):
    frame, box = face_frame
    from_state = landmark_backend("fan", models_dir=random_fan["state"])
    assert from_state.name == "fan" and from_state.weights.name == STATE_DICT and from_state.colour
    pts = from_state.points_in_box(frame, box)
    assert pts.shape == (68, 2) and pts.dtype == np.float32 and np.isfinite(pts).all()
    window = CropWindow.around(box)  # random weights: anywhere in FAN's window, which holds the box
    assert (pts >= [window.x0 - 1, window.y0 - 1]).all()
    assert (pts <= [window.x0 + window.size, window.y0 + window.size]).all()
    assert len({tuple(p) for p in pts}) > 10  # not one collapsed point
    from_script = landmark_backend("fan", models_dir=random_fan["script"])
    assert from_script.weights.name == TORCHSCRIPT and from_script.tag != from_state.tag
    small = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # cheap: fully convolutional
    np.testing.assert_allclose(from_script.heatmaps(small), from_state.heatmaps(small), atol=1e-4)


def test_weights_in_torch_hub_cache_are_found(random_fan, tmp_path):
    hub = tmp_path / "torch-home" / "hub" / "checkpoints"  # TORCH_HOME points here (no_downloads)
    hub.mkdir(parents=True)
    (hub / STATE_DICT).write_bytes((random_fan["state"] / STATE_DICT).read_bytes())
    assert landmark_backend("fan").weights == hub / STATE_DICT


def test_missing_weights_say_which_file_goes_where(tmp_path, no_downloads):
    pytest.importorskip("torch")
    empty = tmp_path / "models"
    empty.mkdir()
    with pytest.raises(FanWeightsMissing) as info:
        landmark_backend("fan", models_dir=empty)
    message = str(info.value)
    assert isinstance(info.value, FaceModelError) and isinstance(info.value, EngineError)
    assert STATE_DICT in message and WEIGHTS_URL in message and str(empty) in message
    assert "hub" in message and "landmarks=dlib" in message
    with pytest.raises(FanWeightsMissing):  # before any work: the video is not even opened
        track_video(tmp_path / "no-such-video.mp4", landmarks="fan", models_dir=empty)
    assert no_downloads == []


def test_a_damaged_weights_file_is_a_readable_error(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / STATE_DICT).write_bytes(b"not a checkpoint")
    backend = landmark_backend("fan", models_dir=tmp_path)
    with pytest.raises(FaceModelError, match="download it again"):
        backend.points_in_box(np.zeros((64, 64, 3), np.uint8), [10, 10, 50, 50])


def test_the_chooser_knows_dlib_and_fan_only():
    assert LANDMARK_BACKENDS == ("dlib", "fan")
    assert landmark_backend().name == "dlib" and landmark_backend("dlib").tag == "dlib68"
    with pytest.raises(InvalidOptions, match="dlib, fan") as info:
        landmark_backend("sift")
    assert "'sift'" in str(info.value)
    with pytest.raises(InvalidOptions):
        track_video("no-such-video.mp4", landmarks="sift")


def test_tracking_with_fan_gives_a_track_and_its_own_cache_entry(random_fan, face_frame, tmp_path, monkeypatch):
    frame, _ = face_frame
    path = write_clip(tmp_path / "still.mp4", [frame] * 3, fps=25)
    cache = tmp_path / "cache"
    fan = track_video(path, cache_dir=cache, landmarks="fan", models_dir=random_fan["state"])
    assert fan.n_frames == 3 and fan.present.any() and fan.landmarks.startswith("fan68-")
    assert np.isfinite(fan.points[fan.present]).all()
    dlib = track_video(path, cache_dir=cache)
    assert dlib.landmarks == "dlib68" and dlib.present.all()
    assert not np.allclose(dlib.raw_points[0], fan.raw_points[0])
    names = sorted(p.name for p in cache.rglob("faces-*.npz"))
    assert len(names) == 2 and names[0].startswith("faces-s1-dlib68-") and names[1].startswith("faces-s1-fan68-")

    import engine.faces.track as track_mod
    from engine.faces.track import cached_track

    def boom(*args, **kwargs):
        raise AssertionError("tracked again although cached")

    monkeypatch.setattr(track_mod, "compute_track", boom)
    again = track_video(path, cache_dir=cache, landmarks="fan", models_dir=random_fan["state"])
    np.testing.assert_array_equal(again.raw_points, fan.raw_points)
    assert again.landmarks == fan.landmarks
    assert cached_track(path, cache, landmarks="fan", models_dir=random_fan["state"]).landmarks == fan.landmarks
    assert cached_track(path, cache).landmarks == "dlib68"
