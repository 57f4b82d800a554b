"""Shared fixtures: real Chroma, real embeddings, real databases and servers on 127.0.0.1 — no mocks. Most
tests run in process (Starlette's TestClient, Typer's CliRunner, uvicorn in a thread); one subprocess smoke
test per entry point stays in test_entrypoints.py."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ARTIFACTS = ROOT / "test-artifacts"
DEV = SHARED / "eval" / "dev.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def cache_copy(tmp_path_factory) -> Path:
    """A private copy of the committed embedding cache: tests reuse its vectors without writing to it."""
    dst = tmp_path_factory.mktemp("cache") / "embed_cache.sqlite"
    src = ROOT / "index" / "embed_cache.sqlite"
    if src.exists():
        shutil.copy(src, dst)
    return dst


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory, cache_copy):
    from bot.settings import get_settings

    data = tmp_path_factory.mktemp("data")
    return get_settings(index_dir=tmp_path_factory.mktemp("index"), embed_cache=cache_copy,
                        database_url=f"sqlite:///{data}/bot.sqlite")


@pytest.fixture(scope="session")
def bot(corpus_settings):
    """The bot over the real corpus, in a temporary index built from the cached vectors."""
    from bot.chat import Bot

    return Bot(corpus_settings)


@pytest.fixture
def small_settings(tmp_path, cache_copy):
    """A tiny corpus of its own, for indexing tests."""
    from bot.settings import get_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return get_settings(corpus_dir=corpus, index_dir=tmp_path / "index", embed_cache=cache_copy,
                        database_url=f"sqlite:///{tmp_path}/bot.sqlite")


def write_article(folder: Path, doc_id: str, title: str, body: str) -> Path:
    path = folder / f"{doc_id}.md"
    head = f"---\nid: {doc_id}\ntitle: {title}\ndate: 2026-01-01\ntags: [测试]\nsource: 本站原创\n---\n\n"
    path.write_text(f"{head}{body}\n", encoding="utf-8")
    return path


def make_app(settings: Any, **overrides: Any) -> Any:
    """The web app in process, its index loaded before it returns."""
    from bot.web import create_app

    return create_app(settings.model_copy(update=overrides), background=False)


@pytest.fixture(scope="session")
def client(bot, corpus_settings):
    """An in-process client of the app over the real corpus (CORS for http://allowed.example)."""
    from starlette.testclient import TestClient

    app = make_app(corpus_settings, cors_origins=ALLOWED, rate_limit="10000/minute")
    with TestClient(app, base_url="http://127.0.0.1:7860") as c:
        yield c


ALLOWED = "http://allowed.example"


class ThreadedServer:
    """uvicorn serving an app from a thread of the test process, on a free port of 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    proxy_headers=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="session")
def live(bot, corpus_settings):
    """The app over HTTP on 127.0.0.1 (for Gradio's client and the browser)."""
    app = make_app(corpus_settings, cors_origins=ALLOWED, rate_limit="10000/minute")
    with ThreadedServer(app) as server:
        yield server


def start_app(settings: Any, **env_extra: Any) -> tuple[str, Any]:
    """`python app.py` as its own process (entry-point smoke test, several instances); returns (url, process)
    once /healthz is 200."""
    import subprocess
    import sys

    import httpx

    port = free_port()
    env = {**os.environ, "BOT_INDEX_DIR": str(settings.index_dir), "BOT_EMBED_CACHE": str(settings.cache_path),
           "BOT_DATABASE_URL": settings.database_url, "BOT_PORT": str(port),
           **{k: str(v) for k, v in env_extra.items()}}
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"app exited: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("app did not become healthy")


def stop(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except Exception:
        proc.kill()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (nothing downloaded)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh desktop page; dialogs (alert) are recorded and dismissed, requests are recorded."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    pg = ctx.new_page()
    pg.dialogs = []
    pg.requests, pg.blocked = [], []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("requestfailed", lambda r: pg.blocked.append((r.url, r.failure)))
    yield pg
    ctx.close()


# -- the conversation log, the console and several instances (tests/test_db.py, test_console.py, test_multi.py) --

@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """One PostgreSQL server for the session (Debian's package, started on 127.0.0.1); tests take a fresh
    database each with `postgres.database()`."""
    from tests.services import Postgres

    pg = Postgres(tmp_path_factory.mktemp("pg"))
    pg.start()
    yield pg
    pg.remove()


ADMIN = "console-token-1234"
BEARER = {"Authorization": f"Bearer {ADMIN}"}


def own_index(settings: Any, folder: Path) -> Any:
    """Settings with a copy of the session's built index (an app that changes articles must not touch it)."""
    shutil.copytree(settings.index_dir, folder, ignore=shutil.ignore_patterns("*.lock", "kb_articles"))
    return settings.model_copy(update={"index_dir": folder})
