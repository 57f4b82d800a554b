"""The web app: FastAPI with the Gradio page at `/`, health check and article pages, on one port."""

from __future__ import annotations

import html
import logging
import os
import threading

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import gradio as gr
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse

from bot.settings import Settings, get_settings
from bot.ui import build_ui, theme

log = logging.getLogger("bot.web")


class BotHolder:
    """Builds the index in the background and hands out the Bot once questions can be answered."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bot = None
        self.error: str | None = None
        self._lock = threading.Lock()

    def start(self, background: bool = True) -> None:
        if background:
            threading.Thread(target=self._load, name="index-builder", daemon=True).start()
        else:
            self._load()

    def _load(self) -> None:
        from bot.chat import Bot
        from bot.index import build_index

        try:
            report = build_index(self.settings)
            log.warning("索引就绪：%s", report.summary().splitlines()[0])
            bot = Bot(self.settings, build=False)
            with self._lock:
                self.bot = bot
        except Exception as exc:  # shown by /healthz; the page says the index is not ready
            log.exception("index build failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def get(self):
        with self._lock:
            return self.bot


def create_app(settings: Settings | None = None, background: bool = True) -> FastAPI:
    settings = settings or get_settings()
    holder = BotHolder(settings)
    api = FastAPI(title="增值电信许可问答 API", version="0.1.0")
    api.state.holder = holder

    @api.get("/healthz")
    def healthz():
        if holder.get() is None:
            body = {"status": "indexing" if holder.error is None else "error", "error": holder.error}
            return JSONResponse(body, status_code=503)
        return {"status": "ok"}

    @api.get("/articles/{doc_id}", response_class=HTMLResponse)
    def article(doc_id: str):
        """A plain page for an article that has no source URL of its own (the citation link)."""
        bot = holder.get()
        if bot is None:
            raise HTTPException(503, "索引正在建立")
        chunks = sorted((c for c in bot.kb.chunks.values() if c.doc_id == doc_id), key=lambda c: c.position)
        if not chunks:
            raise HTTPException(404, "没有这篇文章")
        from bot.ingest import load
        from pathlib import Path

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
