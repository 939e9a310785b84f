"""Options with one home: each backend declares its options once (engine.options), and the CLIs,
the job check at submit and claim, and the dashboard's widgets all come from that declaration."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from engine.backends import check_options, option_specs, register, unregister
from engine.errors import InvalidOptions, UnknownBackendError
from engine.option_flags import add_option_flags, options_from_flags
from engine.options import OPERATOR, USER, RenderOptions, declared, option, parse_declared
from spooler import protocol
from spooler.config import layout_for
from spooler.daemon import check_job_options

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class FakeOptions:
    """A backend with one option of its own."""

    sparkle: float = option(0.25, ("Sparkle", "闪光"), ("how much sparkle, 0 to 1", "闪光多少，0 到 1"),
                            low=0.0, high=1.0)


SEEN: list = []  # the settings each fake render was given


def _fake_backend():
    from engine.backends.none import NoneBackend

    class FakeBackend(NoneBackend):
        """The `none` picture under another name, with an option of its own."""

        name = "fake"

        def video_frames(self, ctx, progress):
            SEEN.append(ctx.settings)
            return super().video_frames(ctx, progress)

    return FakeBackend()


@pytest.fixture
def fake_backend():
    register("fake", _fake_backend, FakeOptions)
    yield "fake"
    unregister("fake")


def _parse(argv: list[str], set_by: tuple[str, ...] = (USER,)) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_option_flags(parser, set_by)
    return parser.parse_args(argv)


def test_a_fake_backends_option_reaches_the_cli_flags(fake_backend) -> None:
    parser = argparse.ArgumentParser()
    add_option_flags(parser, (USER,))
    assert "--sparkle" in parser.format_help() and "[fake] how much sparkle" in parser.format_help()
    assert options_from_flags(_parse(["--backend", "fake", "--sparkle", "0.5"])) == {"backend": "fake",
                                                                                    "sparkle": 0.5}
    assert options_from_flags(_parse(["--backend", "fake", "--option", "sparkle=1"]))["sparkle"] == 1.0
    with pytest.raises(InvalidOptions, match="sparkle must be a number from 0 to 1, got '7'"):
        options_from_flags(_parse(["--backend", "fake", "--sparkle", "7"]))
    with pytest.raises(InvalidOptions, match="sparkle is an option of backend fake, not of rewrite"):
        options_from_flags(_parse(["--sparkle", "0.5"]))  # the default backend has no sparkle


def test_the_spooler_and_engine_clis_offer_every_declared_option(fake_backend) -> None:
    from engine.cli import _parser as engine_parser
    from spooler.cli import build_parser

    submit = build_parser()._subparsers._group_actions[0].choices["submit"].format_help()
    render = engine_parser()._subparsers._group_actions[0].choices["render"].format_help()
    for owner, specs in option_specs().items():
        for spec in specs:
            assert (spec.flag in submit) == (spec.meta.set_by == USER), (owner, spec.name)
            assert spec.flag in render, (owner, spec.name)
    assert "--sparkle" in submit and "--cache-dir" in render and "--cache-dir" not in submit


def test_the_job_check_uses_the_declaration(fake_backend, tmp_path) -> None:
    layout = layout_for(tmp_path / "root")
    assert check_job_options({"backend": "fake", "sparkle": 0.75}, layout, [tmp_path]) == {"backend": "fake",
                                                                                         "sparkle": 0.75}
    with pytest.raises(protocol.InvalidJob, match="sparkle must be a number from 0 to 1"):
        check_job_options({"backend": "fake", "sparkle": "lots"}, layout, [tmp_path])
    with pytest.raises(protocol.InvalidJob, match=r"unknown option 'sparkel'.*backend fake's are sparkle"):
        check_job_options({"backend": "fake", "sparkel": 0.5}, layout, [tmp_path])
    with pytest.raises(protocol.InvalidJob, match='"models_dir" is set by the daemon'):
        check_job_options({"backend": "fake", "models_dir": "/"}, layout, [tmp_path])
    with pytest.raises(protocol.InvalidJob, match="LIPSPOOL_MAX_SIDE"):
        check_job_options({"max_side": 99999}, layout, [tmp_path])


def test_the_dashboard_draws_a_widget_for_the_fake_backends_option(fake_backend, tmp_path, monkeypatch) -> None:
    from spooler.records import WorkerInfo

    monkeypatch.setenv("LIPSPOOL_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("LIPSPOOL_PASSWORD", raising=False)
    layout = layout_for(tmp_path / "root")
    protocol.write_worker(layout, WorkerInfo(worker_id="w1", backends=["rewrite", "fake"]))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    at.selectbox(key="single-backend").set_value("fake").run()
    widget = at.number_input(key="single-sparkle")
    assert widget.label == "闪光" and widget.value == 0.25 and widget.min == 0.0 and widget.max == 1.0


def test_unknown_keys_are_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidOptions, match=r"unknown option 'shape_wieght'.*rewrite's are mouth_model, front_end, "
                                             r"shape_weight, adjust_opening"):
        check_options({"shape_wieght": 1})
    with pytest.raises(InvalidOptions, match="unknown option 'batch_size'"):
        check_options({"backend": "rewrite", "batch_size": 4})  # wav2lip's, not rewrite's
    with pytest.raises(UnknownBackendError, match="unknown backend 'nope'"):
        check_options({"backend": "nope"})
    assert check_options({"backend": "wav2lip", "batch_size": "8", "fp16": "false"}).extra == {"batch_size": "8",
                                                                                             "fp16": "false"}


def test_values_are_converted_and_bounded() -> None:
    from engine.backends.rewrite.options import RewriteOptions

    parsed = parse_declared(RewriteOptions, {"shape_weight": "1.5", "adjust_opening": "no", "mouth_model": "en"}, "x")
    assert (parsed.shape_weight, parsed.adjust_opening, parsed.mouth_model) == (1.5, False, "en")
    for bad in ({"shape_weight": "nan"}, {"shape_weight": True}, {"shape_weight": 2.01}, {"front_end": "magic"},
                {"adjust_opening": "maybe"}, {"mouth_model": 3}):
        with pytest.raises(InvalidOptions):
            parse_declared(RewriteOptions, bad, "x")


def test_every_declaration_is_complete_and_its_defaults_pass_its_own_check() -> None:
    for owner, specs in option_specs().items():
        for spec in specs:
            assert all(spec.meta.label) and all(spec.meta.help), (owner, spec.name)
            assert spec.kind in (bool, int, float, str), (owner, spec.name)
            if spec.meta.set_by != OPERATOR and spec.default not in ("", None):
                assert spec.convert(spec.default) == spec.default, (owner, spec.name)


def test_the_speech_names_in_the_declaration_match_the_engines() -> None:
    from engine.speech import DEFAULT_FRONT_END, FRONT_ENDS
    from engine.speech.learned import SHIPPED_MODELS
    from engine.speech.names import DEFAULT_FRONT_END as NAMED_DEFAULT
    from engine.speech.names import FRONT_END_NAMES, SHIPPED_MODEL_NAMES

    assert set(FRONT_END_NAMES) == set(FRONT_ENDS) and NAMED_DEFAULT == DEFAULT_FRONT_END == FRONT_END_NAMES[0]
    assert set(SHIPPED_MODEL_NAMES) == set(SHIPPED_MODELS)


def test_render_options_declare_the_engines_own_options() -> None:
    names = [s.name for s in declared(RenderOptions)]
    assert names[0] == "backend" and {"crf", "landmarks", "models_dir", "max_side"} <= set(names)
    assert "extra" not in names
    assert RenderOptions.from_dict({"models_dir": "/m", "scratch_dir": "/s"}).extra == {}


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["backend", "crf", "shape_weight", "front_end", "mouth_model", "batch_size",
                                        "fp16", "landmarks", "adjust_opening", "zzz", "checkpoint"]),
                       st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6),
                                 st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                                 st.sampled_from(["rewrite", "wav2lip", "none", "true", "0.5", "1e309"])),
                       max_size=5))
def test_hostile_options_fail_with_one_readable_line(data) -> None:
    try:
        check_options(data)
    except (InvalidOptions, UnknownBackendError) as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) <= 600
    json.dumps(data, default=str)  # the input itself was left alone


def test_a_render_hands_the_backend_its_checked_settings(fake_backend, tmp_path) -> None:
    from engine import render
    from engine.testing.media import make_test_audio, make_test_video

    video, audio = make_test_video(tmp_path / "v.mp4", seconds=0.3), make_test_audio(tmp_path / "a.wav", seconds=0.3)
    SEEN.clear()
    render(audio, video, tmp_path / "o.mp4", {"backend": "fake", "sparkle": "0.5", "preset": "ultrafast"})
    assert [FakeOptions(sparkle=0.5)] == SEEN
    with pytest.raises(InvalidOptions, match="sparkle must be a number from 0 to 1"):
        render(audio, video, tmp_path / "p.mp4", {"backend": "fake", "sparkle": 2})
    assert len(SEEN) == 1 and not (tmp_path / "p.mp4").exists()  # refused before any work
