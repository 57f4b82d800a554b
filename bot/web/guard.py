"""One guard in front of everything that answers or accepts input: the JSON/SSE API, the OpenAI-compatible
endpoint, Gradio's calls and queue, and the admin routes.

- Origin allow-list: same origin always allowed, other sites only when listed in BOT_CORS_ORIGINS.
- Rate limit per client, with the `limits` library (in memory, or Redis shared by several instances).
- Body size counted on the bytes actually read (chunked bodies included), and a time limit for reading them.
- Client address: the peer, unless BOT_TRUST_PROXY is set and the peer is a trusted proxy; then the right-most
  X-Forwarded-For hop that is not a trusted proxy (the left-most entries are the client's to forge).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from bot.settings import Settings

log = logging.getLogger("bot.web.guard")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GUARDED = ("/api/", "/v1/", "/gradio_api/", "/admin")
RATE_LIMITED = "请求过于频繁，请稍后再试。"


class Limiter:
    """Moving-window rate limits over a `limits` storage; a storage that fails lets requests through (and says
    so in the health check) rather than taking the service down."""

    def __init__(self, uri: str) -> None:
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if uri.startswith("redis") else {}
        self.uri = uri
        self.storage = storage_from_string(uri, **options)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.error: str | None = None

    def hit(self, rate: str, namespace: str, key: str) -> tuple[bool, float]:
        """(allowed, seconds to wait) for one request under e.g. "30/minute"."""
        item = _rate(rate)
        try:
            if self.strategy.hit(item, namespace, key):
                self.error = None
                return True, 0.0
            reset = self.strategy.get_window_stats(item, namespace, key).reset_time
            return False, max(1.0, reset - time.time())
        except Exception as exc:  # Redis down: keep answering, report it in /healthz
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("rate-limit storage unavailable: %s", self.error)
            return True, 0.0

    def healthy(self) -> bool:
        try:
            return bool(self.storage.check())
        except Exception:
            return False


@functools.lru_cache(maxsize=32)
def _rate(rate: str) -> Any:
    from limits import parse

    return parse(rate)


def _peer(scope: Scope) -> str:
    return str((scope.get("client") or ("unknown", 0))[0])


def _from_trusted_proxy(scope: Scope, settings: Settings) -> bool:
    return settings.trust_proxy and _peer(scope) in settings.proxies


def client_ip(scope: Scope, settings: Settings) -> str:
    peer = _peer(scope)
    if not _from_trusted_proxy(scope, settings):
        return peer
    forwarded = _header(scope, "x-forwarded-for")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()] if forwarded else []
    for hop in reversed(hops):
        if hop not in settings.proxies:
            return hop
    return peer


def behind_https_proxy(scope: Scope, settings: Settings) -> bool:
    """X-Forwarded-Proto says https and comes from a trusted proxy (a client could send it itself)."""
    return _from_trusted_proxy(scope, settings) and _header(scope, "x-forwarded-proto") == "https"


def _header(scope: Scope, name: str) -> str:
    raw = name.encode("latin-1")
    for k, v in scope.get("headers") or []:
        if k.lower() == raw:
            return str(v.decode("latin-1"))
    return ""


async def respond(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    head = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff")]
    head += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware; see the module docstring. Uploads to the admin console get their own size limit."""

    def __init__(self, app: ASGIApp, settings: Settings, limiter: Limiter) -> None:
        self.app, self.settings, self.limiter = app, settings, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(GUARDED):
            await self.app(scope, receive, send)
            return
        refusal = self._refuse(scope)
        if refusal is not None:
            await respond(send, *refusal)
            return
        limit = (
            self.settings.max_upload_bytes if path.startswith("/admin/api/articles") else self.settings.max_body_bytes
        )
        size = _header(scope, "content-length")
        if size.isdigit() and int(size) > limit:
            await respond(send, 413, f"请求内容过大（上限 {limit} 字节）。")
            return
        await self._run(scope, receive, send, limit)

    def _refuse(self, scope: Scope) -> tuple[int, str, dict[str, str]] | None:
        origin = _header(scope, "origin").rstrip("/")
        host = _header(scope, "host")
        own = {f"{s}://{host}" for s in ("http", "https")}
        if origin and origin not in own and origin not in self.settings.allowed_origins:
            return 403, "此网站未被允许调用问答接口。", {}
        if scope.get("method") == "POST" and not scope.get("path", "").startswith("/admin"):
            ok, wait = self.limiter.hit(self.settings.rate_limit, "api", client_ip(scope, self.settings))
            if not ok:
                return 429, RATE_LIMITED, {"Retry-After": str(round(wait))}
        return None

    async def _run(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Count the body as the app reads it. Past the limit (or the time limit) the client gets 413/408 at
        once and the app sees a disconnect: frameworks turn exceptions raised while parsing into their own
        400, so the refusal is sent here and whatever the app sends afterwards is dropped."""
        seen, started, done, refused = 0, False, False, False

        async def refuse(status: int, detail: str) -> Message:
            nonlocal refused
            if not started and not refused:
                await respond(send, status, detail)
            refused = True
            return {"type": "http.disconnect"}

        async def counted() -> Message:
            nonlocal seen, done
            if refused:
                return {"type": "http.disconnect"}
            if done:  # the body is read; what follows is a wait for the client to disconnect (SSE)
                return await receive()
            try:  # asyncio.timeout, not wait_for: no extra task per message
                async with asyncio.timeout(self.settings.body_timeout):
                    message = await receive()
            except TimeoutError:
                return await refuse(408, "请求发送超时。")
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                done = not message.get("more_body", False)
                if seen > limit:
                    return await refuse(413, f"请求内容过大（上限 {limit} 字节）。")
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, sending)


class SecurityHeaders:
    """nosniff on every response; a Content-Security-Policy on HTML (nothing loads from other hosts)."""

    CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
           "worker-src 'self' blob:; frame-ancestors 'self'; base-uri 'self'; form-action 'self'")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"]
                headers.append((b"x-content-type-options", b"nosniff"))
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    headers.append((b"content-security-policy", self.CSP.encode()))
                    headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class MethodCheck:
    """405 (with Allow) for a wrong method on an API route: the chat page mounted at "/" would otherwise
    answer every unknown method with its own 404."""

    def __init__(self, app: ASGIApp, routes: dict[str, set[str]]) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed = self.routes.get(scope.get("path", "")) if scope["type"] == "http" else None
        if allowed and scope.get("method") not in allowed | {"OPTIONS", "HEAD"}:
            await respond(send, 405, "请求方法不被允许。", {"Allow": ", ".join(sorted(allowed))})
            return
        await self.app(scope, receive, send)
