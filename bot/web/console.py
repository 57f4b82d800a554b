"""The operator console at /admin (only with BOT_ADMIN_TOKEN)."""

from __future__ import annotations

from fastapi import APIRouter

from bot.web.context import Context


def router(ctx: Context) -> APIRouter:
    return APIRouter()
