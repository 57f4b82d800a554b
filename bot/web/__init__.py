"""The web app on one port: the Gradio page at `/`, the JSON/SSE API, the OpenAI-compatible endpoint, the
embeddable widget and its demo page, article pages, health, offline API docs and the admin console — behind
one guard (bot/web/guard.py)."""

from __future__ import annotations

import logging
import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from fastapi import FastAPI  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from fastapi.routing import APIRoute  # noqa: E402

from bot.settings import Settings, get_settings  # noqa: E402
from bot.web.context import Context  # noqa: E402
from bot.web.guard import Guard, Limiter, MethodCheck, SecurityHeaders  # noqa: E402


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("licence-bot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0.0.0"
from bot.web.holder import BotHolder  # noqa: E402

log = logging.getLogger("bot.web")


def _answer_log(settings: Settings) -> Any:
    from bot.db import AnswerLog, Store

    try:
        return AnswerLog(Store(settings.database_url, settings.log_questions, settings.log_retention_days))
    except Exception as exc:  # a bad URL or missing driver: the app answers, the health check says why
        log.warning("conversation log unavailable: %s", exc)
        return None


def create_app(settings: Settings | None = None, background: bool = True) -> FastAPI:
    from fastapi_offline import FastAPIOffline

    from bot.ui import build_ui, theme
    from bot.web import admin, api, openai, pages

    settings = settings or get_settings()
    ctx = Context(settings, BotHolder(settings), Limiter(settings.rate_limit_storage), _answer_log(settings))
    app: FastAPI = FastAPIOffline(title="增值电信许可问答 API", version=_version(),
                                  description="有出处的增值电信业务许可问答。所有回答只来自知识库文章，每句话标注来源。")
    modules: list[Any] = [api, openai, pages, admin]
    if settings.admin_token:
        from bot.web import console

        modules.append(console)
    routers = [module.router(ctx) for module in modules]
    for router in routers:
        app.include_router(router)
    # read from the routers themselves: FastAPI wraps included routes, app.routes no longer lists them
    methods = {r.path: set(r.methods or ()) for router in routers for r in router.routes
               if isinstance(r, APIRoute) and "{" not in r.path}
    if settings.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.allowed_origins,
                           allow_methods=["GET", "POST", "OPTIONS"],
                           allow_headers=["Content-Type", "Authorization", "X-Bot-Surface"], max_age=600)
    app.add_middleware(Guard, settings=settings, limiter=ctx.limiter)
    app.add_middleware(MethodCheck, routes=methods)
    app.add_middleware(SecurityHeaders)
    app.state.ctx = ctx
    ctx.holder.start(background)
    import gradio as gr

    return gr.mount_gradio_app(app, build_ui(ctx), path="/", theme=theme(), footer_links=[])
