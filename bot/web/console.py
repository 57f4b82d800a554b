"""The operator console at /admin (only with BOT_ADMIN_TOKEN): sign in with the token (then an HttpOnly,
SameSite=Strict session cookie; every route also takes `Authorization: Bearer`), a dashboard, the conversations,
the coverage-gap report and the knowledge base. The page is static HTML + vanilla JS (bot/static/console.*)
calling the JSON routes under /admin/api/; nothing from a question or an uploaded file is ever rendered as HTML.
"""

from __future__ import annotations

import csv
import html
import io
import threading
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot.web.admin import require_admin
from bot.web.context import Context
from bot.web.guard import behind_https_proxy

STATIC = Path(__file__).resolve().parent.parent / "static"
NO_STORE = {"Cache-Control": "no-store"}
MAX_EXPORT = 10000


def sign_in_page(message: str = "") -> str:
    """The sign-in form; `message` is one of this module's fixed strings (escaped all the same)."""
    note = f"<p class=err role=alert>{html.escape(message)}</p>" if message else ""
    return ("<!doctype html><html lang=zh-CN><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            "<title>运营后台 · 登录</title><style>body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;"
            "background:#f4f6f8;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}"
            "form{background:#fff;padding:2rem;border-radius:10px;box-shadow:0 2px 12px #0002;width:min(22rem,90vw)}"
            "h1{font-size:1.3rem;margin:0 0 1rem}"
            "input{width:100%;box-sizing:border-box;padding:.6rem;margin:.4rem 0 1rem;font-size:1rem}"
            "button{width:100%;padding:.6rem;background:#0b6e4f;color:#fff;border:0;border-radius:6px;"
            "font-size:1rem;cursor:pointer}.err{color:#b00020}</style><body><form method=post action=/admin/login>"
            f"<h1>增值电信许可问答 · 运营后台</h1>{note}<label for=token>管理员令牌</label>"
            "<input id=token name=token type=password autocomplete=current-password required autofocus>"
            "<button type=submit>登录</button></form></body></html>")


def _bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in {"1", "true", "yes", "是"}:
        return True
    if value.lower() in {"0", "false", "no", "否"}:
        return False
    raise HTTPException(400, "参数应为 true 或 false。")


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise HTTPException(400, "日期格式应为 YYYY-MM-DD。") from exc


