"""Capture: record your model calls to a file promptcache reads, for teams with no logs yet.

Opt-in, local, and passive: it appends each request and response (the JSON bodies, the time, the
latency, the model and the usage) to a JSONL file you name, and never sends anything anywhere
itself. Headers are never written (no API key reaches the file); with ``redact=True`` every string
in the bodies goes through ``promptcache.secrets.mask_secrets`` first (keys, tokens, e-mail
addresses become ``<kind>`` markers). Read the file back with ``promptcache analyze FILE``.

* ``CaptureTransport`` / ``AsyncCaptureTransport``: httpx transports wrapping another transport,
  for the OpenAI and Anthropic Python clients::

      import httpx, openai
      from promptcache.capture import CaptureTransport
      client = openai.OpenAI(http_client=httpx.Client(transport=CaptureTransport("calls.jsonl")))

* ``LiteLLMCapture``: a LiteLLM callback (``CustomLogger`` methods, duck-typed; ``litellm_callback``
  makes one that also subclasses LiteLLM's ``CustomLogger`` when LiteLLM is installed)::

      import litellm
      from promptcache.capture import litellm_callback
      litellm.callbacks = [litellm_callback("calls.jsonl")]

httpx (or httpx2, for SDKs that moved to it) is imported only when a transport is made
(``pip install 'promptcache[capture]'``), LiteLLM only by ``litellm_callback``. The line format is ``promptcache-capture`` (docs/capture.md).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = ["AsyncCaptureTransport", "CaptureTransport", "CaptureWriter", "LiteLLMCapture", "litellm_callback"]

FORMAT = "promptcache-capture"
VERSION = 1


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _redacted(value: Any) -> Any:
    from .secrets import mask_secrets

    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    return value


def _api(url: str) -> str | None:
    path = url.split("?", 1)[0].rstrip("/")
    if path.endswith("/chat/completions"):
        return "openai-chat"
    if path.endswith("/responses"):
        return "openai-responses"
    if path.endswith("/messages"):
        return "anthropic-messages"
    return None


def _summary(api: str | None, response: Any, stream: str | None) -> tuple[Any, Any]:
    """(model, usage) of a response body, for people reading the file (the reader uses the bodies)."""
    body = response
    if body is None and stream is not None and api is not None:
        try:
            from .read.capture import APIS, reassemble

            body = reassemble(APIS[api], stream)
        except Exception:
            body = None
    if not isinstance(body, dict):
        return None, None
    return body.get("model"), body.get("usage")


class CaptureWriter:
    """Appends one ``promptcache-capture`` line per call to ``path`` (thread-safe, one write per line)."""

    def __init__(self, path: str | os.PathLike[str], *, redact: bool = False):
        self.path = Path(path)
        self.redact = redact
        self._lock = threading.Lock()
        self.errors = 0  # lines that could not be written (the caller's request is never failed for it)

    def write(
        self,
        *,
        api: str | None,
        url: str,
        started: float,
        latency_ms: float | None,
        status: int | None,
        request: Any,
        response: Any = None,
        stream: str | None = None,
        error: str | None = None,
        source: str,
        provider: str | None = None,
    ) -> None:
        model, usage = _summary(api, response, stream)
        if model is None and isinstance(request, dict):
            model = request.get("model")
        rec: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "source": source,
            "api": api,
            "url": url,
            "timestamp": _iso(started),
            "latency_ms": latency_ms,
            "status": status,
            "model": model,
            "usage": usage,
            "request": request,
        }
        if provider:
            rec["provider"] = provider
        if stream is not None and response is None:
            rec["response_stream"] = stream
        else:
            rec["response"] = response
        if error:
            rec["error"] = error
        if self.redact:
            rec["request"] = _redacted(rec["request"])
            for key in ("response", "response_stream", "error"):
                if key in rec:
                    rec[key] = _redacted(rec[key])
        try:
            line = json.dumps(rec, ensure_ascii=False, default=str) + "\n"
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(line)
        except (OSError, TypeError, ValueError):
            self.errors += 1


# --- httpx ------------------------------------------------------------------------------------------


def _decode_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def _request_body(request: Any) -> Any:
    try:
        content = request.content
    except Exception:
        return None
    return _decode_json(content) if content else None


def _decoded(http: Any, response: Any, raw: bytes) -> bytes:
    """The response body as the client sees it (httpx transports return it still content-encoded)."""
    if not response.headers.get("content-encoding"):
        return raw
    try:
        return http.Response(response.status_code, headers=response.headers, content=raw).read()
    except Exception:
        return b""


def _record(
    http: Any, writer: CaptureWriter, request: Any, response: Any, raw: bytes, started: float, t0: float
) -> None:
    url = str(request.url)
    body = _request_body(request)
    if request.method.upper() != "POST" or not isinstance(body, dict):
        return  # not a model call (listing models, uploads): nothing to analyze
    data = _decoded(http, response, raw)
    api = _api(url)
    ctype = response.headers.get("content-type", "")
    stream = data.decode("utf-8", "replace") if "text/event-stream" in ctype else None
    parsed = None if stream is not None else _decode_json(data)
    error = None
    if not 200 <= response.status_code < 300:
        error = (json.dumps(parsed) if parsed is not None else data.decode("utf-8", "replace"))[:500]
    writer.write(
        api=api,
        url=url,
        started=started,
        latency_ms=round((time.perf_counter() - t0) * 1000, 3),
        status=response.status_code,
        request=body,
        response=parsed,
        stream=stream,
        error=error,
        source="httpx",
    )


def _transports(module: str) -> tuple[Any, Any]:
    """The two transport classes for ``httpx`` or ``httpx2`` (same API), defined on first use so that
    the module is imported only then."""
    if module in _CLASSES:
        return _CLASSES[module]
    if module not in ("httpx", "httpx2"):
        raise ValueError(f"http={module!r}: expected 'httpx' or 'httpx2'")
    import importlib

    if TYPE_CHECKING:
        import httpx  # httpx2 has the same API: checked against httpx's
    else:
        httpx = importlib.import_module(module)

    class _Recording(httpx.SyncByteStream):
        def __init__(self, inner: Any, done: Callable[[bytes], None]):
            self._inner = inner
            self._done: Callable[[bytes], None] | None = done
            self._chunks: list[bytes] = []

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                self._chunks.append(chunk)
                yield chunk

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                done, self._done = self._done, None
                if done is not None:
                    done(b"".join(self._chunks))

    class _AsyncRecording(httpx.AsyncByteStream):
        def __init__(self, inner: Any, done: Callable[[bytes], None]):
            self._inner = inner
            self._done: Callable[[bytes], None] | None = done
            self._chunks: list[bytes] = []

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self._inner:
                self._chunks.append(chunk)
                yield chunk

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                done, self._done = self._done, None
                if done is not None:
                    done(b"".join(self._chunks))

    def recorded(
        writer: CaptureWriter, request: httpx.Request, response: httpx.Response, started: float, t0: float, stream: Any
    ) -> httpx.Response:
        """``response`` with its body recorded once it has been read whole (sync or async ``stream``)."""

        def done(raw: bytes) -> None:
            try:
                _record(httpx, writer, request, response, raw, started, t0)
            except Exception:
                writer.errors += 1

        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=stream(response.stream, done),
            extensions=response.extensions,
        )

    class Sync(httpx.BaseTransport):
        def __init__(
            self, path: str | os.PathLike[str], transport: httpx.BaseTransport | None = None, *, redact: bool = False
        ):
            self.writer = CaptureWriter(path, redact=redact)
            self.transport = transport if transport is not None else httpx.HTTPTransport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            started, t0 = time.time(), time.perf_counter()
            response = self.transport.handle_request(request)
            return recorded(self.writer, request, response, started, t0, _Recording)

        def close(self) -> None:
            self.transport.close()

    class Async(httpx.AsyncBaseTransport):
        def __init__(
            self,
            path: str | os.PathLike[str],
            transport: httpx.AsyncBaseTransport | None = None,
            *,
            redact: bool = False,
        ):
            self.writer = CaptureWriter(path, redact=redact)
            self.transport = transport if transport is not None else httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            started, t0 = time.time(), time.perf_counter()
            response = await self.transport.handle_async_request(request)
            return recorded(self.writer, request, response, started, t0, _AsyncRecording)

        async def aclose(self) -> None:
            await self.transport.aclose()

    Sync.__name__ = Sync.__qualname__ = "CaptureTransport"
    Async.__name__ = Async.__qualname__ = "AsyncCaptureTransport"
    _CLASSES[module] = (Sync, Async)
    return Sync, Async


_CLASSES: dict[str, tuple[Any, Any]] = {}


def _module(transport: Any, http: str | None) -> str:
    """Which package the transport is for: the wrapped transport's, else ``http``, else httpx if installed."""
    if transport is not None:
        import sys

        for name in ("httpx", "httpx2"):
            mod = sys.modules.get(name)
            if mod is not None and isinstance(transport, (mod.BaseTransport, mod.AsyncBaseTransport)):
                return name
        raise TypeError(f"transport should be an httpx or httpx2 transport, got {type(transport).__name__}")
    if http is not None:
        return http
    import importlib.util

    return (
        "httpx"
        if importlib.util.find_spec("httpx") is not None or importlib.util.find_spec("httpx2") is None
        else "httpx2"
    )


