"""The OpenAI-compatible chat-completions endpoint: any OpenAI client can ask the knowledge base. The last user
message is the question, earlier user messages the conversation; citations come as numbered footnotes in the
text and as a `citations` field; the completion `id` is the logged answer's id."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ValidationError, field_validator

from bot.answer import source_line
from bot.query import BadQuestion
from bot.web.context import Context


class ChatMessage(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None

    @field_validator("content")
    @classmethod
    def text_parts(cls, v: Any) -> Any:
        if isinstance(v, list):
            for part in v:
                if part.get("type", "text") == "text" and not isinstance(part.get("text"), str):
                    raise ValueError("content 中 text 部分必须是字符串")
        return v


class CompletionBody(BaseModel):
    model: str = "licence-bot"
    messages: list[ChatMessage]
    stream: bool = False


def message_text(content: object) -> str:
    """A message's text: a plain string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def footnotes(citations: list[dict[str, Any]]) -> str:
    if not citations:
        return ""
    return "\n\n来源：\n" + "\n".join(source_line(c["n"], c["title"], c["url"]) for c in citations)


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.post("/v1/chat/completions", tags=["OpenAI 兼容"], response_model=None)
    async def completions(request: Request) -> JSONResponse | StreamingResponse:
        """OpenAI chat-completions (stream or not). With BOT_API_KEYS set, a key is checked before the body."""
        keys = ctx.settings.keys
        if keys:
            auth = request.headers.get("authorization", "")
            given = auth[7:].strip().encode() if auth.startswith("Bearer ") else b""
            if not any(hmac.compare_digest(given, k.encode()) for k in keys):
                return _error(401, "API key 无效。", "authentication_error")
        try:
            body = CompletionBody.model_validate(json.loads(await request.body() or b"null"))
        except (ValueError, ValidationError) as exc:
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "请求体不是合法的 JSON。"
            return _error(400, f"请求格式不正确：{detail}")
        users = [message_text(m.content) for m in body.messages if m.role == "user"]
        if not users:
            return _error(400, "messages 中没有用户提问。")
        bot = ctx.ready_bot()
        if body.stream:
            return StreamingResponse(_chunks(ctx, bot, body, users, request), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            import anyio

            ans = (await anyio.to_thread.run_sync(bot.ask, users[-1], users)).to_dict()
        except BadQuestion as exc:
            return _error(400, str(exc))
        ctx.log_answer(ans, "v1", request, users)
        text = ans["answer"] + footnotes(ans["citations"])
        return JSONResponse({
            "id": f"chatcmpl-{ans['answer_id']}", "object": "chat.completion", "created": int(time.time()),
            "model": body.model, "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                              "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": ans["citations"], "refused": ans["refused"], "suggestions": ans["suggestions"]})

    return r


def _chunks(ctx: Context, bot: Any, body: CompletionBody, users: list[str], request: Request) -> Iterator[str]:
    import uuid

    answer_id = uuid.uuid4().hex
    created, cid = int(time.time()), f"chatcmpl-{answer_id}"

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    citations: list[dict[str, Any]] = []
    for ev in bot.stream(users[-1], users, answer_id):
        if ev["type"] == "delta":
            yield chunk({"content": ev["text"]})
        elif ev["type"] == "reset":  # a client cannot take text back: mark the correction
            yield chunk({"content": "\n\n——\n"})
        elif ev["type"] == "error":
            yield chunk({"content": ev["message"]})
        elif ev["type"] == "citations":
            citations = ev["citations"]
        elif ev["type"] == "done" and ev.get("answer"):
            ctx.log_answer(ev["answer"], "v1", request, users)
    if citations:
        yield chunk({"content": footnotes(citations)})
    yield chunk({}, "stop", citations=citations)
    yield "data: [DONE]\n\n"
