"""One escaping helper per place a string from a file (class names, metadata, file names) is shown.

* ``terminal``: control characters (ANSI/OSC escapes, bells, carriage returns, bidi overrides, lone
  surrogates) written visibly as ``\\x1b``, ``\\u202e``, … so nothing reaches the terminal raw;
* ``markdown``: Markdown, HTML and Streamlit syntax escaped (no links, images, emphasis or icons; bare URLs
  get an invisible word joiner so they are not turned into links);
* ``plotly``: Plotly's label markup (``<span>``, ``<a href>``, ``<br>``, …) shown as text, not applied;
* ``html``: text and attribute values for a standalone HTML page.

Every helper also cuts long strings for display (``limits.MAX_DISPLAY_CHARS`` by default, ``None`` for no limit).
"""
from __future__ import annotations

import html as _html
import re
import unicodedata

from vtn_core.limits import MAX_DISPLAY_CHARS

ELLIPSIS = "…"
# C0 and C1 controls, DEL, bidi embedding/override/isolate marks, lone surrogates, line/paragraph separators
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]")
_AUTOLINK = re.compile(r"(?i)(://|www\.|@)")  # GFM turns bare URLs, www. names and e-mail addresses into links
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&\"'])")


def truncate(text: object, limit: int | None = MAX_DISPLAY_CHARS) -> str:
    """``str(text)`` cut to ``limit`` characters (ending with "…" when cut)."""
    value = str(text)
    if limit is not None and len(value) > limit:
        return value[:max(limit - 1, 0)] + ELLIPSIS
    return value


def _visible(match: re.Match) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible_controls(text: str) -> str:
    """Every control or invisible direction character as a visible escape (``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(_visible, text)


def terminal(text: object, limit: int | None = MAX_DISPLAY_CHARS) -> str:
    """Safe to print on a terminal: controls shown visibly, then cut to ``limit``."""
    return truncate(visible_controls(str(text)), limit)


def markdown(text: object, limit: int | None = MAX_DISPLAY_CHARS) -> str:
    """Safe inside Streamlit Markdown: controls visible, every Markdown/HTML special escaped, cut to ``limit``."""
    value = truncate(visible_controls(unicodedata.normalize("NFC", str(text))), limit)
    value = _AUTOLINK.sub(lambda m: m.group(0)[:-1] + "\u2060" + m.group(0)[-1], value)  # no bare-URL links
    return _MARKDOWN_SPECIALS.sub(r"\\\1", value)


def plotly(text: object, limit: int | None = MAX_DISPLAY_CHARS) -> str:
    """Safe as a Plotly label, title or hover text: its HTML-like markup shown as text, cut to ``limit``."""
    return _html.escape(truncate(visible_controls(str(text)), limit), quote=False)


def html(text: object, limit: int | None = MAX_DISPLAY_CHARS) -> str:
    """Safe as HTML text or a quoted attribute value, cut to ``limit``."""
    return _html.escape(truncate(visible_controls(str(text)), limit), quote=True)
