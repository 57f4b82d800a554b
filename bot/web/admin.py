"""Admin routes (only when BOT_ADMIN_TOKEN is set): re-index, and the operator console (bot/web/console.py).
Every admin route takes `Authorization: Bearer <token>` or the console's session cookie."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from bot.web.context import Context


def require_admin(ctx: Context, request: Request) -> None:
    if not ctx.admin_ok(request):
        raise HTTPException(403, "需要管理员令牌。")


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.post("/admin/reindex", tags=["运维"], include_in_schema=False)
    def reindex(request: Request) -> JSONResponse:
        """Re-index the corpus in the background; answers keep coming from the current index meanwhile."""
        require_admin(ctx, request)
        if not ctx.holder.start(background=True):
            return JSONResponse({"status": "already building"}, status_code=409)
        return JSONResponse({"status": "started"}, status_code=202)

    return r
