"""Pages and assets: the embeddable widget script, its demo page, and a plain page per article (what citations
link to when an article has no source URL of its own)."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

from bot.web.context import Context

STATIC = Path(__file__).resolve().parent.parent / "static"


def article_html(title: str, text: str) -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
    t = html.escape(title)
    return (f"<!doctype html><html lang=zh-CN><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>{t}</title><body style='max-width:46rem;margin:2rem auto;font-family:system-ui,sans-serif;"
            f"line-height:1.7;padding:0 1rem'><h1>{t}</h1>{paras}</body></html>")


def router(ctx: Context) -> APIRouter:
    r = APIRouter()

    @r.get("/widget.js", include_in_schema=False)
    def widget() -> Response:
        return Response((STATIC / "widget.js").read_text("utf-8"), media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=300"})

    @r.get("/demo", response_class=HTMLResponse, include_in_schema=False)
    def demo_page() -> str:
        return (STATIC / "demo.html").read_text("utf-8")

    @r.get("/articles/{doc_id}", response_class=HTMLResponse, tags=["知识库"])
    def article(doc_id: str) -> str:
        """A plain page for an article that has no source URL of its own (the citation link)."""
        bot = ctx.ready_bot()
        text = bot.kb.article_text(doc_id)
        if text is None:
            raise HTTPException(404, "没有这篇文章")
        return article_html(text[0], text[1])

    return r
