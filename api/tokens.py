"""Bearer tokens: made with `secrets`, shown once, stored only as a SHA-256 hash, revocable.

The store is <root>/api-data/tokens.json, rewritten whole and atomically under a lock (so two
`token create` commands never lose one another's token) and read again by the server whenever
it changes, so a token created or revoked from the command line counts at once. A token is 32
random bytes, so its unsalted hash is as hard to reverse as the token is to guess. A presented
token is hashed and compared with every stored hash in constant time.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spooler.atomicfile import atomic_write_json, read_json
from spooler.states import now_iso

from . import API_SCHEMA

PREFIX = "lsp_"
TOKEN_FILE = "tokens.json"
MAX_TOKEN_CHARS = 512  # longer presented tokens are refused unhashed
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}")


class TokenError(ValueError):
    """A token operation that cannot be done; the message says why."""


def hash_token(token: str) -> str:
    """The stored form of a token: the SHA-256 of its UTF-8 bytes, as hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh token: the prefix and 32 random bytes, URL-safe."""
    return PREFIX + secrets.token_urlsafe(32)


@dataclass
class TokenRecord:
    """One token as stored: never the token itself."""

    id: str
    name: str
    sha256: str
    created: str = field(default_factory=now_iso)


@dataclass
class TokenFile:
    """The JSON of <root>/api-data/tokens.json."""

    tokens: list[TokenRecord] = field(default_factory=list)
    schema: int = API_SCHEMA


def check_name(name: str) -> str:
    """A token's name: 1 to 64 letters, digits, spaces, '.', '_', '@' and '-', starting with a letter or digit."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TokenError("a token name is 1 to 64 letters, digits, spaces, '.', '_', '@' or '-', "
                         "starting with a letter or digit")
    return name


class TokenStore:
    """The tokens of one root; thread-safe, re-reading the file when it changed."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / TOKEN_FILE
        self._lock_path = folder / f".{TOKEN_FILE}.lock"
        self._mutex = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._records: list[TokenRecord] = []

    # --- reading ---------------------------------------------------------------------------

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _load(self) -> list[TokenRecord]:
        try:
            data = read_json(self.path)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise TokenError(f"cannot read {self.path}: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != API_SCHEMA or not isinstance(data.get("tokens"), list):
            raise TokenError(f"{self.path} is not a token file of schema {API_SCHEMA}")
        try:
            return [TokenRecord(**{k: str(t[k]) for k in ("id", "name", "sha256", "created")})
                    for t in data["tokens"]]
        except (KeyError, TypeError):
            raise TokenError(f"{self.path} holds a malformed token record") from None

    def records(self) -> list[TokenRecord]:
        """Every stored token (re-read when the file changed since the last call)."""
        with self._mutex:
            signature = self._signature()
            if signature != self._seen:
                self._records = self._load() if signature is not None else []
                self._seen = signature
            return list(self._records)

    def verify(self, token: str) -> TokenRecord | None:
        """The record of a presented token, or None; every stored hash is compared, in constant time."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        presented = hash_token(token)
        found: TokenRecord | None = None
        for record in self.records():
            if hmac.compare_digest(presented, record.sha256) and found is None:
                found = record
        return found

    # --- changing --------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[list[TokenRecord]]:
        """The records for a read-modify-write, under an exclusive lock; written back on success."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                records = self._load()
                yield records
                atomic_write_json(self.path, asdict(TokenFile(records)))
                os.chmod(self.path, 0o600)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def create(self, name: str) -> tuple[TokenRecord, str]:
        """A new token named `name` (unique): its record and the token, which is never stored or shown again."""
        check_name(name)
        token = new_token()
        with self._locked() as records:
            if any(r.name == name for r in records):
                raise TokenError(f"a token named {name!r} exists; revoke it first or choose another name")
            taken = {r.id for r in records}
            token_id = "t" + secrets.token_hex(4)
            while token_id in taken:
                token_id = "t" + secrets.token_hex(4)
            record = TokenRecord(id=token_id, name=name, sha256=hash_token(token))
            records.append(record)
        return record, token

    def revoke(self, id_or_name: str) -> TokenRecord:
        """Remove the token with this id or name; TokenError when there is none."""
        with self._locked() as records:
            for i, record in enumerate(records):
                if id_or_name in (record.id, record.name):
                    del records[i]
                    return record
            raise TokenError(f"no token with id or name {id_or_name!r}")
