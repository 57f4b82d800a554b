"""What the routers share: settings, the Bot holder, the conversation log and the rate limiter."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from fastapi import HTTPException, Request

from bot.settings import Settings
from bot.web.guard import Limiter, client_ip
from bot.web.holder import BotHolder

log = logging.getLogger("bot.web")
NOT_READY = "知识库索引正在建立，请稍后再试。"


class Context:
    def __init__(self, settings: Settings, holder: BotHolder, limiter: Limiter, answer_log: Any) -> None:
        self.settings, self.holder, self.limiter, self.log = settings, holder, limiter, answer_log
        if answer_log is not None:
            from bot.db import zone

            store = answer_log.store
            store.low_confidence, store.tz = settings.low_confidence, zone(settings.timezone)
            holder.attach(store)  # articles from the console, on every instance sharing the database

    @property
    def store(self) -> Any:
        """The database (bot.db.Store); 503 when the app has none."""
        if not self.log:
            raise HTTPException(503, "数据库不可用。")
        return self.log.store

    def ready_bot(self) -> Any:
        bot = self.holder.get()
        if bot is None:
            raise HTTPException(503, NOT_READY)
        return bot

    def base_url(self, request: Request) -> str:
        """Where this app's article pages are, for links a client opens outside the page (reply footnotes)."""
        return self.settings.article_base_url or str(request.base_url).rstrip("/")

    def status(self) -> dict[str, Any]:
        limiter = {"storage": self.limiter.uri.split("://")[0], "ok": self.limiter.error is None,
                   "error": self.limiter.error}
        return {"index": self.holder.status(), "log": self.log.status() if self.log else {"ok": False},
                "rate_limit": limiter}

    # -- the conversation log -------------------------------------------------------------------------

    def log_answer(self, answer: dict[str, Any] | None, surface: str, request: Request | None,
                   turns: list[str] | None) -> None:
        if not answer or not self.log or not answer.get("answer_id"):
            return
        from bot.db import Entry

        self.log.add(Entry(answer["answer_id"], surface, answer["question"], answer["answer"], answer["refused"],
                           answer["confidence"], answer["latency_ms"], answer["citations"], list(turns or []),
                           origin=request.headers.get("origin") if request else None))

    def log_text(self, question: str, text: str, citations: list[Any], surface: str, request: Request | None) -> str:
        from bot.db import Entry, new_id

        answer_id = new_id()
        if self.log:
            cites = [c.to_dict() if hasattr(c, "to_dict") else c for c in citations]
            self.log.add(Entry(answer_id, surface, question, text, False, 1.0, 0.0, cites,
                               origin=request.headers.get("origin") if request else None))
        return answer_id

    def feedback(self, answer_id: str, rating: str, comment: str | None) -> dict[str, Any]:
        if not self.log:
            raise HTTPException(503, "反馈功能暂不可用。")
        self.log.wait(answer_id)
        try:
            known = self.log.store.feedback(answer_id, rating, (comment or "").strip() or None)
        except Exception as exc:
            log.warning("feedback not stored: %s", exc)
            raise HTTPException(503, "反馈暂时无法保存，请稍后再试。") from exc
        if not known:
            raise HTTPException(404, "没有这条回答。")
        return {"ok": True}

    # -- admin ------------------------------------------------------------------------------------------

    def admin_ok(self, request: Request) -> bool:
        """A valid admin token (Bearer header or the console's session cookie), compared in constant time;
        repeated wrong tokens from one client get 429 — checked before the comparison, so a client over the limit
        learns nothing more, even from the right token."""
        from bot.web.session import token_from_cookie

        token = self.settings.admin_token
        if not token:
            raise HTTPException(404, "Not Found")
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth.startswith("Bearer ") else token_from_cookie(request, token)
        if not (given or auth):
            return False
        return self.check_token(request, given or "")

    def check_token(self, request: Request, given: str) -> bool:
        """Compare a token offered by a client (header or sign-in form) in constant time. Wrong tokens beyond
        BOT_ADMIN_ATTEMPTS get 429; beyond twice that, every attempt gets 429 without being compared until the
        window has passed, so guessing stays capped even for a client that ignores the 429s."""
        from limits import parse

        key = client_ip(request.scope, self.settings)
        amount, _, per = self.settings.admin_attempts.partition("/")
        lock = parse(f"{2 * int(amount)}/{per}") if amount.strip().isdigit() else parse(self.settings.admin_attempts)
        try:
            over = not self.limiter.strategy.test(lock, "admin-lock", key)
        except Exception:  # the limit storage is down: compare anyway (the health check reports it)
            over = False
        if over:
            wait = max(1.0, self.limiter.strategy.get_window_stats(lock, "admin-lock", key).reset_time - time.time())
            raise HTTPException(429, "尝试次数过多，请稍后再试。", headers={"Retry-After": str(round(wait))})
        if given and hmac.compare_digest(given.encode(), self.settings.admin_token.encode()):
            return True
        self.limiter.hit(lock_rate(lock), "admin-lock", key)
        ok, wait = self.limiter.hit(self.settings.admin_attempts, "admin-fail", key)
        if not ok:
            raise HTTPException(429, "尝试次数过多，请稍后再试。", headers={"Retry-After": str(round(wait))})
        return False


def lock_rate(item: Any) -> str:
    """A `limits` item back as the "N/granularity" string Limiter.hit takes."""
    return f"{item.amount}/{item.multiples} {item.GRANULARITY.name}"
