"""RenderOptions: what a caller may ask of one render, as a JSON-friendly dataclass."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

DEFAULT_BACKEND = "none"


@dataclass
class RenderOptions:
    """Options for one render; unknown keys in a dict are kept in `extra` for the backend."""

    backend: str = DEFAULT_BACKEND
    device: str = "cpu"  # "cpu" or "cuda"
    crf: int = 20  # x264 quality: lower is better and bigger (18..28 sensible)
    preset: str = "veryfast"  # x264 speed/size trade-off
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RenderOptions:
        """Build from a job's `options` dict; keys the engine does not know go to `extra`."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)} - {"extra"}
        kwargs = {k: data.pop(k) for k in list(data) if k in known}
        extra = dict(data.pop("extra", {}) or {})
        extra.update(data)
        return cls(**kwargs, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (inverse of from_dict)."""
        return asdict(self)
