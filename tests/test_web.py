"""The web app started for real on a free port, queried over HTTP and through gradio_client."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, free_port

SEED_Q = "我只做支付宝小程序，没有独立APP，需要办增值电信许可证吗？"


@pytest.fixture(scope="module")
def server(bot, corpus_settings):
    port = free_port()
    env = {**os.environ, "BOT_INDEX_DIR": str(corpus_settings.index_dir),
           "BOT_EMBED_CACHE": str(corpus_settings.cache_path), "BOT_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    status = None
    while time.time() < deadline:
        try:
            status = httpx.get(f"{url}/healthz", timeout=2).status_code
            if status == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError(f"app did not become healthy: {proc.stdout.read()}")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_page_is_served_without_other_hosts(server):
    page = httpx.get(server + "/", timeout=10)
    assert page.status_code == 200
    import re

    loaded = re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"(https?://[^\"]+)\"", page.text)
    assert not [u for u in loaded if not u.startswith(server)], loaded
    assert "googleapis" not in page.text


def test_gradio_client_gets_a_cited_answer(server):
    from gradio_client import Client

    client = Client(server + "/", verbose=False)
    history, box = client.predict(SEED_Q, [], api_name="/respond")
    assert box == ""
    from bot.ui import message_text

    texts = [message_text(m["content"]) for m in history]
    assert texts[0] == SEED_Q
    answer = texts[1]
    assert "[1]" in answer and "不构成法律意见" in answer
    sources = history[-1]
    assert "来源" in sources["metadata"]["title"] and "经营性" in message_text(sources["content"])


def test_html_in_the_question_is_shown_as_text(server):
    from gradio_client import Client

    client = Client(server + "/", verbose=False)
    q = "<img src=x onerror=alert(1)> ICP证有效期几年？"
    history, _ = client.predict(q, [], api_name="/respond")
    from bot.ui import message_text

    assert message_text(history[0]["content"]).startswith("&lt;img src=x onerror=alert(1)&gt;")
    assert "<img" not in "".join(message_text(m["content"]) for m in history)


def test_article_page_and_health(server):
    assert httpx.get(server + "/healthz").json() == {"status": "ok"}
    page = httpx.get(server + "/articles/c005", timeout=10)
    assert page.status_code == 200 and "经营性" in page.text
    assert httpx.get(server + "/articles/nope").status_code == 404
