"""Names that enter from outside (job ids, file names, job names) made safe to store and to show.

- Job ids are matched in full: letters, digits, '.', '_' and '-', at most 128, no leading dot.
- File names the project creates are cut by UTF-8 bytes, never by characters, with every
  suffix counted, so no name ever exceeds the file system's 255-byte limit.
- Text shown in a terminal or a log line has its control characters (newlines, escape
  sequences) written out as visible escapes, so a name can never forge a line or move a cursor.
"""
from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 255  # the limit of ext4, xfs, btrfs, tmpfs and most others for one path component
MAX_ID_CHARS = 128
_ID_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_ID_CHARS - 1}}}")
_UNSAFE_FILE_CHARS = re.compile(r"[^\w.-]+", flags=re.UNICODE)


class BadJobId(ValueError):
    """A job id that is not of the allowed form; the message says what is allowed."""


def is_job_id(text: object) -> bool:
    """True when `text` is a whole, valid job id (no trailing newline, no '@', no path parts)."""
    return isinstance(text, str) and _ID_RE.fullmatch(text) is not None


def check_job_id(text: object) -> str:
    """`text` if it is a valid job id; raise BadJobId with a readable reason otherwise."""
    if not is_job_id(text):
        raise BadJobId(f"bad job id {printable(str(text))[:160]!r}: use 1 to {MAX_ID_CHARS} letters, digits, "
                       "'.', '_' and '-', starting with a letter or digit")
    return str(text)


def cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits in `max_bytes` (never half a character)."""
    if max_bytes <= 0:
        return ""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


def fit_file_name(stem: str, suffix: str = "", max_bytes: int = MAX_NAME_BYTES, reserve: int = 0) -> str:
    """`stem + suffix`, the stem cut so the whole name (plus `reserve` bytes a caller will add) fits."""
    room = max_bytes - reserve - len(suffix.encode("utf-8"))
    if room < 1:
        raise ValueError(f"suffix {suffix!r} leaves no room for a name within {max_bytes} bytes")
    return cut_utf8(stem, room) + suffix


def safe_stem(text: str, fallback: str = "file") -> str:
    """A file-name stem from any text: word characters, '.' and '-' kept, the rest '_', no leading dot."""
    stem = _UNSAFE_FILE_CHARS.sub("_", unicodedata.normalize("NFC", text)).strip("._")
    return stem or fallback


INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, bidi/zero-width, surrogates, separators
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible_char(ch: str) -> str:
    if unicodedata.category(ch) not in INVISIBLE_CATEGORIES:
        return ch
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object) -> str:
    """`text` as one line: every control, format or separator character (newline, ESC, a bidi
    override) written as a visible escape (`\\n`, `\\x1b`, `\\u202e`); everything else as it is."""
    text = str(text)
    if text.isprintable():  # the common case, quickly: False for every Cc, Cf, Cs, Zl and Zp character
        return text
    return "".join(_visible_char(ch) for ch in text)


def one_line(text: object) -> str:
    """`text` (a reason, an error) as one printable line: runs of whitespace, newlines included,
    become one space, and any other control character a visible escape."""
    return printable(" ".join(str(text).split()))
