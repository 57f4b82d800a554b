"""The JSON / server-sent-events API: ask, chat (streamed), reply (sales desk), assess (许可自测), feedback and
health. Every answer is logged with an `answer_id` the client can attach 👍/👎 to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from bot.query import BadQuestion, check
from bot.web.context import Context

NOT_READY = "知识库索引正在建立，请稍后再试。"


class AskBody(BaseModel):
    question: str = Field(..., description="用户的问题（对话的最后一轮）")
    turns: list[str] | None = Field(None, description="整个对话中用户的各轮提问，按先后顺序，最后一项是 question")


class ReplyBody(BaseModel):
    message: str = Field(..., description="客户发来的原话（可含多个问题和背景）")
    tone: str = Field("正式", description="正式 | 简洁", pattern="^(正式|简洁)$")
    sources: bool = Field(True, description="回复末尾是否附来源脚注")


class AssessForm(BaseModel):
    description: str = Field("", description="业务描述（自由文本）；可与下列表单字段同时提供")
    activities: list[str] | None = Field(None, description="业务活动，取值见 bot/data/rules.toml [activities]")
    paid: bool | None = Field(None, description="是否收费（有偿提供信息或服务）")
    merchants: bool | None = Field(None, description="是否有第三方商家入驻")
    channels: list[str] | None = Field(None, description="网站 / APP / 小程序")
    scope: str | None = Field(None, description="省内 / 跨省")
    province: str | None = None
    capital_wan: float | None = Field(None, description="注册资本（万元）")
    foreign_share: float | None = Field(None, description="外资股比（%）")
    foreign_country: str | None = None
    pilot_area: str | None = Field(None, description="北京 / 上海临港 / 海南 / 深圳")
    licences_held: list[str] | None = None


class FeedbackBody(BaseModel):
    answer_id: str = Field(..., max_length=64)
    rating: str = Field(..., pattern="^(up|down)$")
    comment: str | None = Field(None, max_length=2000)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def router(ctx: Context) -> APIRouter:
    r = APIRouter()
    _questions(r, ctx)
    _desk(r, ctx)
    return r


def _questions(r: APIRouter, ctx: Context) -> None:
    """Health, and the routes that answer questions."""

    @r.get("/healthz", tags=["运维"])
    async def healthz() -> JSONResponse:
        """200 while questions can be answered (also during a re-index, from the current index); 503 before the
        first index is ready. Never waits for a model call."""
        status = ctx.status()
        code = 200 if status["index"]["ready"] else 503
        status["status"] = "ok" if code == 200 else ("error" if status["index"]["error"] else "indexing")
        return JSONResponse(status, status_code=code)

    @r.post("/api/ask", tags=["问答"])
    def ask(body: AskBody, request: Request) -> dict[str, Any]:
        """One question (with the conversation so far in `turns`); the answer object of `bot ask --json`, with
        `answer_id` and `suggestions`."""
        bot = ctx.ready_bot()
        try:
            ans = bot.ask(body.question, body.turns)
        except BadQuestion as exc:
            raise HTTPException(400, str(exc)) from exc
        out = ans.to_dict()
        ctx.log_answer(out, "api", request, body.turns)
        return out

    @r.post("/api/chat", tags=["问答"])
    def chat(body: AskBody, request: Request) -> StreamingResponse:
        """Server-sent events: `delta` (text), `reset` (discard text so far), `citations`, `done` (with the
        answer, `answer_id` and `suggestions`); `error` for unusable input."""
        bot = ctx.ready_bot()
        surface = "widget" if request.headers.get("x-bot-surface") == "widget" else "chat"
        try:  # unusable input is a 400 before the stream starts, like every other route
            check(body.question, bot.settings.max_question_chars)
        except BadQuestion as exc:
            raise HTTPException(400, str(exc)) from exc

        def events() -> Iterator[str]:
            for ev in bot.stream(body.question, body.turns):
                if ev["type"] == "done" and ev.get("answer"):
                    ctx.log_answer(ev["answer"], surface, request, body.turns)
                yield _sse(ev["type"], {k: v for k, v in ev.items() if k != "type"})

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})



def _desk(r: APIRouter, ctx: Context) -> None:
    """The sales desk, the licence self-assessment and feedback."""

    @r.post("/api/reply", tags=["销售回复"])
    def reply(body: ReplyBody, request: Request) -> dict[str, Any]:
        """A client's pasted message → a reply ready to send: every question answered with citations, the client's
        facts that decide the answer, sources as numbered footnotes."""
        from bot.reply import compose

        bot = ctx.ready_bot()
        try:
            result = compose(bot, body.message, tone=body.tone, sources=body.sources, base=ctx.base_url(request))
        except BadQuestion as exc:
            raise HTTPException(400, str(exc)) from exc
        out = result.to_dict()
        out["answer_id"] = ctx.log_text(body.message, result.text, result.citations, "reply", request)
        return out

    @r.post("/api/assess", tags=["许可自测"])
    def assess(body: AssessForm, request: Request) -> dict[str, Any]:
        """A business (free text and/or form fields) → the licences, filings and approvals it needs, each with a
        verdict (需要 / 视情况 / 不需要), authority, reasons and citations; capital and foreign-share rules."""
        from bot.assess import assess as run
        from bot.facts import from_form

        bot = ctx.ready_bot()
        form = body.model_dump(exclude={"description"}, exclude_none=True)
        text = ""
        if body.description.strip() or not form:
            try:
                text, _ = check(body.description, bot.settings.max_question_chars)
            except BadQuestion as exc:
                raise HTTPException(400, "请描述您的业务，或填写表单中的业务信息。") from exc
        result = run(bot.kb, from_form(form, text))
        out = result.to_dict()
        out["answer_id"] = ctx.log_text(text or json.dumps(form, ensure_ascii=False), out["answer"],
                                        result.citations, "assess", request)
        return out

    @r.post("/api/feedback", tags=["反馈"])
    def feedback(body: FeedbackBody) -> dict[str, Any]:
        """👍/👎 with an optional comment on an answer (unknown `answer_id` → 404)."""
        return ctx.feedback(body.answer_id, body.rating, body.comment)
