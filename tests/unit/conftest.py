"""Fixtures shared by the evaluator's tests: a synthetic talking clip and a landmark cache folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from measure.evaluate.synthetic import SyntheticClip, make_talking_clip


@pytest.fixture(scope="module")
def talking(tmp_path_factory: pytest.TempPathFactory) -> SyntheticClip:
    """6 s of the synthetic astronaut talking (a fresh clip per test module)."""
    return make_talking_clip(tmp_path_factory.mktemp("talking") / "astronaut.mp4", seconds=6.0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty landmark cache folder per test module."""
    return tmp_path_factory.mktemp("landmarks")
