"""Turning HTML into text a model can read, with nothing but the standard library.

A fetched page is mostly markup, scripts and styles; sending it raw wastes the
context window and buries the content.  This keeps what a reader sees: the
title, headings (marked with ``#``), paragraphs and list items on their own
lines, table cells separated by ``|``, preformatted text verbatim, and links
as ``text (url)`` so the model can follow them.  It is deliberately not a
full readability engine: navigation and footers stay, because deciding what
is "main content" guesses wrong often enough to hide the one thing wanted.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
_PARAGRAPH = frozenset(
    {
        "p", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "section",
        "article", "header", "footer", "nav", "main", "aside", "form", "details",
        "fieldset", "address", "hgroup", "dialog",
    }
)  # fmt: skip
_LINE = frozenset(
    {"div", "li", "tr", "dt", "dd", "caption", "summary", "figcaption", "option", "legend", "body"}
)
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_SPACE = re.compile(r"\s+")
_BLANK_RUNS = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip = 0
        self._pre = 0
        self._in_title = False
        self._links: list[tuple[str | None, int]] = []
        self._cells = 0

    # -- output helpers -------------------------------------------------
    def _ends_with_break(self) -> bool:
        return not self.parts or self.parts[-1].endswith(("\n", " "))

    def _text(self, text: str) -> None:
        if self._pre:
            if text:
                self.parts.append(text)
            return
        text = _SPACE.sub(" ", text)
        if self._ends_with_break():
            text = text.lstrip(" ")
        if text:
            self.parts.append(text)

    def _newlines(self, n: int) -> None:
        if not self.parts:
            return
        have = 0
        for part in reversed(self.parts):
            stripped = part.rstrip(" ")
            have += len(stripped) - len(stripped.rstrip("\n"))
            if stripped.strip("\n"):
                break
        if have < n:
            self.parts.append("\n" * (n - have))

    # -- parser callbacks -----------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
            return
        if self._skip:
            return
        if tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._newlines(2)
            self.parts.append("#" * _HEADINGS[tag] + " ")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "hr":
            self._newlines(2)
        elif tag == "li":
            self._newlines(1)
            self.parts.append("- ")
        elif tag == "tr":
            self._newlines(1)
            self._cells = 0
        elif tag in ("td", "th"):
            if self._cells:
                self.parts.append(" | ")
            self._cells += 1
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self.parts)))
        elif tag in _PARAGRAPH:
            self._newlines(2)
        elif tag in _LINE:
            self._newlines(1)
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(self._skip - 1, 0)
            return
        if self._skip:
            return
        if tag == "title":
            self._in_title = False
        elif tag == "a" and self._links:
            self._close_link(*self._links.pop())
        elif tag in _HEADINGS or tag in _PARAGRAPH:
            self._newlines(2)
        elif tag in _LINE:
            self._newlines(1)
        if tag == "pre":
            self._pre = max(self._pre - 1, 0)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title_parts.append(data)
            return
        self._text(data)

    def _close_link(self, href: str | None, start: int) -> None:
        if not href:
            return
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "data:")):
            return
        url = urljoin(self.base_url, href)
        label = "".join(self.parts[start:]).strip()
        if not label or label in (url, href):
            if not label:
                self._text(url)
            return
        self.parts.append(f" ({url})")

    # -- result ---------------------------------------------------------
    def result(self) -> tuple[str, str]:
        title = _SPACE.sub(" ", "".join(self.title_parts)).strip()
        text = "".join(self.parts)
        lines = [line.rstrip() for line in text.split("\n")]
        body = _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")
        return title, body


def html_to_text(html: str, base_url: str = "") -> tuple[str, str]:
    """Return ``(title, text)`` of an HTML document; links resolve against ``base_url``."""
    parser = _TextExtractor(base_url)
    parser.feed(html)
    parser.close()
    return parser.result()
