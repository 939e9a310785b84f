"""The API application in process (httpx's ASGI transport): JSON errors with stable codes for every
failure, the health check's answers, and the callback sender's bounded retries with backoff."""
from __future__ import annotations

import json
import shutil

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.callbacks import CallbackRecord, CallbackStore, Notifier
from api.errors import ApiError
from api.jobs import JobMaker, JobRequest
from api.settings import ApiSettings, SettingsError, api_dir, parse_size
from api.tokens import TokenStore
from spooler import protocol
from spooler.config import layout_for
from spooler.testing import write_finished_job


class Client:
    """Requests to the app in this process, one event loop each."""

    def __init__(self, layout, token: str) -> None:
        self.layout = layout
        self.app = create_app(ApiSettings(layout=layout, max_upload_bytes=10_000), callbacks=False)
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, url: str, headers: dict | None = None, **kw) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                return await c.request(method, url, headers={**self.headers, **(headers or {})}, **kw)

        return anyio.run(go)

    def get(self, url: str, **kw) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw) -> httpx.Response:
        return self.request("PUT", url, **kw)


@pytest.fixture()
def client(tmp_path):
    layout = layout_for(tmp_path / "root")
    _, token = TokenStore(api_dir(layout)).create("unit")
    return Client(layout, token)


def code_of(answer: httpx.Response) -> str:
    assert answer.headers["content-type"] == "application/json", answer.text
    return answer.json()["error"]["code"]


def test_every_failure_is_json_with_a_stable_code(client, monkeypatch) -> None:
    assert (client.put("/v1/jobs").status_code, code_of(client.put("/v1/jobs"))) == (405, "method_not_allowed")
    assert code_of(client.get("/nowhere")) == "not_found"
    big = client.post("/v1/jobs", content=b"{" + b" " * 2_000_000 + b"}", headers={"Content-Type": "application/json"})
    assert (big.status_code, code_of(big)) == (413, "upload_too_large")
    boundaryless = client.post("/v1/jobs", content=b"x", headers={"Content-Type": "multipart/form-data"})
    assert (boundaryless.status_code, code_of(boundaryless)) == (400, "bad_request")
    declared = client.post("/v1/jobs", content=b"x" * 20_000,
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert (declared.status_code, code_of(declared)) == (413, "upload_too_large")
    monkeypatch.setattr(protocol, "all_jobs", lambda layout: 1 / 0)
    broken = client.get("/v1/jobs")
    assert (broken.status_code, code_of(broken)) == (500, "internal_error")
    assert "ZeroDivision" not in broken.text  # the log has the traceback, the client only the code


def test_the_health_check_says_when_the_spool_is_gone(client) -> None:
    assert client.get("/v1/health", headers={"Authorization": ""}).json()["spool"] is True
    shutil.rmtree(client.layout.spool)
    answer = client.get("/v1/health")
    assert answer.status_code == 503 and answer.json()["spool"] is False


def test_a_job_with_a_status_lists_and_pages(client) -> None:
    ids = [write_finished_job(client.layout, ["a.mp4", "b.mp4"], created=f"2026-01-0{n + 1}T00:00:00")
           for n in range(3)]
    page = client.get("/v1/jobs", params={"limit": 2}).json()
    assert page["total"] == 3 and len(page["jobs"]) == 2 and page["next_offset"] == 2
    last = client.get("/v1/jobs", params={"limit": 2, "offset": 2}).json()
    assert len(last["jobs"]) == 1 and last["next_offset"] is None
    assert [j["job_id"] for j in page["jobs"] + last["jobs"]] == ids[::-1]  # newest first
    record = client.get(f"/v1/jobs/{ids[0]}").json()
    assert record == protocol.job_status(client.layout, ids[0]).to_dict()
    results = client.get(f"/v1/jobs/{ids[0]}/results").json()["results"]
    assert [r["file"] for r in results] == ["01_a.mp4", "02_b.mp4"]
    piece = client.get(results[1]["url"], headers={"Range": "bytes=100-"})
    assert piece.status_code == 206 and piece.content == b"b.mp4"


def test_sizes_parse() -> None:
    assert [parse_size(t) for t in ("4G", "500M", "1.5k", "2048", "3 GiB")] == [4 << 30, 500 << 20, 1536, 2048,
                                                                                 3 << 30]
    for bad in ("", "-1", "0", "lots", "4X"):
        with pytest.raises(SettingsError):
            parse_size(bad)


# --- callbacks --------------------------------------------------------------------------------


def _notifier(tmp_path, answers: list[int], attempts: int = 3):
    layout = layout_for(tmp_path / "root")
    job_id = write_finished_job(layout, ["a.mp4"])
    store = CallbackStore(api_dir(layout))
    store.add(CallbackRecord(job_id=job_id, url="http://hooks.test/done"))
    seen: list[dict] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(answers[min(len(seen), len(answers)) - 1])

    notifier = Notifier(layout, store, attempts=attempts, backoff_s=10.0, poll_s=0.01,
                        transport=httpx.MockTransport(reply))
    return notifier, store, seen, job_id


def _rounds(notifier: Notifier, clock: list[float], monkeypatch, times: int) -> None:
    monkeypatch.setattr("api.callbacks.time.time", lambda: clock[0])

    async def run() -> None:
        async with httpx.AsyncClient(transport=notifier.transport) as c:
            for _ in range(times):
                await notifier.tick(c)
                clock[0] += 1.0

    anyio.run(run)


def test_callbacks_retry_with_doubling_waits_then_give_up(tmp_path, monkeypatch) -> None:
    notifier, store, seen, job_id = _notifier(tmp_path, [500], attempts=3)
    clock = [1000.0]
    _rounds(notifier, clock, monkeypatch, 40)  # 40 s of rounds, one a second
    assert len(seen) == 3  # tries at 0 s, 10 s and 30 s (waits of 10 s, then 20 s); bounded at 3
    record = json.loads(store.path(job_id, "failed").read_text())
    assert record["attempts"] == 3 and record["last_error"] == "HTTP 500" and not store.pending()
    assert seen[0]["job_id"] == job_id and seen[0]["state"] == "done"


def test_a_callback_is_delivered_once(tmp_path, monkeypatch) -> None:
    notifier, store, seen, job_id = _notifier(tmp_path, [503, 200])
    _rounds(notifier, [1000.0], monkeypatch, 20)
    assert len(seen) == 2 and json.loads(store.path(job_id, "done").read_text())["delivered"]


OPTION_VALUES = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
                 | st.text(max_size=30) | st.lists(st.integers(), max_size=3)
                 | st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(options=st.dictionaries(st.sampled_from(["backend", "crf", "preset", "landmarks", "checkpoint", "mouth_model",
                                                "models_dir", "max_side", "shape_weight", "batch_size", "extra",
                                                "sparkle", ""]), OPTION_VALUES, max_size=4),
       name=st.text(max_size=50))
def test_any_options_are_accepted_or_a_4xx(tmp_path, options, name) -> None:
    """Hostile option values and names: checked as the daemon will, never a 5xx."""
    layout = layout_for(tmp_path / "root")
    maker = JobMaker(layout, CallbackStore(api_dir(layout)), lambda: set())
    try:
        checked = maker.check_request(JobRequest(name=name, options=options))
    except ApiError as exc:
        assert 400 <= exc.status < 500
        return
    assert isinstance(checked, dict)
