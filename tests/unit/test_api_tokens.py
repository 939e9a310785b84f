"""Bearer tokens: shown once, stored hashed, checked in constant time, revocable; wrong ones cost time."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.auth import Authenticator
from api.errors import InvalidToken, TooManyAttempts, Unauthorized
from api.tokens import PREFIX, TokenError, TokenStore, check_name, hash_token
from spooler.throttle import Throttle

REPO = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_shown_once_and_only_its_hash_is_stored(tmp_path) -> None:
    store = TokenStore(tmp_path)
    record, token = store.create("ci")
    assert token.startswith(PREFIX) and len(token) > 40
    text = store.path.read_text()
    assert token not in text and hash_token(token) in text
    assert json.loads(text)["schema"] == 1
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.verify(token) == record
    assert store.verify(token + "x") is None and store.verify(token[:-1]) is None and store.verify("") is None


def test_revoking_by_id_or_name_takes_effect_in_a_store_already_open(tmp_path) -> None:
    server = TokenStore(tmp_path)  # as the running API holds it
    a, token_a = TokenStore(tmp_path).create("a")
    b, token_b = TokenStore(tmp_path).create("b")
    assert server.verify(token_a) == a and server.verify(token_b) == b
    TokenStore(tmp_path).revoke("a")
    TokenStore(tmp_path).revoke(b.id)
    assert server.verify(token_a) is None and server.verify(token_b) is None
    with pytest.raises(TokenError):
        server.revoke("a")


def test_names_are_unique_and_plain(tmp_path) -> None:
    store = TokenStore(tmp_path)
    store.create("ci build")
    with pytest.raises(TokenError, match="exists"):
        store.create("ci build")
    for bad in ("", " x", "a/b", "x" * 65, "new\nline", "\u202eevil"):
        with pytest.raises(TokenError):
            check_name(bad)


def test_a_damaged_token_file_is_an_error_not_an_open_door(tmp_path) -> None:
    store = TokenStore(tmp_path)
    store.path.write_text('{"schema": 1, "tokens": [{"id": "t1"}]}')
    with pytest.raises(TokenError):
        store.verify("lsp_anything")
    store.path.write_text("not json")
    with pytest.raises(TokenError):
        store.records()


@settings(max_examples=200, deadline=None)
@given(presented=st.text(max_size=600))
def test_no_guess_verifies(tmp_path_factory, presented) -> None:
    folder = tmp_path_factory.mktemp("tokens")
    store = TokenStore(folder)
    _, token = store.create("x")
    assert store.verify(presented) is None or presented == token


def test_the_authenticator_tells_missing_wrong_and_throttled_apart(tmp_path) -> None:
    store = TokenStore(tmp_path)
    record, token = store.create("app")
    clock = FakeClock()
    auth = Authenticator(store, Throttle(free=3, first_wait_s=2.0, clock=clock))
    assert auth.check(f"Bearer {token}", "ip:1") == record
    assert auth.check(f"bearer   {token}  ", "ip:1") == record
    for header in (None, "", "Basic abc", "Bearer", "Bearer    "):
        with pytest.raises(Unauthorized):
            auth.check(header, "ip:1")
    for _ in range(4):
        with pytest.raises(InvalidToken):
            auth.check("Bearer lsp_wrong", "ip:2")
    with pytest.raises(TooManyAttempts) as caught:  # locked out: even the right token waits
        auth.check(f"Bearer {token}", "ip:2")
    assert caught.value.headers["Retry-After"] == "2" and caught.value.status == 429
    assert auth.check(f"Bearer {token}", "ip:3") == record  # another client is not held up
    clock.now += 2.1
    assert auth.check(f"Bearer {token}", "ip:2") == record


def test_the_cli_creates_lists_and_revokes(tmp_path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "api", "token", *args, "--root-path", str(tmp_path)],
                              cwd=REPO, capture_output=True, text=True, timeout=60)

    made = cli("create", "--name", "robot")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith(PREFIX) and "shown only now" in made.stderr
    listed = cli("list", "--json")
    assert [t["name"] for t in json.loads(listed.stdout)] == ["robot"] and token not in listed.stdout
    assert "sha256" not in listed.stdout
    assert cli("create", "--name", "robot").returncode == 1
    assert cli("revoke", "robot").returncode == 0
    assert json.loads(cli("list", "--json").stdout) == []
    assert cli("revoke", "robot").returncode == 1
