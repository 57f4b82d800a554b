"""The web app on one port: the Gradio page at `/`, the JSON/SSE API, the OpenAI-compatible endpoint,
the embeddable widget and its demo page, health and article pages."""

from __future__ import annotations

import html
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import gradio as gr
from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from bot.answer import source_line
from bot.questions import BadQuestion
from bot.settings import Settings, get_settings
from bot.ui import build_ui, message_text, theme

log = logging.getLogger("bot.web")
STATIC = Path(__file__).resolve().parent / "static"
RATE_LIMITED = "请求过于频繁，请稍后再试。"


class BotHolder:
    """Builds the index in the background and hands out the Bot once questions can be answered."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bot = None
        self.error: str | None = None
        self.building = False
        self._lock = threading.Lock()

    def start(self, background: bool = True) -> None:
        if background:
            threading.Thread(target=self._load, name="index-builder", daemon=True).start()
        else:
            self._load()

    def _load(self) -> None:
        from bot.chat import Bot
        from bot.index import build_index

        self.building = True
        try:
            report = build_index(self.settings)
            log.warning("索引就绪：%s", report.summary().splitlines()[0])
            bot = Bot(self.settings, build=False)
            with self._lock:
                self.bot, self.error = bot, None
        except Exception as exc:  # shown by /healthz; the page says the index is not ready
            log.exception("index build failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.building = False

    def get(self):
        with self._lock:
            return self.bot


class RateLimiter:
    """Token bucket per client: `count` requests per `seconds`, refilled continuously."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count, self.rate = count, count / seconds
        self.buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, float]:
        now = time.monotonic()
        with self._lock:
            tokens, last = self.buckets.get(key, (float(self.count), now))
            tokens = min(self.count, tokens + (now - last) * self.rate)
            if len(self.buckets) > 10000:  # forget idle clients rather than grow without bound
                self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 3600}
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                return True, 0.0
            self.buckets[key] = (tokens, now)
            return False, (1 - tokens) / self.rate


class AskBody(BaseModel):
    question: str = Field(..., description="用户的问题（对话的最后一轮）")
    turns: list[str] | None = Field(None, description="整个对话中用户的各轮提问，按先后顺序，最后一项是 question")


class ReplyBody(BaseModel):
    message: str = Field(..., description="客户发来的原话（可含多个问题和背景）")
    tone: str = Field("正式", description="正式 | 简洁")
    sources: bool = Field(True, description="回复末尾是否附来源脚注")


class ChatMessage(BaseModel):
    role: str
    content: str | list | None = None


class CompletionBody(BaseModel):
    model: str = "licence-bot"
    messages: list[ChatMessage]
    stream: bool = False


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def footnotes(citations: list[dict]) -> str:
    if not citations:
        return ""
    lines = [source_line(c["n"], c["title"], c["url"]) for c in citations]
    return "\n\n来源：\n" + "\n".join(lines)


