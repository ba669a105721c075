"""The OpenAI chat-completions wire format, in one place.

Pure functions and one small state machine, no I/O: building request bodies,
assembling streamed chunks (text, reasoning and tool-call deltas, usage),
parsing non-streamed completions, and classifying error responses.  Every
OpenAI-compatible server (OpenAI, OpenRouter, DeepSeek, vLLM, Ollama,
llama.cpp) speaks a dialect of this; the dialect differences are handled here
and tested against recorded response shapes in ``tests/unit/providers``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from talaria import errors
from talaria.events import ReasoningDelta, TextDelta
from talaria.providers.base import ModelRequest, ModelResponse
from talaria.types import Message, ToolCall, Usage

_json_decode = msgspec.json.Decoder().decode
_json_encode = msgspec.json.Encoder().encode


def encode_message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content or ""}
    out: dict[str, Any] = {"role": m.role}
    if m.role == "assistant":
        out["content"] = m.content if m.content else (None if m.tool_calls else "")
        if m.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in m.tool_calls
            ]
        if m.reasoning_details:
            out["reasoning_details"] = m.reasoning_details
        return out
    out["content"] = m.content or ""
    return out


def build_body(
    request: ModelRequest,
    *,
    model: str,
    stream: bool,
    extra_body: Mapping[str, Any] = {},
    vendor: str = "",
) -> dict[str, Any]:
    """The JSON body of a chat-completions request."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [encode_message(m) for m in request.messages],
    }
    if request.tools:
        body["tools"] = list(request.tools)
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if vendor == "openrouter":
        # Ask OpenRouter to report the real billed cost in ``usage.cost``.
        body["usage"] = {"include": True}
    body.update(extra_body)
    body.update(request.extra_body)
    return body


def encode_body(body: Mapping[str, Any]) -> bytes:
    return _json_encode(body)


def decode_json(data: str | bytes) -> Any:
    return _json_decode(data)


def parse_usage(raw: Any) -> Usage | None:
    """Usage from any of the shapes vendors send (OpenAI, OpenRouter, Anthropic-style)."""
    if not isinstance(raw, Mapping):
        return None
    prompt = raw.get("prompt_tokens", raw.get("input_tokens")) or 0
    completion = raw.get("completion_tokens", raw.get("output_tokens")) or 0
    pdet = raw.get("prompt_tokens_details") or {}
    cdet = raw.get("completion_tokens_details") or {}
    cost = raw.get("cost")
    return Usage(
        input_tokens=int(prompt),
        output_tokens=int(completion),
        cached_input_tokens=int(pdet.get("cached_tokens") or 0) if isinstance(pdet, Mapping) else 0,
        reasoning_tokens=int(cdet.get("reasoning_tokens") or 0) if isinstance(cdet, Mapping) else 0,
        cost_usd=float(cost)
        if isinstance(cost, int | float) and not isinstance(cost, bool)
        else None,
    )


def _reasoning_text(d: Mapping[str, Any]) -> str | None:
    # DeepSeek (and vLLM) use ``reasoning_content``; OpenRouter uses ``reasoning``.
    # Some gateways send both with the same text, so take one.
    for key in ("reasoning_content", "reasoning"):
        value = d.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _arguments_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    # Ollama and a few others send arguments as an object instead of a JSON string.
    return _json_encode(raw).decode()


