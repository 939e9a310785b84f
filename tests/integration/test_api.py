"""The HTTP API from another process: a real uvicorn server (`python -m api serve`) and a real daemon
on a temporary root, driven over HTTP with httpx (and raw sockets for bodies httpx will not send).

Covered: an uploaded batch followed to done, its results downloaded with range requests and as a
streamed ZIP, its callback delivered after a retry; a running job cancelled; tokens created and
revoked from the command line; and every bad input answered with its 4xx and a JSON error, leaving
nothing behind in the spool, the results or the callback records.
"""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from spool_helpers import REPO, DaemonProcess, copy_into, run_cli, wait_for

from spooler.config import Layout

pytestmark = pytest.mark.integration

MAX_UPLOAD = 3 << 20  # the server under test takes bodies up to 3 MB
BOUNDARY = "lipspool-raw-boundary"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _token(root: Path, name: str) -> str:
    made = subprocess.run([sys.executable, "-m", "api", "token", "create", "--name", name, "--root-path", str(root)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


class Hooks:
    """A callback receiver on 127.0.0.1: records every POST; /flaky answers 500 to its first one."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict, float]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hooks.posts.append((self.path, body, time.monotonic()))
                fail = self.path == "/flaky" and sum(p == "/flaky" for p, _, _ in hooks.posts) == 1
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Api:
    """The server process and a client holding a token."""

    def __init__(self, root: Path, hooks: Hooks) -> None:
        self.root, self.layout = root, Layout(root).ensure()
        self.token = _token(root, "tests")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "LIPSPOOL_API_CALLBACK_HOSTS": f"127.0.0.1:{hooks.port}",
               "LIPSPOOL_API_CALLBACK_BACKOFF_S": "0.3"}
        self._log = open(root / "logs" / "api.stderr", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--root-path", str(root), "--port",
                                      str(self.port), "--max-upload", str(MAX_UPLOAD)],
                                     cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60)
        wait_for(self._up, timeout=60, what="the API to answer", poll=0.1)

    def _up(self) -> bool:
        assert self.proc.poll() is None, (self.root / "logs" / "api.stderr").read_text()
        try:
            return httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def job(self, job_id: str) -> dict:
        answer = self.client.get(f"/v1/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait_state(self, job_id: str, states: set[str], timeout: float = 60) -> dict:
        return wait_for(lambda: (lambda s: s if s["state"] in states else None)(self.job(job_id)), timeout=timeout,
                        what=f"job {job_id} to be {states}", poll=0.1)

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)
        self._log.close()


@pytest.fixture(scope="module")
def hooks():
    receiver = Hooks()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(scope="module")
def api(tmp_path_factory, hooks):
    root = tmp_path_factory.mktemp("api") / "root"
    server = Api(root, hooks)
    daemon = DaemonProcess(root, "--rescan", "0.5", name="api-daemon")
    yield server
    server.stop()
    daemon.stop()


@pytest.fixture(scope="module")
def inputs(api, media):
    """The test clips inside the root (for path requests) and as they are (for uploads)."""
    return {k: copy_into(api.root, v) for k, v in media.items() if k != "wide"}


def snapshot(root: Path) -> set[str]:
    """Every file and folder under the spool (heartbeats aside), the results and the API's callback records."""
    found = set()
    for top in ("spool", "results", "api-data/callbacks"):
        for path in (root / top).rglob("*") if (root / top).exists() else []:
            rel = path.relative_to(root).as_posix()
            if not rel.startswith("spool/workers"):
                found.add(rel)
    return found


def error_of(answer: httpx.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["error"]["code"] == code and body["error"]["message"] and body["schema"] == 1
    return body["error"]


def raw(port: int, head: str, parts: list[bytes], read: bool = True) -> tuple[int, bytes]:
    """Send a request by hand; (status, body) of the answer, or (0, b"") when not read."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode())
        for part in parts:
            s.sendall(part)
        if not read:
            return 0, b""
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            more = s.recv(65536)
            if not more:
                break
            data += more
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def part(name: str, filename: str, data: bytes) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'
            ).encode() + data + b"\r\n"


# --- the endpoints at work --------------------------------------------------------------------


def test_only_the_health_check_answers_without_a_token(api) -> None:
    assert httpx.get(f"{api.url}/v1/health").json() == {"status": "ok", "spool": True, "schema": 1}
    for method, path in (("GET", "/v1/jobs"), ("GET", "/v1/workers"), ("GET", "/v1/openapi.json"),
                         ("POST", "/v1/jobs"), ("GET", "/v1/jobs/x"), ("POST", "/v1/jobs/x/cancel")):
        answer = httpx.request(method, f"{api.url}{path}")
        error_of(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"].startswith("Bearer")
    spec = api.client.get("/v1/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/cancel", "/v1/jobs/{job_id}/results/{index}",
            "/v1/jobs/{job_id}/results.zip", "/v1/workers", "/v1/health"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]


def test_wrong_tokens_are_refused_and_then_slowed(api) -> None:
    wrong = {"Authorization": "Bearer lsp_not-a-token", "X-Forwarded-For": "203.0.113.50"}
    for _ in range(4):
        error_of(httpx.get(f"{api.url}/v1/jobs", headers=wrong), 401, "invalid_token")
    locked = httpx.get(f"{api.url}/v1/jobs", headers={**wrong, "Authorization": f"Bearer {api.token}"})
    error_of(locked, 429, "too_many_attempts")
    assert int(locked.headers["retry-after"]) >= 1
    assert api.client.get("/v1/jobs").status_code == 200  # another client is not held up


def test_a_token_made_and_revoked_while_the_server_runs_counts_at_once(api) -> None:
    token = _token(api.root, "short-lived")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{api.url}/v1/workers", headers=headers).status_code == 200
    done = subprocess.run([sys.executable, "-m", "api", "token", "revoke", "short-lived", "--root-path",
                           str(api.root)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    error_of(httpx.get(f"{api.url}/v1/workers", headers={**headers, "X-Forwarded-For": "203.0.113.51"}), 401,
             "invalid_token")


def test_an_uploaded_batch_runs_to_done_and_its_results_download(api, media, hooks) -> None:
    files = [("audio", ("speech.wav", media["audio_short"].read_bytes(), "audio/wav")),
             ("videos", ("anna.mp4", media["tiny"].read_bytes(), "video/mp4")),
             ("videos", ("讲座 ben.mp4", media["small"].read_bytes(), "video/mp4"))]
    data = {"name": "API batch", "options": json.dumps({"backend": "none"}),
            "callback_url": f"http://127.0.0.1:{hooks.port}/flaky"}
    answer = api.client.post("/v1/jobs", files=files, data=data)
    assert answer.status_code == 201, answer.text
    job = answer.json()
    job_id = job["job_id"]
    assert answer.headers["location"] == f"/v1/jobs/{job_id}" and job["state"] == "queued" and job["total"] == 2
    inputs = sorted(p.name for p in (api.root / "results" / job_id / "inputs").iterdir())
    assert inputs == ["anna.mp4", "speech.wav", "讲座 ben.mp4"]

    final = api.wait_state(job_id, {"done", "done_with_failures", "failed"})
    assert final["state"] == "done" and final["done"] == 2
    cli = run_cli(api.root, "status", job_id, "--json")
    assert json.loads(cli.stdout) == final  # the same record the CLI prints

    listing = api.client.get(f"/v1/jobs/{job_id}/results").json()
    assert [r["index"] for r in listing["results"]] == [0, 1]
    first = listing["results"][0]
    on_disk = Path(final["items"][0]["output"]).read_bytes()
    assert first["size"] == len(on_disk) and first["content_type"] == "video/mp4"

    whole = api.client.get(first["url"])
    assert whole.status_code == 200 and whole.content == on_disk and whole.headers["accept-ranges"] == "bytes"
    piece = api.client.get(first["url"], headers={"Range": "bytes=100-1099"})
    assert piece.status_code == 206 and piece.content == on_disk[100:1100]
    assert piece.headers["content-range"] == f"bytes 100-1099/{len(on_disk)}"
    tail = api.client.get(first["url"], headers={"Range": "bytes=-500", "If-Range": whole.headers["etag"]})
    assert tail.status_code == 206 and tail.content == on_disk[-500:]
    error_of(api.client.get(first["url"], headers={"Range": f"bytes={len(on_disk)}-"}), 416, "range_not_satisfiable")
    head = api.client.head(first["url"])
    assert head.status_code == 200 and head.headers["content-length"] == str(len(on_disk)) and head.content == b""
    thumb = api.client.get(first["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"

    with api.client.stream("GET", listing["zip_url"]) as streamed:
        assert streamed.status_code == 200 and streamed.headers["content-type"] == "application/zip"
        assert "content-length" not in streamed.headers  # streamed while it is written
        archive = zipfile.ZipFile(io.BytesIO(streamed.read()))
    assert archive.namelist() == [Path(it["output"]).name for it in final["items"]]
    assert archive.read(archive.namelist()[0]) == on_disk and archive.testzip() is None

    page = api.client.get("/v1/jobs", params={"state": "done", "limit": 1}).json()
    assert page["jobs"][0]["job_id"] == job_id and page["total"] >= 1 and page["limit"] == 1

    record_path = api.root / "api-data" / "callbacks" / "done" / f"{job_id}.json"
    wait_for(record_path.exists, timeout=20, what="the callback to be delivered")
    posts = [(p, body, t) for p, body, t in hooks.posts if body["job_id"] == job_id]
    assert [p for p, _, _ in posts] == ["/flaky", "/flaky"]  # the first try got a 500, the retry a 204
    assert posts[1][1]["state"] == "done" and posts[1][2] - posts[0][2] >= 0.25  # after the backoff
    record = json.loads(record_path.read_text())
    assert record["attempts"] == 2 and record["delivered"]


def test_a_running_job_is_cancelled(api, inputs, hooks) -> None:
    request = {"audio": "media/long.wav", "videos": [str(inputs["small"])] * 3, "options": {"backend": "none"},
               "callback_url": f"http://127.0.0.1:{hooks.port}/cancelled"}
    answer = api.client.post("/v1/jobs", json=request)
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["job_id"]
    api.wait_state(job_id, {"running"}, timeout=30)
    cancel = api.client.post(f"/v1/jobs/{job_id}/cancel")
    assert cancel.status_code == 200 and cancel.json()["outcome"] == "requested"
    final = api.wait_state(job_id, {"cancelled", "done", "done_with_failures", "failed"}, timeout=30)
    assert final["state"] == "cancelled" and final["done"] < 3
    again = api.client.post(f"/v1/jobs/{job_id}/cancel").json()
    assert again["outcome"] == "cancelled" and again["status"]["state"] == "cancelled"
    wait_for(lambda: any(p == "/cancelled" and b["job_id"] == job_id for p, b, _ in hooks.posts), timeout=20,
             what="the cancelled job's callback")


def test_the_worker_list_shows_the_daemon(api) -> None:
    workers = api.client.get("/v1/workers").json()
    assert workers["alive"] == 1 and workers["workers"][0]["alive"] is True
    assert workers["workers"][0]["state"] in ("idle", "busy") and "none" in workers["workers"][0]["backends"]


# --- bad input: a 4xx with the reason, and nothing left behind ---------------------------------


def test_every_bad_input_is_a_4xx_and_leaves_nothing_behind(api, inputs, media, tmp_path, hooks) -> None:
    busy = ("new", "active", "queue", "working")
    wait_for(lambda: not any(next((api.root / "spool" / d).iterdir(), None) for d in busy), timeout=30,
             what="the spool to be idle")
    before = snapshot(api.root)
    audio = ("audio", ("speech.wav", media["audio_short"].read_bytes(), "audio/wav"))
    video = ("videos", ("anna.mp4", media["tiny"].read_bytes(), "video/mp4"))
    text_video = ("videos", ("notes.mp4", b"these are not moving pictures\n" * 50, "video/mp4"))
    outside = tmp_path / "outside.wav"
    outside.write_bytes(media["audio_short"].read_bytes())
    nobody = httpx.Client(base_url=api.url, timeout=60)
    wrong = httpx.Client(base_url=api.url, timeout=60, headers={"Authorization": "Bearer lsp_wrong",
                                                               "X-Forwarded-For": "203.0.113.60"})
    cases = [
        (nobody.post("/v1/jobs", files=[audio, video]), 401, "unauthorized"),
        (wrong.post("/v1/jobs", files=[audio, video]), 401, "invalid_token"),
        (api.client.post("/v1/jobs", files=[audio]), 400, "missing_field"),
        (api.client.post("/v1/jobs", files=[video]), 400, "missing_field"),
        (api.client.post("/v1/jobs", files=[audio, video, text_video]), 422, "not_media"),
        (api.client.post("/v1/jobs", files=[("audio", ("a.wav", b"RIFF....WAVE", "audio/wav")), video]), 422,
         "not_media"),
        (api.client.post("/v1/jobs", files=[audio, ("videos", ("big.mp4", b"\0" * (MAX_UPLOAD + 1000), "video/mp4"))]),
         413, "upload_too_large"),
        (api.client.post("/v1/jobs", files=[audio, video], data={"options": '{"backend": "none", "sparkle": 1}'}),
         422, "invalid_options"),
        (api.client.post("/v1/jobs", files=[audio, video], data={"options": '{"models_dir": "/"}'}), 422,
         "invalid_options"),
        (api.client.post("/v1/jobs", files=[audio, video], data={"colour": "red"}), 400, "bad_request"),
        (api.client.post("/v1/jobs", files=[audio, video], data={"callback_url": "http://203.0.113.9/hook"}), 403,
         "callback_not_allowed"),
        (api.client.post("/v1/jobs", json={"audio": str(outside), "videos": [str(inputs["tiny"])]}), 403,
         "path_outside_roots"),
        (api.client.post("/v1/jobs", json={"audio": "media/../../../../etc/hostname", "videos": ["media/tiny.mp4"]}),
         403, "path_outside_roots"),
        (api.client.post("/v1/jobs", json={"audio": "media/short.wav", "videos": ["media/missing.mp4"]}), 422,
         "invalid_input"),
        (api.client.post("/v1/jobs", json={"audio": "media/short.wav"}), 400, "missing_field"),
        (api.client.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}), 400,
         "bad_request"),
        (api.client.post("/v1/jobs", content=b"audio=x", headers={"Content-Type": "text/plain"}), 415,
         "unsupported_content_type"),
        (api.client.get("/v1/jobs/20990101-000000-abcdef"), 404, "job_not_found"),
        (api.client.get("/v1/jobs/..%2F..%2Fetc"), 404, "not_found"),
        (api.client.get("/v1/jobs/-rm%20-rf"), 404, "job_not_found"),
        (api.client.post("/v1/jobs/20990101-000000-abcdef/cancel"), 404, "job_not_found"),
        (api.client.get("/v1/jobs/20990101-000000-abcdef/results/0"), 404, "job_not_found"),
        (api.client.get("/v1/jobs/20990101-000000-abcdef/results.zip"), 404, "job_not_found"),
        (api.client.get("/v1/jobs", params={"state": "sleeping"}), 422, "invalid_parameter"),
        (api.client.get("/v1/jobs", params={"limit": 0}), 422, "invalid_parameter"),
    ]
    for answer, status, code in cases:
        error_of(answer, status, code)
        assert snapshot(api.root) == before, f"{code} left files behind"
    for done in api.client.get("/v1/jobs", params={"state": "done"}).json()["jobs"][:1]:
        error_of(api.client.get(f"/v1/jobs/{done['job_id']}/results/7"), 404, "result_not_found")
        error_of(api.client.get(f"/v1/jobs/{done['job_id']}/results/x"), 422, "invalid_parameter")
    assert "not usable media" in cases[4][0].json()["error"]["message"]
    assert cases[4][0].json()["error"]["details"][0]["file"] == "notes.mp4"

    head = (f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n")
    start = part("audio", "speech.wav", media["audio_short"].read_bytes()) + part("videos", "a.mp4", b"x" * 200_000)
    # a multipart body cut short (the HTTP body itself complete): 400 truncated_upload
    cut = part("audio", "speech.wav", media["audio_short"].read_bytes())[:-500]
    status, body = raw(api.port, head + f"Content-Length: {len(cut)}\r\n\r\n", [cut])
    assert status == 400 and json.loads(body)["error"]["code"] == "truncated_upload"
    # an oversized body without a length (chunked): refused once it grows past the limit
    chunk = b"y" * (256 << 10)
    chunks = [start] + [chunk] * 14 + [b"\r\n--" + BOUNDARY.encode() + b"--\r\n"]
    encoded = [f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks] + [b"0\r\n\r\n"]
    status, body = raw(api.port, head + "Transfer-Encoding: chunked\r\n\r\n", encoded)
    assert status == 413 and json.loads(body)["error"]["code"] == "upload_too_large"
    # a declared length far over the limit is refused before the body is read (curl waits for 100-continue)
    status, body = raw(api.port, head + "Content-Length: 999999999999\r\nExpect: 100-continue\r\n\r\n", [])
    assert status == 413 and json.loads(body)["error"]["code"] == "upload_too_large"
    # a client that goes away mid-upload: what it sent is removed
    raw(api.port, head + "Content-Length: 2000000\r\n\r\n", [start], read=False)
    time.sleep(0.5)
    wait_for(lambda: snapshot(api.root) == before, timeout=10, what="a broken-off upload to be removed")
    assert snapshot(api.root) == before
