"""RenderOptions: validated on construction, so a bad job is refused before it is queued."""
from __future__ import annotations

import pytest

from engine.errors import EngineError, InvalidOptions
from engine.options import RenderOptions


def test_unknown_keys_go_to_extra_and_round_trip() -> None:
    opts = RenderOptions.from_dict({"backend": "none", "crf": 23.0, "smoothing": 0.5, "extra": {"k": 1}})
    assert opts.crf == 23 and opts.extra == {"k": 1, "smoothing": 0.5}
    assert RenderOptions.from_dict(opts.to_dict()) == opts


@pytest.mark.parametrize(
    "data, message",
    [
        ({"crf": "high"}, "crf must be a number"),
        ({"crf": 99}, "crf must be a number"),
        ({"crf": True}, "crf must be a number"),
        ({"preset": "ludicrous"}, "preset must be one of"),
        ({"device": "tpu"}, "device must be one of cpu, cuda"),
        ({"backend": ""}, "backend must be a name"),
        ({"extra": [1]}, "extra must be an object"),
    ],
)
def test_bad_values_name_the_option(data: dict, message: str) -> None:
    with pytest.raises(InvalidOptions, match=message) as info:
        RenderOptions.from_dict(data)
    assert isinstance(info.value, EngineError)
