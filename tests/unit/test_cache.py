"""AnalysisCache: content keys, hits, corrupt entries, two processes computing one entry."""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import time
from pathlib import Path

import pytest

from engine.cache import AnalysisCache, content_key


def _save(value, path: Path) -> None:
    path.write_text(json.dumps(value))


def _load(path: Path):
    return json.loads(path.read_text())


def test_content_key_follows_the_bytes(tmp_path):
    a, b, c = tmp_path / "a.bin", tmp_path / "b.bin", tmp_path / "c.bin"
    a.write_bytes(b"x" * 3_000_000)
    b.write_bytes(b"x" * 3_000_000)
    c.write_bytes(b"x" * 2_999_999 + b"y")
    assert content_key(a) == content_key(b) != content_key(c)
    assert len(content_key(a)) == 40 and int(content_key(a), 16) >= 0
    old = content_key(a)
    a.write_bytes(b"z" * 10)  # changed file: new size/mtime, new key
    assert content_key(a) != old


def test_second_call_is_a_hit(tmp_path):
    cache = AnalysisCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"n": 42}

    assert cache.get_or_compute("ab12", "entry-v1.json", compute, _save, _load) == {"n": 42}
    assert cache.get_or_compute("ab12", "entry-v1.json", compute, _save, _load) == {"n": 42}
    assert len(calls) == 1
    assert cache.load("ab12", "entry-v1.json", _load) == {"n": 42}
    assert cache.load("ab12", "entry-v2.json", _load) is None  # another version is another entry
    assert cache.path_for("ab12", "entry-v1.json").is_file()
    assert not [p for p in cache.path_for("ab12", "x").parent.iterdir() if p.name.endswith(".tmp.json")]


def test_a_corrupt_entry_is_recomputed(tmp_path, caplog):
    cache = AnalysisCache(tmp_path)
    path = cache.path_for("cd34", "e.json")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        assert cache.get_or_compute("cd34", "e.json", lambda: [1, 2], _save, _load) == [1, 2]
    assert "unreadable" in caplog.text
    assert _load(path) == [1, 2]


def test_a_failed_compute_leaves_no_entry(tmp_path):
    cache = AnalysisCache(tmp_path)

    def fail():
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("ef56", "e.json", fail, _save, _load)
    assert cache.load("ef56", "e.json", _load) is None


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(ValueError):
        AnalysisCache(tmp_path).path_for("../x", "e.json")


def _worker(root: str, counter: str, out: str, start: float) -> None:
    while time.time() < start:
        time.sleep(0.005)

    def compute():
        with open(counter, "a") as fh:
            fh.write("computed\n")
        time.sleep(0.5)  # long enough that the other process arrives while this one computes
        return {"value": 7}

    result = AnalysisCache(root).get_or_compute("9f00", "shared.json", compute, _save, _load)
    Path(out).write_text(json.dumps(result))


def test_two_processes_compute_once(tmp_path):
    ctx = mp.get_context("spawn")
    counter = tmp_path / "count.txt"
    start = time.time() + 1.0
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "cache"), str(counter), str(tmp_path / f"out{i}"), start))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert counter.read_text().count("computed") == 1
    assert _load(tmp_path / "out0") == _load(tmp_path / "out1") == {"value": 7}