class _PartialCall:
    __slots__ = ("args", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.args: list[str] = []


class StreamAssembler:
    """Turns a sequence of ``chat.completion.chunk`` objects into deltas and a response."""

    def __init__(self, *, provider: str, model: str, base_url: str = "") -> None:
        self.provider = provider
        self.model = model
        self.base_url = base_url
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._details: list[dict[str, Any]] = []
        self._calls: dict[int, _PartialCall] = {}
        self._ids: dict[str, int] = {}
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.started = False

    def feed(self, chunk: Mapping[str, Any]) -> list[TextDelta | ReasoningDelta]:
        """Consume one chunk; return the deltas to show.  Raises on in-stream errors."""
        if chunk.get("error"):
            raise error_from_payload(
                chunk, status=None, headers={}, provider=self.provider, model=self.model
            )
        out: list[TextDelta | ReasoningDelta] = []
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self.model = chunk["model"]
        usage = parse_usage(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                self._text.append(content)
                out.append(TextDelta(text=content))
            reasoning = _reasoning_text(delta)
            if reasoning:
                self._reasoning.append(reasoning)
                out.append(ReasoningDelta(text=reasoning))
            details = delta.get("reasoning_details")
            if isinstance(details, list):
                self._merge_details(details)
            for tc in delta.get("tool_calls") or ():
                self._feed_call(tc)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        if out or self._calls:
            self.started = True
        return out

    def _feed_call(self, tc: Mapping[str, Any]) -> None:
        idx = tc.get("index")
        tc_id = tc.get("id") or ""
        if not isinstance(idx, int):
            # Some servers omit ``index`` and send each call whole, keyed by id.
            idx = self._ids.get(tc_id, len(self._calls)) if tc_id else len(self._calls)
        call = self._calls.get(idx)
        if call is None:
            call = self._calls[idx] = _PartialCall()
        if tc_id and not call.id:
            call.id = tc_id
            self._ids[tc_id] = idx
        fn = tc.get("function") or {}
        name = fn.get("name")
        if isinstance(name, str) and name and name != call.name:
            call.name = name if not call.name else call.name + name
        call.args.append(_arguments_text(fn.get("arguments")))

    def _merge_details(self, details: list[Any]) -> None:
        for d in details:
            if not isinstance(d, dict):
                continue
            idx = d.get("index")
            target = next(
                (x for x in self._details if idx is not None and x.get("index") == idx), None
            )
            if target is None:
                self._details.append(dict(d))
                continue
            for k, v in d.items():
                if (
                    isinstance(v, str)
                    and isinstance(target.get(k), str)
                    and k
                    in (
                        "text",
                        "summary",
                        "data",
                    )
                ):
                    target[k] += v
                else:
                    target[k] = v

    def response(self) -> ModelResponse:
        calls = tuple(
            ToolCall(
                id=c.id or f"call_{i}",
                name=c.name,
                arguments="".join(c.args) or "{}",
            )
            for i, c in sorted(self._calls.items())
        )
        text = "".join(self._text)
        message = Message(
            role="assistant",
            content=text or None,
            tool_calls=calls,
            reasoning="".join(self._reasoning) or None,
            reasoning_details=self._details or None,
            finish_reason=self.finish_reason,
        )
        return ModelResponse(
            message=message,
            usage=self.usage or Usage(),
            finish_reason=self.finish_reason or ("tool_calls" if calls else None),
            model=self.model,
            provider=self.provider,
            base_url=self.base_url,
        )


def parse_completion(
    data: Mapping[str, Any], *, provider: str, model: str, base_url: str = ""
) -> ModelResponse:
    """A non-streamed ``chat.completion`` object as a response (errors raised)."""
    if data.get("error"):
        raise error_from_payload(data, status=None, headers={}, provider=provider, model=model)
    choices = data.get("choices") or []
    if not choices:
        raise errors.ProviderError(
            f"{provider} returned a completion with no choices for model {model}",
            provider=provider,
            model=model,
        )
    asm = StreamAssembler(provider=provider, model=model, base_url=base_url)
    first = dict(choices[0])
    message = first.get("message") or {}
    calls = [{**tc, "index": i} for i, tc in enumerate(message.get("tool_calls") or ()) if tc]
    asm.feed(
        {
            "model": data.get("model"),
            "usage": data.get("usage"),
            "choices": [
                {
                    "index": 0,
                    "delta": {**message, "tool_calls": calls},
                    "finish_reason": first.get("finish_reason"),
                }
            ],
        }
    )
    return asm.response()


_OVERFLOW_HINTS = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "reduce the length",
    "tokens exceeds",
    "exceeds the maximum",
)
_QUOTA_HINTS = ("insufficient_quota", "quota", "billing", "credits", "payment")


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = lower.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        import email.utils  # HTTP-date Retry-After is rare: import on demand

        when = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_fields(payload: Any) -> tuple[str, str, str]:
    """(message, type, code) from the many error body shapes in the wild."""
    err: Any = payload
    if isinstance(payload, Mapping):
        err = payload.get("error", payload.get("detail", payload))
    if isinstance(err, str):
        return err, "", ""
    if isinstance(err, Sequence) and err and isinstance(err[0], Mapping):  # FastAPI detail
        err = err[0]
    if isinstance(err, Mapping):
        msg = err.get("message") or err.get("msg") or err.get("detail") or ""
        meta = err.get("metadata")
        if isinstance(meta, Mapping) and isinstance(meta.get("raw"), str):
            msg = f"{msg} ({meta['raw']})" if msg else meta["raw"]
        return str(msg), str(err.get("type") or ""), str(err.get("code") or "")
    return "", "", ""


def error_from_payload(
    payload: Any,
    *,
    status: int | None,
    headers: Mapping[str, str],
    provider: str,
    model: str,
) -> errors.ProviderError:
    """Classify an error response (or an in-stream error object)."""
    message, etype, code = _error_fields(payload)
    if status is None and isinstance(payload, Mapping):
        err = payload.get("error")
        if isinstance(err, Mapping) and isinstance(err.get("code"), int):
            status = err["code"]
    text = f"{message} {etype} {code}".lower()
    where = f"{provider} (model {model})" if model else provider
    shown = message or (f"HTTP {status}" if status else "unknown error")
    summary = f"{where} returned {status}: {shown}" if status else f"{where} failed: {shown}"
    kw: dict[str, Any] = {"provider": provider, "model": model, "status": status}
    retry_after = parse_retry_after(headers)
    if any(h in text for h in _OVERFLOW_HINTS) or status == 413:
        return errors.ContextOverflowError(summary, **kw)
    if status in (401, 403) and not ("moderation" in text or "flagged" in text):
        return errors.AuthError(summary, **kw)
    if status == 402:
        return errors.QuotaExceededError(summary, **kw)
    if status == 429:
        if any(h in text for h in _QUOTA_HINTS):
            return errors.QuotaExceededError(summary, **kw)
        return errors.RateLimitError(summary, retry_after=retry_after, **kw)
    if status is not None and (status >= 500 or status == 408):
        return errors.OverloadedError(summary, retry_after=retry_after, **kw)
    if status == 404:
        return errors.BadRequestError(f"{summary} (is the model name right?)", **kw)
    if status is not None and 400 <= status < 500:
        return errors.BadRequestError(summary, **kw)
    if "rate limit" in text or "rate_limit" in text:
        return errors.RateLimitError(summary, retry_after=retry_after, **kw)
    if "overloaded" in text or "server_error" in text or "internal" in text:
        return errors.OverloadedError(summary, retry_after=retry_after, **kw)
    return errors.ProviderError(summary, **kw)


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes | str, *, provider: str, model: str
) -> errors.ProviderError:
    """Classify an HTTP error response whose body may or may not be JSON."""
    payload: Any
    try:
        payload = _json_decode(body) if body else {}
    except msgspec.DecodeError:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        payload = {"error": {"message": text.strip()[:500]}}
    return error_from_payload(
        payload, status=status, headers=headers, provider=provider, model=model
    )