def _int(value: str | None, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        return max(low, min(high, int(value)))
    except ValueError as exc:
        raise HTTPException(400, "参数应为整数。") from exc


def filters(request: Request, limit: int = 50, most: int = 500) -> Any:
    from bot.db import SURFACES, Filters

    q = request.query_params
    rating = q.get("rating") or None
    if rating not in {None, "up", "down", "none"}:
        raise HTTPException(400, "rating 应为 up、down 或 none。")
    surface = q.get("surface") or None
    if surface is not None and surface not in SURFACES:
        raise HTTPException(400, f"surface 应为 {'、'.join(SURFACES)} 之一。")
    return Filters(q=(q.get("q") or "")[:200], refused=_bool(q.get("refused")), low=bool(_bool(q.get("low"))),
                   rating=rating, surface=surface, since=_date(q.get("since")), until=_date(q.get("until")),
                   limit=_int(q.get("limit"), limit, 1, most), offset=_int(q.get("offset"), 0, 0, 10**9))


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


def _download(text: str, name: str, media: str) -> Response:
    return Response(("\ufeff" if media == "text/csv" else "") + text, media_type=f"{media}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE})


class GapCache:
    """The last gap reports, keyed by their inputs: exporting right after viewing clusters nothing twice."""

    def __init__(self) -> None:
        self.items: dict[Any, Any] = {}
        self.lock = threading.Lock()

    def get(self, key: Any, compute: Any) -> Any:
        with self.lock:
            if key in self.items:
                return self.items[key]
        value = compute()
        with self.lock:
            self.items = {k: v for k, v in list(self.items.items())[-7:]}
            self.items[key] = value
        return value


def _database(fn: Any) -> Any:
    """A database that is down or locked is a 503 with a Chinese message, not a traceback."""
    import functools
    import inspect

    from sqlalchemy.exc import SQLAlchemyError

    def refused(exc: Exception) -> HTTPException:
        return HTTPException(503, f"数据库暂时不可用，请稍后再试（{type(exc).__name__}）。")

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(*args: Any, **kw: Any) -> Any:
            try:
                return await fn(*args, **kw)
            except SQLAlchemyError as exc:
                raise refused(exc) from exc

        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except SQLAlchemyError as exc:
            raise refused(exc) from exc

    return run


class Console:
    """The console's handlers (registered by router() below)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cache = GapCache()

    def admin(self, request: Request) -> None:
        require_admin(self.ctx, request)

    @property
    def store(self) -> Any:
        return self.ctx.store

    # -- the page and the session ----------------------------------------------------------------------

    def page(self, request: Request) -> Response:
        """The console when signed in; otherwise the sign-in form, with 401."""
        if not self.ctx.admin_ok(request):
            return HTMLResponse(sign_in_page(), status_code=401, headers=NO_STORE)
        return HTMLResponse((STATIC / "console.html").read_text("utf-8"), headers=NO_STORE)

    def asset(self, name: str, media: str) -> Any:
        def serve(request: Request) -> Response:
            self.admin(request)
            return Response((STATIC / name).read_text("utf-8"), media_type=media, headers=NO_STORE)

        return serve

    async def login(self, request: Request) -> Response:
        """Sign in: a form field or JSON `token`; sets the session cookie."""
        from bot.web.session import set_session

        as_json = request.headers.get("content-type", "").startswith("application/json")
        token = await _token(request, as_json)
        try:
            ok = self.ctx.check_token(request, token)
        except HTTPException as exc:
            if as_json:
                raise
            return HTMLResponse(sign_in_page(str(exc.detail)), status_code=exc.status_code,
                                headers={**NO_STORE, **(exc.headers or {})})
        if not ok:
            if as_json:
                raise HTTPException(403, "令牌不正确。")
            return HTMLResponse(sign_in_page("令牌不正确。"), status_code=403, headers=NO_STORE)
        response: Response = JSONResponse({"ok": True}) if as_json else RedirectResponse("/admin", status_code=303)
        proxied = behind_https_proxy(request.scope, self.ctx.settings)
        set_session(response, self.ctx.settings.admin_token, secure=request.url.scheme == "https" or proxied)
        return response

    @staticmethod
    def logout() -> Response:
        from bot.web.session import clear_session

        response = RedirectResponse("/admin", status_code=303)
        clear_session(response)
        return response

    def session(self, request: Request) -> dict[str, Any]:
        self.admin(request)
        return {"ok": True}

    # -- dashboard and conversations --------------------------------------------------------------------

    @_database
    def stats(self, request: Request) -> JSONResponse:
        self.admin(request)
        out = self.store.stats(_int(request.query_params.get("days"), 30, 1, 366))
        out["log"] = self.ctx.log.status() if self.ctx.log else {"ok": False}
        out["low_confidence_threshold"] = self.ctx.settings.low_confidence
        return JSONResponse(out, headers=NO_STORE)

    @_database
    def conversations(self, request: Request) -> JSONResponse:
        self.admin(request)
        return JSONResponse({"items": self.store.conversations(filters(request))}, headers=NO_STORE)

    @_database
    def conversations_csv(self, request: Request) -> Response:
        self.admin(request)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["answer_id", "created_at", "surface", "question", "answer", "refused", "confidence", "rating",
                    "comment"])
        for it in self.store.conversations(filters(request, limit=MAX_EXPORT, most=MAX_EXPORT)):
            fb = it["feedback"] or {}
            w.writerow([_cell(v) for v in (it["answer_id"], it["created_at"], it["surface"], it["question"] or "",
                                           it["answer"] or "", it["refused"], it["confidence"], fb.get("rating", ""),
                                           fb.get("comment") or "")])
        return _download(buf.getvalue(), "conversations.csv", "text/csv")

    @_database
    def conversation(self, answer_id: str, request: Request) -> JSONResponse:
        self.admin(request)
        item = self.store.conversation(answer_id[:64])
        if item is None:
            raise HTTPException(404, "没有这条回答。")
        return JSONResponse(item, headers=NO_STORE)

    # -- the coverage-gap report ------------------------------------------------------------------------

    @_database
    def gap_list(self, request: Request) -> tuple[list[Any], int]:
        from bot import gaps

        self.admin(request)
        days = _int(request.query_params.get("days"), 30, 1, 366)
        rows = self.store.gap_rows(days)
        bot = self.ctx.holder.get()
        embed = bot.kb.sentences.embed_queries if bot is not None else gaps.query_embedder(self.ctx.settings)
        key = (days, tuple((r["answer_id"], r["down"], r["refused"]) for r in rows))
        low, distance = self.ctx.settings.low_confidence, self.ctx.settings.gap_distance
        return self.cache.get(key, lambda: gaps.report(rows, embed, low, distance)), days

    def gaps(self, request: Request) -> JSONResponse:
        from bot import gaps

        found, _ = self.gap_list(request)
        out = gaps.to_json(found)
        if request.query_params.get("detail"):  # the console shows why each group is a gap
            for g, full in zip(out["gaps"], found, strict=True):
                g.update(refused=full.refused, low=full.low, down=full.down)
        return JSONResponse(out, headers=NO_STORE)

    def gaps_md(self, request: Request) -> Response:
        from bot import gaps

        found, days = self.gap_list(request)
        return _download(gaps.to_markdown(found, days), "gaps.md", "text/markdown")

    def gaps_csv(self, request: Request) -> Response:
        from bot import gaps

        found, _ = self.gap_list(request)
        return _download(gaps.to_csv(found), "gaps.csv", "text/csv")

    # -- the knowledge base ------------------------------------------------------------------------------

    def files(self) -> Any:
        if self.ctx.holder.files is None:
            raise HTTPException(503, "数据库不可用，无法管理文章。")
        return self.ctx.holder.files

    def state(self) -> dict[str, Any]:
        log = self.ctx.log
        out = {"index": self.ctx.holder.status(), "kb_version": None, "log": log.status() if log else {"ok": False}}
        try:
            out["kb_version"] = self.store.kb_version()
        except Exception:  # the database is down: the index status still says what is served
            pass
        return out

    def status(self, request: Request) -> JSONResponse:
        self.admin(request)
        return JSONResponse(self.state(), headers=NO_STORE)

    def reindex(self, request: Request) -> JSONResponse:
        """Re-index in the background (answers keep coming from the current index); poll /admin/api/status."""
        self.admin(request)
        started = self.ctx.holder.request()
        return JSONResponse({"started": started, "queued": not started, **self.state()}, status_code=202)

    @_database
    def articles(self, request: Request) -> JSONResponse:
        from bot import kb

        self.admin(request)
        items = kb.catalogue(self.files(), self.ctx.holder.get(), self.ctx.holder.skipped)
        return JSONResponse({"items": items, **self.state()}, headers=NO_STORE)

    @_database
    async def change(self, run: Any) -> JSONResponse:
        import anyio

        from bot import kb

        try:
            out = await anyio.to_thread.run_sync(run)
        except kb.UploadError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        self.ctx.holder.request()
        return JSONResponse({**out, **self.state()}, status_code=202)

    async def articles_route(self, request: Request) -> JSONResponse:
        """GET: the list; POST: an upload."""
        if request.method == "POST":
            return await self.add_article(request)
        import anyio

        return await anyio.to_thread.run_sync(self.articles, request)

    async def add_article(self, request: Request) -> JSONResponse:
        """Upload a new article (.md .txt .html .pdf .docx); the re-index starts at once."""
        from bot import kb

        self.admin(request)
        name, data = await _upload(request, self.ctx.settings.max_upload_bytes)
        bot, folder, most = self.ctx.holder.get(), self.files(), self.ctx.settings.max_upload_bytes
        return await self.change(lambda: kb.add(folder, bot, name, data, most))

    async def replace_article(self, doc_id: str, request: Request) -> JSONResponse:
        from bot import kb

        self.admin(request)
        name, data = await _upload(request, self.ctx.settings.max_upload_bytes)
        bot, folder, most = self.ctx.holder.get(), self.files(), self.ctx.settings.max_upload_bytes
        return await self.change(lambda: kb.replace(folder, bot, doc_id, name, data, most))

    async def delete_article(self, doc_id: str, request: Request) -> JSONResponse:
        from bot import kb

        self.admin(request)
        bot, folder = self.ctx.holder.get(), self.files()
        return await self.change(lambda: kb.remove(folder, bot, doc_id))

    def article(self, doc_id: str, request: Request) -> JSONResponse:
        """An article's chunks and answer cards, as indexed."""
        from bot import kb

        self.admin(request)
        found = kb.preview(self.ctx.ready_bot(), doc_id)
        if found is None:
            raise HTTPException(404, "没有这篇文章。")
        return JSONResponse(found, headers=NO_STORE)


async def _token(request: Request, as_json: bool) -> str:
    try:
        if as_json:
            body = await request.json()
            return str(body.get("token") or "") if isinstance(body, dict) else ""
        return str((await request.form()).get("token") or "")
    except Exception:  # a malformed body is a wrong token, not a 500
        return ""


async def _upload(request: Request, most: int) -> tuple[str, bytes]:
    """The one file of a multipart upload: (the client's file name, for its extension only; the bytes)."""
    from starlette.datastructures import UploadFile

    try:
        form = await request.form(max_files=1, max_fields=5)
    except Exception as exc:
        raise HTTPException(400, "上传格式不正确：请用 multipart/form-data 上传一个名为 file 的文件。") from exc
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise HTTPException(400, "请选择要上传的文件（字段名 file）。")
        return file.filename or "", await file.read(most + 1)
    finally:
        await form.close()


def router(ctx: Context) -> APIRouter:
    c = Console(ctx)
    r = APIRouter(include_in_schema=False)
    r.get("/admin")(c.page)
    r.get("/admin/")(lambda: RedirectResponse("/admin", status_code=307))
    r.get("/admin/console.js")(c.asset("console.js", "application/javascript"))
    r.get("/admin/console.css")(c.asset("console.css", "text/css"))
    r.post("/admin/login")(c.login)
    r.post("/admin/logout")(c.logout)
    r.get("/admin/api/session")(c.session)
    r.get("/admin/api/stats")(c.stats)
    r.get("/admin/api/conversations")(c.conversations)
    r.get("/admin/api/conversations.csv")(c.conversations_csv)
    r.get("/admin/api/conversations/{answer_id}")(c.conversation)
    r.get("/admin/api/gaps")(c.gaps)
    r.get("/admin/api/gaps.md")(c.gaps_md)
    r.get("/admin/api/gaps.csv")(c.gaps_csv)
    r.get("/admin/api/status")(c.status)
    r.post("/admin/api/reindex")(c.reindex)
    # one route for both methods: the app's 405 check keeps one method set per path (bot/web/__init__.py)
    r.api_route("/admin/api/articles", methods=["GET", "POST"])(c.articles_route)
    r.put("/admin/api/articles/{doc_id}")(c.replace_article)
    r.delete("/admin/api/articles/{doc_id}")(c.delete_article)
    r.get("/admin/api/articles/{doc_id}")(c.article)
    return r
