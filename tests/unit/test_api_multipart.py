"""Uploads streamed to disk, and hostile request bodies: every malformed, truncated, oversized or
strangely named input is a 4xx ApiError, never another exception, and nothing escapes the folder."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.callbacks import check_url
from api.errors import (
    ApiError,
    BadRequest,
    CallbackNotAllowed,
    InvalidOptions,
    InvalidParameter,
    MissingField,
    TruncatedUpload,
    UploadTooLarge,
)
from api.jobs import form_request, parse_json_body
from api.uploads import Form, disposition, receive_form

BOUNDARY = "----lipspool-test-boundary"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body_of(parts: list[tuple[str, str | None, bytes]], end: bool = True) -> bytes:
    """A multipart body of (field, filename or None, data) parts."""
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n").encode() + data + b"\r\n"
    return out + (f"--{BOUNDARY}--\r\n".encode() if end else b"")


def receive(body: bytes, folder: Path, cuts: list[int] | None = None, max_bytes: int = 1 << 30,
            content_type: str = CTYPE) -> Form:
    """Run receive_form over `body` cut into pieces at `cuts`."""
    points = sorted({0, len(body), *(c for c in (cuts or []) if 0 < c < len(body))})
    pieces = [body[a:b] for a, b in zip(points, points[1:])]

    async def chunks():
        for piece in pieces:
            yield piece

    async def main() -> Form:
        return await receive_form(chunks(), content_type, folder, max_bytes)

    return anyio.run(main)


def test_files_and_fields_land_on_disk_under_safe_unique_names(tmp_path) -> None:
    big = bytes(range(256)) * 9000  # 2.3 MB: several pieces
    body = body_of([("name", None, "讲座 1".encode()), ("audio", "speech.wav", b"RIFF"),
                    ("videos", "../../etc/passwd", big), ("videos", "anna.mp4", b"a"), ("videos", "anna.mp4", b"b"),
                    ("options", None, b'{"backend": "none"}')])
    form = receive(body, tmp_path / "inputs", cuts=[7, 100, 5000, 1 << 20])
    assert form.fields == {"name": "讲座 1", "options": '{"backend": "none"}'}
    assert [(f.field, f.filename, f.path.name, f.size) for f in form.files] == [
        ("audio", "speech.wav", "speech.wav", 4), ("videos", "../../etc/passwd", "passwd", len(big)),
        ("videos", "anna.mp4", "anna.mp4", 1), ("videos", "anna.mp4", "anna-2.mp4", 1)]
    assert form.files[1].path.read_bytes() == big
    assert sorted(p.name for p in (tmp_path / "inputs").iterdir()) == ["anna-2.mp4", "anna.mp4", "passwd",
                                                                         "speech.wav"]
    assert form.size == len(body)


def test_rfc2231_file_names_are_understood(tmp_path) -> None:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"videos\"; "
            "filename*=utf-8''%E8%AE%B2%E5%BA%A7.mp4\r\n\r\n").encode()
    form = receive(head + b"x\r\n" + f"--{BOUNDARY}--\r\n".encode(), tmp_path)
    assert form.files[0].path.name == "讲座.mp4"


@pytest.mark.parametrize(("parts", "error"), [
    ([("colour", None, b"red")], BadRequest),
    ([("weird", "x.mp4", b"x")], BadRequest),
    ([("audio", None, b"/etc/passwd")], BadRequest),  # paths go in a JSON body, not as text fields
    ([("name", None, b"a"), ("name", None, b"b")], BadRequest),
    ([("name", None, b"x" * 70000)], BadRequest),
    ([("name", None, b"\xff\xfe")], BadRequest),
])
def test_bad_fields_are_refused(tmp_path, parts, error) -> None:
    with pytest.raises(error):
        receive(body_of(parts), tmp_path)


def test_an_oversized_body_is_refused_as_it_grows(tmp_path) -> None:
    with pytest.raises(UploadTooLarge):
        receive(body_of([("videos", "a.mp4", b"x" * 5000)]), tmp_path, cuts=[1000, 2000], max_bytes=3000)


def test_a_body_without_a_boundary_is_refused_before_reading(tmp_path) -> None:
    for content_type in ("multipart/form-data", "text/plain; boundary=x", f"multipart/form-data; boundary={'b' * 300}"):
        with pytest.raises(BadRequest):
            receive(b"", tmp_path, content_type=content_type)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 10**6), pieces=st.lists(st.integers(1, 400), max_size=5))
def test_any_truncation_is_refused(tmp_path, cut, pieces) -> None:
    body = body_of([("name", None, b"n"), ("audio", "a.wav", b"A" * 300), ("videos", "v.mp4", b"V" * 300)])
    cut = cut % len(body)  # every proper prefix, the empty one included
    with pytest.raises((TruncatedUpload, BadRequest)):
        receive(body[:cut], tmp_path / uuid.uuid4().hex, cuts=pieces)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=300))
def test_hostile_file_names_stay_inside_the_folder(tmp_path, name) -> None:
    folder = tmp_path / "inputs"
    safe = name.replace("\r", "").replace("\n", "").replace('"', "")
    try:
        form = receive(body_of([("videos", safe, b"data")]), folder)
    except BadRequest:
        return  # a header that does not parse is refused
    path = form.files[0].path
    assert path.parent == folder and path.is_file() and path.read_bytes() == b"data"
    assert not path.name.startswith(".") and "/" not in path.name and len(path.name.encode()) <= 255
    path.unlink()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_garbage_bodies_are_a_4xx(tmp_path, data) -> None:
    with pytest.raises(ApiError) as caught:
        receive(f"--{BOUNDARY}\r\n".encode() + data, tmp_path / "g")
    assert 400 <= caught.value.status < 500


# --- JSON bodies and form fields ---------------------------------------------------------------

def test_a_json_request_names_files() -> None:
    request = parse_json_body(json.dumps({"audio": "media/a.wav", "videos": ["media/b.mp4"], "name": "x",
                                          "options": {"backend": "none"}}).encode())
    assert (request.audio, request.videos, request.options) == ("media/a.wav", ["media/b.mp4"], {"backend": "none"})


@pytest.mark.parametrize(("raw", "error"), [
    (b"", BadRequest), (b"[1]", BadRequest), (b"{", BadRequest), (b"\xff", BadRequest),
    (b'{"videos": ["v"]}', MissingField), (b'{"audio": "a"}', MissingField),
    (b'{"audio": "a", "videos": []}', MissingField),
    (b'{"audio": "a", "videos": ["v"], "extra": 1}', BadRequest),
    (b'{"audio": 5, "videos": ["v"]}', InvalidParameter), (b'{"audio": "a", "videos": [5]}', InvalidParameter),
    (b'{"audio": "a", "videos": {"x": 1}}', InvalidParameter),
    (b'{"audio": "a", "videos": ["v"], "options": [1]}', InvalidOptions),
    (b'{"audio": "a\\u0000", "videos": ["v"]}', InvalidParameter),
    (b"[" * 100000 + b"]" * 100000, BadRequest),
])
def test_bad_json_requests_are_refused_with_their_reason(raw, error) -> None:
    with pytest.raises(error):
        parse_json_body(raw)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.sampled_from(["audio", "videos", "name", "options", "callback_url", "x"]), JSON,
                             max_size=5) | JSON)
def test_any_json_body_is_a_request_or_a_4xx(value) -> None:
    try:
        request = parse_json_body(json.dumps(value).encode())
    except ApiError as exc:
        assert 400 <= exc.status < 500 and exc.code
        return
    assert request.audio and request.videos and isinstance(request.options, dict)


def test_form_fields_make_a_request(tmp_path) -> None:
    form = receive(body_of([("audio", "a.wav", b"a"), ("videos", "v.mp4", b"v"), ("options", None, b'{"crf": 20}')]),
                   tmp_path)
    assert form_request(form).options == {"crf": 20}
    for parts, error in (([("videos", "v.mp4", b"v")], MissingField), ([("audio", "a.wav", b"a")], MissingField),
                         ([("audio", "a.wav", b"a"), ("audio", "b.wav", b"b"), ("videos", "v.mp4", b"v")], BadRequest),
                         ([("audio", "a.wav", b"a"), ("videos", "v.mp4", b"v"), ("options", None, b"{")],
                          InvalidOptions)):
        with pytest.raises(error):
            form_request(receive(body_of(parts), tmp_path / str(len(parts)) / error.__name__))


# --- callback URLs ---------------------------------------------------------------------------

def test_callbacks_go_only_to_allowed_hosts() -> None:
    allowed = {"hooks.example.org", "127.0.0.1:9000"}
    assert check_url("https://hooks.example.org/lipspool?x=1", allowed)
    assert check_url("http://127.0.0.1:9000/done", allowed)
    for url, error in (("http://127.0.0.1:9001/", CallbackNotAllowed), ("http://evil.example.org/", CallbackNotAllowed),
                       ("http://hooks.example.org.evil.net/", CallbackNotAllowed),
                       ("ftp://hooks.example.org/", InvalidParameter), ("hooks.example.org", InvalidParameter),
                       ("http://[::1/", InvalidParameter), ("http://hooks.example.org:99999/", InvalidParameter),
                       ("http://hooks.example.org/a b", InvalidParameter)):
        with pytest.raises(error):
            check_url(url, allowed)


@settings(max_examples=300, deadline=None)
@given(url=st.text(max_size=120) | st.from_regex(r"https?://[a-z0-9.\[\]:@-]{0,30}(/.{0,20})?", fullmatch=True))
def test_any_callback_url_is_accepted_or_a_4xx(url) -> None:
    try:
        check_url(url, {"ok.example"})
    except ApiError as exc:
        assert exc.status in (403, 422)


@settings(max_examples=300, deadline=None)
@given(header=st.text(max_size=120)
       | st.from_regex(r"form-data; name=\"[a-z]{0,5}\"; filename\*=[a-z0-9-]{0,8}'[a-z]{0,3}'[%A-Za-z0-9.]{0,20}",
                       fullmatch=True)
       | st.from_regex(r"form-data;( ?[a-z*]{1,9}=(\"[^\"]{0,10}\"|[^;]{0,10});?){0,4}", fullmatch=True))
def test_any_content_disposition_is_a_field_or_a_400(header) -> None:
    try:
        name, filename = disposition(header)
    except BadRequest:
        return
    assert isinstance(name, str) and name and (filename is None or isinstance(filename, str))
