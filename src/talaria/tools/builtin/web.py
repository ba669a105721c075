"""The ``web`` toolset: fetch one URL and return it as readable text.

Bounded in every dimension the network can make unbounded: a total deadline
(``web.timeout``), a byte budget for the body (``web.max_bytes``, enforced while
streaming, so a multi-gigabyte download is cut off rather than buffered) and a
character budget for what the model reads (``web.max_output_chars``).  HTML is
reduced to its text, JSON and plain text pass through, and anything else (images,
archives, PDFs) is refused with a message saying so, because bytes decoded as
text are noise that costs tokens.

httpx is imported by this module only, and this module is imported only when
the ``web`` toolset is loaded, so runs without web access do not pay for it.
A client is created per call: simple and isolated; pooling can come later.
"""

from __future__ import annotations

import asyncio
import codecs
import re

import httpx

from talaria.errors import ToolError
from talaria.textutil import truncate_middle
from talaria.tools.base import Tool, ToolContext, tool
from talaria.tools.builtin.html_text import html_to_text
from talaria.tools.builtin.walk import looks_binary

USER_AGENT = "Talaria/0.1 (web_fetch)"
_ACCEPT = "text/html,application/xhtml+xml,application/json,text/plain;q=0.9,*/*;q=0.5"
_MAX_REDIRECTS = 10
_ERROR_BODY_BYTES = 4096
_ERROR_BODY_CHARS = 300

_TEXT_TYPES = frozenset(
    {
        "application/xml", "application/javascript", "application/x-javascript",
        "application/ecmascript", "application/x-yaml", "application/yaml",
        "application/toml", "application/x-sh", "application/sql", "application/graphql",
        "application/x-ndjson", "application/x-www-form-urlencoded", "application/csv",
    }
)  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def classify(content_type: str, head: bytes | None) -> str:
    """``html``, ``json``, ``text`` or ``binary`` from the media type (sniffing if vague).

    ``head`` is the start of the body, or None when it has not been read yet;
    a missing or generic media type is then answered with ``unknown``.
    """
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml"):
        return "html"
    if mime == "application/json" or mime.endswith("+json"):
        return "json"
    if mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith("+xml"):
        return "text"
    if mime and mime not in ("application/octet-stream", "binary/octet-stream"):
        return "binary"
    if head is None:
        return "unknown"
    if looks_binary(head[:8192]):
        return "binary"
    start = head[:512].lstrip().lower()
    return "html" if start.startswith((b"<!doctype html", b"<html")) else "text"


def _decode(body: bytes, charset: str | None, kind: str) -> str:
    if charset is None and kind == "html":
        m = _META_CHARSET.search(body[:4096])
        charset = m.group(1).decode("ascii") if m else None
    try:
        codec = codecs.lookup(charset or "utf-8").name
    except LookupError:
        codec = "utf-8"
    return body.decode(codec, errors="replace")