def create_app(settings: Settings | None = None, background: bool = True) -> FastAPI:
    settings = settings or get_settings()
    holder = BotHolder(settings)
    limiter = RateLimiter(*settings.rate)
    api = FastAPI(title="增值电信许可问答 API", version="0.1.0",
                  description="有出处的增值电信业务许可问答。所有回答只来自知识库文章，每句话标注来源。")
    api.state.holder = holder
    allowed = settings.allowed_origins
    if allowed:
        api.add_middleware(CORSMiddleware, allow_origins=allowed, allow_methods=["GET", "POST", "OPTIONS"],
                           allow_headers=["Content-Type", "Authorization"], max_age=600)

    def client_key(request: Request) -> str:
        if settings.trust_proxy and request.headers.get("x-forwarded-for"):
            return request.headers["x-forwarded-for"].split(",")[0].strip()
        return request.client.host if request.client else "unknown"

    @api.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if path.startswith(("/api/", "/v1/")):
            origin = request.headers.get("origin")
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if origin and origin.rstrip("/") != own and origin.rstrip("/") not in allowed:
                return JSONResponse({"detail": "此网站未被允许调用问答接口。"}, status_code=403)
            size = request.headers.get("content-length")
            if size and size.isdigit() and int(size) > settings.max_body_bytes:
                return JSONResponse({"detail": f"请求内容过大（上限 {settings.max_body_bytes} 字节）。"}, status_code=413)
            if request.method == "POST":
                ok, wait = limiter.allow(client_key(request))
                if not ok:
                    return JSONResponse({"detail": RATE_LIMITED}, status_code=429,
                                        headers={"Retry-After": str(max(1, round(wait)))})
        return await call_next(request)

    def ready_bot():
        bot = holder.get()
        if bot is None:
            raise HTTPException(503, "知识库索引正在建立，请稍后再试。")
        return bot

    @api.get("/healthz", tags=["运维"])
    def healthz():
        """200 once questions can be answered; 503 while the index is being built."""
        if holder.get() is None or holder.building:
            body = {"status": "indexing" if holder.error is None else "error", "error": holder.error}
            return JSONResponse(body, status_code=503)
        return {"status": "ok"}

    @api.post("/api/ask", tags=["问答"])
    def ask(body: AskBody):
        """One question (with the conversation so far in `turns`); returns the answer object of `bot ask --json`."""
        bot = ready_bot()
        try:
            return bot.ask(body.question, body.turns).to_dict()
        except BadQuestion as exc:
            raise HTTPException(400, str(exc)) from exc

    @api.post("/api/chat", tags=["问答"])
    def chat(body: AskBody):
        """Server-sent events: `delta` (text), `reset` (discard text so far), `citations`, `done`; `error`."""
        bot = ready_bot()

        def events() -> Iterator[str]:
            for ev in bot.stream(body.question, body.turns):
                yield _sse(ev["type"], {k: v for k, v in ev.items() if k != "type"})

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @api.post("/api/reply", tags=["销售回复"])
    def reply(body: ReplyBody):
        """A client's pasted message → a reply ready to send: every question answered with citations, the
        client's facts that decide the answer, sources as numbered footnotes."""
        from bot.reply import compose

        bot = ready_bot()
        try:
            return compose(bot, body.message, tone=body.tone, sources=body.sources).to_dict()
        except BadQuestion as exc:
            raise HTTPException(400, str(exc)) from exc

    @api.post("/v1/chat/completions", tags=["OpenAI 兼容"])
    def completions(body: CompletionBody, request: Request):
        """OpenAI chat-completions: the last user message is the question, earlier user messages the
        conversation. Citations come as numbered footnotes in the text and as a `citations` field."""
        keys = [k.strip() for k in settings.api_keys.split(",") if k.strip()]
        if keys:
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:].strip() not in keys:
                return JSONResponse({"error": {"message": "API key 无效。", "type": "invalid_request_error"}},
                                    status_code=401)
        users = [message_text(m.content) for m in body.messages if m.role == "user"]
        if not users:
            return JSONResponse({"error": {"message": "messages 中没有用户提问。", "type": "invalid_request_error"}},
                                status_code=400)
        bot = ready_bot()
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        base = {"id": cid, "created": created, "model": body.model}
        if not body.stream:
            try:
                ans = bot.ask(users[-1], users).to_dict()
            except BadQuestion as exc:
                return JSONResponse({"error": {"message": str(exc), "type": "invalid_request_error"}}, status_code=400)
            text = ans["answer"] + footnotes(ans["citations"])
            return {**base, "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                    "citations": ans["citations"], "refused": ans["refused"]}

        def chunks() -> Iterator[str]:
            def chunk(delta: dict, finish=None, **extra) -> str:
                data = {**base, "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
                return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

            yield chunk({"role": "assistant", "content": ""})
            citations: list[dict] = []
            for ev in bot.stream(users[-1], users):
                if ev["type"] == "delta":
                    yield chunk({"content": ev["text"]})
                elif ev["type"] == "reset":  # a client cannot take text back: mark the correction
                    yield chunk({"content": "\n\n——\n"})
                elif ev["type"] == "error":
                    yield chunk({"content": ev["message"]})
                elif ev["type"] == "citations":
                    citations = ev["citations"]
            if citations:
                yield chunk({"content": footnotes(citations)})
            yield chunk({}, "stop", citations=citations)
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @api.post("/admin/reindex", tags=["运维"], include_in_schema=False)
    def reindex(request: Request):
        """Re-index the corpus. Unreachable without BOT_ADMIN_TOKEN configured and presented."""
        if not settings.admin_token:
            raise HTTPException(404, "Not Found")
        if request.headers.get("authorization", "") != f"Bearer {settings.admin_token}":
            raise HTTPException(403, "需要管理员令牌。")
        if holder.building:
            return JSONResponse({"status": "already building"}, status_code=409)
        holder.start(background=True)
        return JSONResponse({"status": "started"}, status_code=202)

    @api.get("/widget.js", include_in_schema=False)
    def widget():
        return Response((STATIC / "widget.js").read_text("utf-8"), media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=300"})

    @api.get("/demo", response_class=HTMLResponse, include_in_schema=False)
    def demo_page():
        return (STATIC / "demo.html").read_text("utf-8")

    @api.get("/articles/{doc_id}", response_class=HTMLResponse, tags=["知识库"])
    def article(doc_id: str):
        """A plain page for an article that has no source URL of its own (the citation link)."""
        bot = ready_bot()
        chunks = sorted((c for c in bot.kb.chunks.values() if c.doc_id == doc_id), key=lambda c: c.position)
        if not chunks:
            raise HTTPException(404, "没有这篇文章")
        from bot.ingest import load
        from bot.store import Manifest

        entry = (Manifest.load(settings.index_dir) or Manifest()).docs.get(doc_id, {})
        try:
            text = load(Path(entry["path"])).text
        except Exception:
            text = "\n\n".join(c.text for c in chunks)
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
        title = html.escape(chunks[0].title)
        return (f"<!doctype html><html lang=zh-CN><meta charset=utf-8><meta name=viewport content='width=device-width'>"
                f"<title>{title}</title><body style='max-width:46rem;margin:2rem auto;font-family:system-ui,sans-serif;"
                f"line-height:1.7;padding:0 1rem'><h1>{title}</h1>{paras}</body></html>")

    holder.start(background)
    demo = build_ui(holder.get)
    return gr.mount_gradio_app(api, demo, path="/", theme=theme(), footer_links=[])
