"""User-supplied text (job and file names, ids, reasons, log lines) shown as plain text, never as
Markdown or HTML.

`visible` writes every invisible or line-breaking character as a visible escape (a newline as
`\\n`, ESC as `\\x1b`, a right-to-left override as `\\u202e`), for places that show text as is
(st.text, st.code, select options, table cells). `md` also backslash-escapes every ASCII
punctuation character, which CommonMark always reads as that literal character, for places that
render Markdown (st.markdown, captions, alerts, progress texts, widget labels): what the viewer
sees is exactly `visible(text)`, with no link, image, HTML, heading, math or colour directive.
`code` puts text in an inline code span that the text cannot close.
"""
from __future__ import annotations

import re
import string

from spooler.names import printable

MARKDOWN_SPECIAL = frozenset(string.punctuation)  # CommonMark: any ASCII punctuation may be backslash-escaped


def visible(value: object) -> str:
    """`value` as one line of text: every control, format or separator character written as an escape."""
    return printable(value)


def md(value: object) -> str:
    """`value` for a Markdown context: it renders as exactly `visible(value)`, with no markup of its own."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIAL else ch for ch in visible(value))


def unescape_md(escaped: str) -> str:
    """What CommonMark shows for text made by `md` (a backslash before ASCII punctuation drops)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", escaped)


def code(value: object) -> str:
    """`value` as a Markdown inline code span (shown verbatim, in monospace) that its own backticks cannot end."""
    text = visible(value)
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    # CommonMark drops one space at each end when both ends have one: pad then, and around backticks
    pad = " " if "`" in (text[0], text[-1]) or (text[0] == text[-1] == " " and text.strip(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"
