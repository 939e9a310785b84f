"""The API's settings: from the command line, else the environment, else the defaults."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from spooler.config import Layout, layout_for

DEFAULT_PORT = 7861
DEFAULT_MAX_UPLOAD = 4 << 30  # one request's body: an audio and its videos
API_DATA = "api-data"  # the API's folder under the root ("api" is the package's when the root is the repository)
CALLBACK_HOSTS_FILE = "callback_hosts.txt"  # under <root>/api-data/: one allowed host (or host:port) a line
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", re.IGNORECASE)


class SettingsError(ValueError):
    """A setting that cannot be used as given; the message names it."""


def parse_size(text: str) -> int:
    """Bytes from '4G', '500M', '1.5g', '2048' (binary units); SettingsError otherwise."""
    match = _SIZE.fullmatch(str(text))
    if not match:
        raise SettingsError(f"not a size: {text!r} (use e.g. 4G, 500M or a number of bytes)")
    number, unit = float(match.group(1)), match.group(2).lower()
    value = int(number * (1 << (10 * "_kmgt".index(unit or "_"))))
    if value < 1:
        raise SettingsError(f"size must be at least 1 byte: {text!r}")
    return value


def api_dir(layout: Layout) -> Path:
    """<root>/api-data: the API's own files (tokens, callback records), created private to its owner."""
    folder = layout.root / API_DATA
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class ApiSettings:
    """Everything the service is configured with."""

    layout: Layout
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    callback_hosts: tuple[str, ...] = ()  # LIPSPOOL_API_CALLBACK_HOSTS; <root>/api-data/callback_hosts.txt adds more
    callback_attempts: int = 5
    callback_backoff_s: float = 2.0  # the wait after the first failed delivery; doubled after each one
    callback_timeout_s: float = 10.0
    callback_poll_s: float = 1.0
    stale_after_s: float = 30.0  # a worker whose heartbeat is older is shown as not alive

    @property
    def folder(self) -> Path:
        """<root>/api-data."""
        return api_dir(self.layout)

    def allowed_callback_hosts(self) -> set[str]:
        """Hosts (lower case, optionally host:port) a callback may be sent to: the setting plus the file's lines."""
        hosts = {h.strip().lower() for h in self.callback_hosts if h.strip()}
        listing = self.folder / CALLBACK_HOSTS_FILE
        try:
            lines = listing.read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            lines = []
        hosts.update(line.strip().lower() for line in lines if line.strip() and not line.lstrip().startswith("#"))
        return hosts


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def settings_from(root_path: str | None = None, host: str | None = None, port: int | None = None,
                  max_upload: str | None = None) -> ApiSettings:
    """Settings from the arguments given, else LIPSPOOL_API_* variables, else the defaults."""
    try:
        return ApiSettings(
            layout=layout_for(root_path),
            host=host or _env("LIPSPOOL_API_HOST", "127.0.0.1"),
            port=int(port or _env("LIPSPOOL_API_PORT", str(DEFAULT_PORT))),
            max_upload_bytes=parse_size(max_upload or _env("LIPSPOOL_API_MAX_UPLOAD", str(DEFAULT_MAX_UPLOAD))),
            callback_hosts=tuple(h for h in _env("LIPSPOOL_API_CALLBACK_HOSTS", "").split(",") if h.strip()),
            callback_attempts=int(_env("LIPSPOOL_API_CALLBACK_ATTEMPTS", "5")),
            callback_backoff_s=float(_env("LIPSPOOL_API_CALLBACK_BACKOFF_S", "2")),
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
