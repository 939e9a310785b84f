"""Property-based fuzzing of what enters the spool from outside: job files, CLI arguments, names,
and the checks that stop a swapped input or a failed submit from doing harm."""
from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spooler import cli, protocol
from spooler.config import Layout
from spooler.inputs import CheckedInputs, InputChanged
from spooler.names import MAX_NAME_BYTES, check_job_id, cut_utf8, fit_file_name, is_job_id, printable, safe_stem
from spooler.records import Job
from spooler.runner import TEMP_NAME_RESERVE, output_name

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
VALID = {"schema": 1, "audio": "a.wav", "videos": ["v.mp4"], "name": "n", "created": "2026-12-01",
         "options": {"backend": "none"}, "submitted_at": 1.0}
valid_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
# a valid job with one to three fields replaced (or dropped), so every check is reached
job_like = st.builds(
    lambda changes, drops: {**{k: v for k, v in VALID.items() if k not in drops}, **changes},
    st.dictionaries(st.sampled_from([*VALID, "id"]), json_values | st.text(max_size=20) | valid_ids, max_size=3),
    st.sets(st.sampled_from(list(VALID)), max_size=1),
)


@FUZZ
@given(data=job_like | json_values, file_id=valid_ids | st.text(max_size=30))
def test_parse_job_refuses_anything_bad_with_invalid_job_and_nothing_else(data, file_id) -> None:
    try:
        job = protocol.parse_job(data, file_id)
    except protocol.InvalidJob as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert is_job_id(job.id) and isinstance(job.audio, str) and job.videos
    assert all(isinstance(v, str) and "\0" not in v for v in [job.audio, *job.videos])
    assert isinstance(job.name, str) and isinstance(job.options, dict) and isinstance(job.submitted_at, float)
    json.dumps(job.to_dict())  # what was accepted can be written back


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_load_job_reads_any_bytes_into_a_job_or_one_reason(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(raw)
    try:
        protocol.load_job(path)
    except protocol.InvalidJob as exc:
        assert str(exc)


def test_deep_and_huge_job_files_are_refused_unparsed(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"schema": 1, "audio": "a", "videos": ["v"], "options": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(protocol.InvalidJob, match="nested"):
        protocol.load_job(deep)
    shallow_but_deep = {"schema": 1, "audio": "a", "videos": ["v"],
                        "options": {"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}
    with pytest.raises(protocol.InvalidJob, match="nested"):
        protocol.parse_job(shallow_but_deep, "j")
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"schema": 1, "audio": "a", "videos": ["v"] * 400000}))
    with pytest.raises(protocol.InvalidJob, match="too big"):
        protocol.load_job(huge)


@FUZZ
@given(text=st.text(max_size=200))
def test_job_ids_match_in_full(text: str) -> None:
    ok = is_job_id(text)
    assert ok == (bool(text) and len(text) <= 128 and text[0].isascii() and text[0].isalnum()
                  and all(c.isascii() and (c.isalnum() or c in "._-") for c in text))
    if not ok:
        with pytest.raises(ValueError, match="bad job id"):
            check_job_id(text)


@pytest.mark.parametrize("bad", ["abc\n", "../x", "a/b", "x@w", ".hidden", "", "a" * 129, "é"])
def test_ids_that_could_reach_a_path_or_a_line_are_refused(bad: str) -> None:
    assert not is_job_id(bad)


@FUZZ
@given(stem=st.text(max_size=300), suffix=st.sampled_from(["", ".mp4", ".jpg", ".reason.txt", ".wav"]),
       limit=st.integers(20, 255))
def test_file_names_are_cut_by_bytes_never_inside_a_character(stem: str, suffix: str, limit: int) -> None:
    stem = stem.encode("utf-8", "replace").decode("utf-8")  # file names are valid UTF-8
    name = fit_file_name(stem, suffix, limit)
    assert len(name.encode("utf-8")) <= limit and name.endswith(suffix)
    assert stem.startswith(name[: len(name) - len(suffix)])
    assert cut_utf8(stem, limit).encode("utf-8") == stem.encode("utf-8")[: len(cut_utf8(stem, limit).encode("utf-8"))]


@FUZZ
@given(index=st.integers(0, 9999), video=st.text(min_size=1, max_size=300))
def test_output_names_and_their_temporary_siblings_fit(index: int, video: str) -> None:
    video = video.encode("utf-8", "replace").decode("utf-8")
    name = output_name(index, f"/in/{video.replace('/', '_')}.mp4")
    assert len(name.encode()) + TEMP_NAME_RESERVE <= MAX_NAME_BYTES
    assert "/" not in name and not name.startswith(".") and name.endswith(".mp4")


def test_an_80_character_chinese_name_keeps_its_characters() -> None:
    name = output_name(0, "/in/" + "讲座" * 40 + ".mp4")
    assert name.startswith("01_讲座讲座") and len(name.encode()) <= MAX_NAME_BYTES - TEMP_NAME_RESERVE


@FUZZ
@given(text=st.text(max_size=200))
def test_printable_leaves_no_control_character_and_keeps_the_rest(text: str) -> None:
    shown = printable(text)
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in shown)
    if not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") or c == "\\" for c in text):
        assert shown == text
    assert safe_stem(text) and "/" not in safe_stem(text) and not safe_stem(text).startswith(".")


@FUZZ
@given(job=st.text(max_size=60), command=st.sampled_from(["status", "cancel"]))
def test_cli_job_arguments_never_reach_outside_the_spool(tmp_path: Path, capsys, job: str, command: str) -> None:
    root = tmp_path / "root"
    if job.startswith("-"):
        job = "x" + job
    code = cli.main([command, job, "--root-path", str(root)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error:") and err.count("\n") == 1
    outside = [p for p in tmp_path.rglob("*") if not p.is_relative_to(root)]
    cancels = root / "spool" / "cancel"
    assert not outside and not (cancels.is_dir() and list(cancels.iterdir()))


def test_a_failed_submit_leaves_no_status_and_no_job_file(tmp_path: Path, monkeypatch) -> None:
    layout = Layout(tmp_path).ensure()
    job = Job(id="j1", audio="/a.wav", videos=["/v.mp4"])

    def refuse(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(protocol.os, "rename", refuse)
    with pytest.raises(OSError):
        protocol.submit(layout, job)
    assert protocol.read_status(layout, "j1") is None and protocol.find_job_file(layout, "j1") is None
    assert not list(layout.spool_dir("tmp").iterdir())


def test_an_input_swapped_for_a_link_after_the_check_is_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    checked = root / "video.mp4"
    checked.write_bytes(b"the checked file")
    (outside / "secret").write_bytes(b"secret")
    with CheckedInputs([root]) as inputs:
        handle = inputs.open(checked)
        assert handle.name == "video.mp4"
        checked.unlink()
        checked.symlink_to(outside / "secret")  # the swap, after the check
        assert handle.read_bytes() == b"the checked file"
        with pytest.raises(InputChanged, match="link"):
            inputs.open(checked)
        os.symlink(outside / "secret", root / "link.mp4")
        with pytest.raises(InputChanged):
            inputs.open(root / "link.mp4")
        (root / "sub").mkdir()
        (outside / "v.mp4").write_bytes(b"x")
        os.rmdir(root / "sub")
        os.symlink(outside, root / "sub")  # a folder on the way swapped for a link
        with pytest.raises(InputChanged, match="outside the allowed roots"):
            inputs.open(root / "sub" / "v.mp4")
    assert not handle.exists(), "the private links go with the job"