async def _read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Read at most ``limit`` bytes of the body; True when more was left unread."""
    buf = bytearray()
    async for chunk in response.aiter_bytes():
        buf.extend(chunk)
        if len(buf) > limit:
            return bytes(buf[:limit]), True
    return bytes(buf), False


async def _http_error(response: httpx.Response, url: str) -> ToolError:
    """An error naming the status, with the start of the body (APIs explain themselves there)."""
    detail = ""
    kind = classify(response.headers.get("content-type", ""), None)
    if kind in ("html", "json", "text", "unknown"):
        body, _ = await _read_capped(response, _ERROR_BODY_BYTES)
        kind = classify(response.headers.get("content-type", ""), body)
        if kind != "binary":
            text = _decode(body, response.charset_encoding, kind)
            if kind == "html":
                text = html_to_text(text, str(response.url))[1]
            text = " ".join(text.split())
            if text:
                detail = f": {text[:_ERROR_BODY_CHARS]}"
    reason = f" {response.reason_phrase}" if response.reason_phrase else ""
    return ToolError(f"HTTP {response.status_code}{reason} fetching {url}{detail}")


def _check_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as e:
        raise ToolError(f"invalid URL {url!r}: {e}") from None
    if parsed.scheme not in ("http", "https"):
        raise ToolError(
            f"only http and https URLs can be fetched, not {parsed.scheme or 'a relative'} URL "
            f"{url!r}; for local files use read_file"
        )
    if not parsed.host:
        raise ToolError(f"URL {url!r} has no host")
    return parsed


async def _fetch(ctx: ToolContext, url: httpx.URL) -> tuple[str, str]:
    """(header lines, body text) of the page, not yet capped."""
    conf = ctx.settings.config.web
    async with (
        httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=_MAX_REDIRECTS,
            timeout=httpx.Timeout(conf.timeout),
            headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT},
        ) as client,
        client.stream("GET", url) as response,
    ):
        if response.status_code >= 400:
            raise await _http_error(response, str(url))
        content_type = response.headers.get("content-type", "")
        kind = classify(content_type, None)
        if kind == "binary":
            raise _binary(content_type, str(response.url))
        body, cut = await _read_capped(response, conf.max_bytes)
        if kind == "unknown":
            kind = classify(content_type, body)
            if kind == "binary":
                raise _binary(content_type or "no content type, binary body", str(response.url))
        final_url = str(response.url)
        charset = response.charset_encoding
    text = _decode(body, charset, kind)
    header = [f"URL: {final_url}"]
    if final_url != str(url):
        header[0] += f" (redirected from {url})"
    if kind == "html":
        title, text = html_to_text(text, final_url)
        if title:
            header.append(f"Title: {title}")
    header.append(f"Content-Type: {content_type or 'unknown'}")
    if cut:
        header.append(
            f"[body cut off after {conf.max_bytes} bytes (web.max_bytes); the rest was not read]"
        )
    return "\n".join(header), text.strip()


EXTRACT_PROMPT = (
    "You extract the useful content of a web page for an AI agent. Keep every fact, number, "
    "name, date, code sample, command and link that matters; drop navigation, ads, cookie "
    "banners and boilerplate. Keep the page's structure with short headings and lists. "
    "Never add anything that is not on the page. Stay under {limit} characters."
)
_EXTRACT_INPUT_CHARS = 120_000


async def _fit(ctx: ToolContext, body: str, url: str) -> str:
    """Cap the page for the model: over the cap, the ``web_extract`` side task condenses
    it; if that is unavailable or fails, the head and tail are kept (and it says so)."""
    limit = ctx.settings.config.web.max_output_chars
    if len(body) <= limit:
        return body
    if ctx.aux is not None:
        from talaria.errors import TalariaError
        from talaria.types import Message

        prompt = [
            Message.system(EXTRACT_PROMPT.format(limit=limit)),
            Message.user(f"URL: {url}\n\n{body[:_EXTRACT_INPUT_CHARS]}"),
        ]
        try:
            result = await ctx.aux().call("web_extract", prompt)
        except TalariaError as e:
            note = f"[the web_extract side task failed ({e}); showing the beginning and end]"
            return note + "\n\n" + truncate_middle(body, limit)
        if ctx.recorder is not None:
            await ctx.recorder.add_aux_usage("web_extract", result.usage)
        note = (
            f"[the page has {len(body):,} characters, more than web.max_output_chars "
            f"({limit:,}); below is an extraction by {result.endpoint.model}, not the full text]"
        )
        return note + "\n\n" + truncate_middle(result.text.strip(), limit)
    return truncate_middle(body, limit)


def _binary(content_type: str, url: str) -> ToolError:
    return ToolError(
        f"{url} returned binary content ({content_type}); web_fetch only returns text, "
        "HTML and JSON. To download a file, use the terminal (e.g. `curl -fsSLo FILE URL`)."
    )


@tool(toolset="web")
async def web_fetch(ctx: ToolContext, url: str) -> str:
    """Fetch a web page or HTTP API response and return it as text.

    HTML pages are converted to readable text: the title, headings marked with
    `#`, list items as `- `, and links as `text (url)` so you can follow them;
    scripts and styles are dropped. JSON and plain text are returned as they
    are. Images, PDFs, archives and other binary content are refused. Redirects
    are followed. Only the first part of a very large response is read, and
    long text keeps its beginning and end with a marker saying how much was
    cut. A 4xx/5xx status is an error that names the status and quotes the
    start of the response. Only `http` and `https` URLs work; each call is a
    plain GET without cookies or JavaScript, so pages that render client-side
    may come back nearly empty.

    Args:
        url: The full http(s) URL to fetch, e.g. `https://docs.python.org/3/library/re.html`.
    """
    parsed = _check_url(url)
    timeout = ctx.settings.config.web.timeout
    try:
        async with asyncio.timeout(timeout):
            header, body = await _fetch(ctx, parsed)
    except (TimeoutError, httpx.TimeoutException):
        raise ToolError(f"timed out after {timeout:g}s fetching {url}") from None
    except httpx.ConnectError as e:
        raise ToolError(f"could not connect to {parsed.host}: {e}") from None
    except httpx.TooManyRedirects:
        raise ToolError(f"too many redirects (more than {_MAX_REDIRECTS}) fetching {url}") from None
    except httpx.HTTPError as e:
        raise ToolError(f"fetching {url} failed: {type(e).__name__}: {e}") from None
    text = await _fit(ctx, ctx.redact(body), str(parsed))
    return ctx.redact(header + "\n\n" + (text or "(empty body)"))


TOOLS: list[Tool] = [web_fetch]
