"""Shared fixtures: real Chroma, real embeddings, real servers on 127.0.0.1 — no mocks."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    return get_settings(index_dir=tmp_path_factory.mktemp("index"), embed_cache=cache_copy)


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
    return get_settings(corpus_dir=corpus, index_dir=tmp_path / "index", embed_cache=cache_copy)


def write_article(folder: Path, doc_id: str, title: str, body: str) -> Path:
    path = folder / f"{doc_id}.md"
    path.write_text(f"---\nid: {doc_id}\ntitle: {title}\ndate: 2026-01-01\ntags: [测试]\nsource: 本站原创\n---\n\n{body}\n",
                    encoding="utf-8")
    return path


def start_app(settings, **env_extra):
    """`python app.py` on a free port with the given index; returns (url, process) once /healthz is 200."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    env = {**os.environ, "BOT_INDEX_DIR": str(settings.index_dir), "BOT_EMBED_CACHE": str(settings.cache_path),
           "BOT_PORT": str(port), **{k: str(v) for k, v in env_extra.items()}}
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("app did not become healthy")


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except Exception:
        proc.kill()
