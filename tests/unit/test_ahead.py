"""Ahead: a value worked out in a background thread, its progress relayed, cancellable."""
from __future__ import annotations

import contextvars
import threading
import time

import pytest

from engine.ahead import Ahead, Stopped

SETTING = contextvars.ContextVar("setting", default="unset")


def test_the_value_comes_back_and_the_work_ran_in_another_thread() -> None:
    ran_in = []

    def work(report):
        ran_in.append(threading.current_thread().name)
        return 42

    assert Ahead(work, name="side").result() == 42
    assert ran_in == ["side"]


def test_the_works_exception_is_raised_by_result() -> None:
    def work(report):
        raise ValueError("bad audio")

    with pytest.raises(ValueError, match="bad audio"):
        Ahead(work).result()


def test_progress_is_relayed_from_the_callers_thread_while_it_waits() -> None:
    release = threading.Event()
    seen = []

    def work(report):
        report("mouths", 0.5)
        release.wait(5)
        return "done"

    ahead = Ahead(work)
    caller = threading.current_thread()

    def progress(stage, fraction):
        seen.append((stage, fraction, threading.current_thread() is caller))
        release.set()

    assert ahead.result(progress, poll_s=0.01) == "done"
    assert seen and seen[0] == ("mouths", 0.5, True)


def test_a_cancel_raised_by_progress_stops_the_work_at_its_next_report() -> None:
    stopped = threading.Event()

    def work(report):
        try:
            while True:
                report("mouths", 0.1)
                time.sleep(0.01)
        except Stopped:
            stopped.set()
            raise

    class Cancelled(Exception):
        pass

    def progress(stage, fraction):
        raise Cancelled()

    ahead = Ahead(work)
    with pytest.raises(Cancelled):
        ahead.result(progress, poll_s=0.01)
    assert stopped.is_set()


def test_cancel_stops_the_work_when_the_caller_fails_first() -> None:
    reports = []

    def work(report):
        for i in range(1000):
            report("mouths", i / 1000)
            reports.append(i)
            time.sleep(0.005)
        return "finished"

    ahead = Ahead(work)
    time.sleep(0.05)
    ahead.cancel()
    assert len(reports) < 1000
    with pytest.raises(Stopped):
        ahead.result()


def test_the_callers_context_carries_over() -> None:
    SETTING.set("limits of this render")
    assert Ahead(lambda report: SETTING.get()).result() == "limits of this render"
