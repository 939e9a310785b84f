"""Range requests for results: what a Range header asks of a file, and the answers built from it."""
from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.errors import RangeNotSatisfiable
from api.ranges import ByteRange, etag_of, file_response, parse_range


@pytest.mark.parametrize(("header", "size", "expected"), [
    (None, 100, None),
    ("bytes=0-99", 100, ByteRange(0, 99)),
    ("bytes=0-", 100, ByteRange(0, 99)),
    ("bytes=10-19", 100, ByteRange(10, 19)),
    ("bytes=90-500", 100, ByteRange(90, 99)),  # an end past the file is cut to it
    ("bytes=-10", 100, ByteRange(90, 99)),
    ("bytes=-500", 100, ByteRange(0, 99)),  # a suffix longer than the file is the whole file
    ("BYTES = 5-5", 100, ByteRange(5, 5)),
    ("items=0-5", 100, None),  # another unit: ignored, the whole file
    ("nonsense", 100, None),
])
def test_ranges_that_can_be_served(header, size, expected) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=5-4", "bytes=-0", "bytes=-", "bytes=",
                                    "bytes=a-b", "bytes=0-1,5-6", "bytes=--5", "bytes=1-2-3", "bytes=0x10-",
                                    "bytes=" + "9" * 25 + "-", "bytes=0-" + "0" * 300])
def test_ranges_that_cannot_be_served_are_416_with_the_size(header) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 100)
    assert caught.value.status == 416 and caught.value.headers == {"Content-Range": "bytes */100"}


def test_an_empty_file_has_no_range_to_serve() -> None:
    for header in ("bytes=0-", "bytes=-1"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, 0)


@given(header=st.one_of(st.text(max_size=80), st.from_regex(r"bytes=\d{0,4}-\d{0,4}", fullmatch=True),
                        st.from_regex(r" *[bB][yY][tT][eE][sS] *= *-?\d{0,3}-?\d{0,3}(,\d-\d)?", fullmatch=True)),
       size=st.integers(0, 5000))
def test_any_header_gives_a_range_inside_the_file_or_a_416(header, size) -> None:
    """Hostile headers: never another exception, and a range given is always inside the file."""
    try:
        got = parse_range(header, size)
    except RangeNotSatisfiable as exc:
        assert exc.headers["Content-Range"] == f"bytes */{size}"
        return
    if got is not None:
        assert 0 <= got.start <= got.end < size and got.length == got.end - got.start + 1


@given(size=st.integers(1, 10**12), start=st.integers(0, 10**12), length=st.integers(1, 10**12))
def test_a_valid_range_is_served_exactly(size, start, length) -> None:
    end = start + length - 1
    if start >= size:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(f"bytes={start}-{end}", size)
    else:
        assert parse_range(f"bytes={start}-{end}", size) == ByteRange(start, min(end, size - 1))


def _open(tmp_path, data: bytes) -> int:
    path = tmp_path / "01_a.mp4"
    path.write_bytes(data)
    return os.open(path, os.O_RDONLY)


def test_the_answer_carries_the_range_headers_and_a_stale_if_range_gets_the_whole_file(tmp_path) -> None:
    fd = _open(tmp_path, bytes(range(200)))
    answer = file_response(fd, "01_a.mp4", "bytes=10-19", None)
    assert answer.status_code == 206 and answer.headers["content-range"] == "bytes 10-19/200"
    assert answer.headers["content-length"] == "10" and answer.headers["content-type"] == "video/mp4"
    assert answer.headers["accept-ranges"] == "bytes"
    etag = answer.headers["etag"]
    assert etag == etag_of(os.stat(tmp_path / "01_a.mp4"))
    whole = file_response(_open(tmp_path, bytes(200)), "01_a.mp4", "bytes=10-19", '"stale"')
    assert whole.status_code == 200 and whole.headers["content-length"] == "200"


def test_a_refused_range_closes_the_file(tmp_path) -> None:
    fd = _open(tmp_path, b"abc")
    with pytest.raises(RangeNotSatisfiable):
        file_response(fd, "01_a.mp4", "bytes=5-", None)
    with pytest.raises(OSError):
        os.fstat(fd)
