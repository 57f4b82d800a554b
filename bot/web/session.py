"""The admin console's session: after signing in with the token, an HttpOnly, SameSite=Strict cookie that carries
a signed timestamp (no server-side state; it expires, and changing the token ends every session)."""

from __future__ import annotations

import hashlib
import hmac
import time

from fastapi import Request
from fastapi.responses import Response

COOKIE = "bot_admin"
MAX_AGE = 12 * 3600


def _sign(token: str, issued: str) -> str:
    return hmac.new(token.encode(), f"admin:{issued}".encode(), hashlib.sha256).hexdigest()


def set_session(response: Response, token: str, secure: bool) -> None:
    issued = str(int(time.time()))
    response.set_cookie(COOKIE, f"{issued}.{_sign(token, issued)}", max_age=MAX_AGE, httponly=True,
                        samesite="strict", secure=secure, path="/admin")


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/admin")


def token_from_cookie(request: Request, token: str) -> str | None:
    """The admin token, when the request carries a valid, unexpired session cookie."""
    value = request.cookies.get(COOKIE, "")
    issued, _, mac = value.partition(".")
    if not issued.isdigit() or time.time() - int(issued) > MAX_AGE:
        return None
    return token if hmac.compare_digest(mac, _sign(token, issued)) else None