def CaptureTransport(
    path: str | os.PathLike[str], transport: Any = None, *, redact: bool = False, http: str | None = None
) -> Any:
    """A ``BaseTransport`` that forwards to ``transport`` (default ``HTTPTransport()``) and appends each
    JSON POST and its response to ``path`` once the response is read.

    Made for ``httpx`` or ``httpx2`` (SDKs that moved to it, e.g. recent Anthropic clients, reject an
    ``httpx.Client``): the wrapped ``transport``'s package, else ``http="httpx"`` / ``"httpx2"``, else
    httpx when it is installed."""
    return _transports(_module(transport, http))[0](path, transport, redact=redact)


def AsyncCaptureTransport(
    path: str | os.PathLike[str], transport: Any = None, *, redact: bool = False, http: str | None = None
) -> Any:
    """The ``AsyncBaseTransport`` twin of ``CaptureTransport`` (for ``AsyncOpenAI``, ``AsyncAnthropic``)."""
    return _transports(_module(transport, http))[1](path, transport, redact=redact)


# --- LiteLLM ----------------------------------------------------------------------------------------


def _as_dict(obj: Any) -> Any:
    """LiteLLM's objects (pydantic models, Message, ModelResponse) as plain JSON values."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, dict):
        return {str(k): _as_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_as_dict(v) for v in obj]
    for name in ("model_dump", "dict", "to_dict"):
        fn = getattr(obj, name, None)
        if callable(fn):
            try:
                return _as_dict(fn())
            except Exception:
                continue
    try:
        return json.loads(obj.json()) if hasattr(obj, "json") else dict(obj)
    except Exception:
        return str(obj)


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()  # LiteLLM passes naive local times (datetime.now()): .timestamp() reads them so
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return time.time()


class LiteLLMCapture:
    """LiteLLM ``CustomLogger`` callbacks that append each call to ``path`` (see the module doc).

    LiteLLM hands every provider's call over in the OpenAI Chat Completions shape, so lines are
    written as ``openai-chat`` with LiteLLM's usage (which carries ``cache_read_input_tokens`` /
    ``cache_creation_input_tokens`` for Anthropic models).
    """

    def __init__(self, path: str | os.PathLike[str], *, redact: bool = False):
        self.writer = CaptureWriter(path, redact=redact)

    def _log(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any, error: str | None) -> None:
        try:
            params = p if isinstance(p := kwargs.get("optional_params"), dict) else {}
            request: dict[str, Any] = {"model": kwargs.get("model"), "messages": _as_dict(kwargs.get("messages"))}
            for key in ("tools", "tool_choice", "response_format", "reasoning_effort", "thinking"):
                if params.get(key) is not None:
                    request[key] = _as_dict(params[key])
            litellm_params = lp if isinstance(lp := kwargs.get("litellm_params"), dict) else {}
            provider = kwargs.get("custom_llm_provider") or litellm_params.get("custom_llm_provider")
            started, ended = _epoch(start_time), _epoch(end_time)
            self.writer.write(
                api="openai-chat",
                url=str(litellm_params.get("api_base") or ""),
                started=started,
                latency_ms=round(max(0.0, ended - started) * 1000, 3),
                status=None if error is None else 0,
                request=request,
                response=None if error else _as_dict(response_obj),
                error=error,
                source="litellm",
                provider=str(provider) if provider else None,
            )
        except Exception:
            self.writer.errors += 1

    def log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._log(kwargs, response_obj, start_time, end_time, None)

    def log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        exc = kwargs.get("exception") if isinstance(kwargs, dict) else None
        self._log(kwargs, response_obj, start_time, end_time, str(exc or "failed")[:500])

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.log_success_event(kwargs, response_obj, start_time, end_time)

    async def async_log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.log_failure_event(kwargs, response_obj, start_time, end_time)


def litellm_callback(path: str | os.PathLike[str], *, redact: bool = False) -> LiteLLMCapture:
    """A ``LiteLLMCapture`` that is also a ``litellm.integrations.custom_logger.CustomLogger`` when
    LiteLLM is installed (some LiteLLM code paths check the class), else the duck-typed class."""
    try:
        from litellm.integrations.custom_logger import CustomLogger  # type: ignore[import-not-found]  # may be absent
    except Exception:
        return LiteLLMCapture(path, redact=redact)

    class _Callback(LiteLLMCapture, CustomLogger):
        def __init__(self, path: str | os.PathLike[str], *, redact: bool = False):
            CustomLogger.__init__(self)
            LiteLLMCapture.__init__(self, path, redact=redact)

    return _Callback(path, redact=redact)
