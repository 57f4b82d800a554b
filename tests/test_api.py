"""The HTTP API on a real server: /api/ask, /api/chat (SSE), /v1/chat/completions (official openai
client), health, CORS, rate limiting, size limits and the admin route."""

from __future__ import annotations

import json
import shutil
import time

import httpx
import pytest

from tests.conftest import free_port, start_app, stop

SEED_Q = "我只做支付宝小程序，没有独立APP，需要办增值电信许可证吗？"
ALLOWED = "http://allowed.example"


@pytest.fixture(scope="module")
def server(bot, corpus_settings):
    url, proc = start_app(corpus_settings, BOT_CORS_ORIGINS=ALLOWED, BOT_RATE_LIMIT="1000/minute",
                          BOT_API_KEYS="", BOT_ADMIN_TOKEN="")
    yield url
    stop(proc)


def test_api_ask_returns_the_cli_object(server):
    r = httpx.post(server + "/api/ask", json={"question": SEED_Q}, timeout=60)
    assert r.status_code == 200
    obj = r.json()
    assert set(obj) == {"question", "answer", "citations", "refused", "confidence", "latency_ms"}
    assert any(c["doc_id"] == "seed-e7ffb928f09af7ca" for c in obj["citations"])


def test_api_ask_with_turns_and_bad_input(server):
    r = httpx.post(server + "/api/ask", json={"question": "它属于第几类增值电信业务？",
                                              "turns": ["IDC是什么业务？", "它属于第几类增值电信业务？"]}, timeout=60)
    assert "第一类" in r.json()["answer"]
    r = httpx.post(server + "/api/ask", json={"question": "   "}, timeout=60)
    assert r.status_code == 400 and "问题为空" in r.json()["detail"]
    r = httpx.post(server + "/api/ask", json={"nope": 1}, timeout=60)
    assert r.status_code == 422


def test_api_chat_streams_sse(server):
    events = []
    with httpx.stream("POST", server + "/api/chat", json={"question": SEED_Q}, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for block in r.read().decode().split("\n\n"):
            if block.strip():
                name = block.split("\n")[0].removeprefix("event: ")
                data = json.loads(block.split("\n")[1].removeprefix("data: "))
                events.append((name, data))
    names = [n for n, _ in events]
    assert names.count("delta") > 2 and names[-2:] == ["citations", "done"]
    text = "".join(d["text"] for n, d in events if n == "delta")
    assert text == events[-1][1]["answer"]["answer"]


def test_openai_client_non_streaming_and_streaming(server):
    from openai import OpenAI

    client = OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)
    res = client.chat.completions.create(model="anything", messages=[{"role": "user", "content": SEED_Q}])
    text = res.choices[0].message.content
    assert "[1]" in text and "来源：\n[1]" in text
    extra = res.model_extra or {}
    assert extra["citations"] and extra["citations"][0]["n"] == 1
    parts, citations = [], None
    for chunk in client.chat.completions.create(model="x", messages=[{"role": "user", "content": SEED_Q}], stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if (chunk.model_extra or {}).get("citations"):
            citations = chunk.model_extra["citations"]
    streamed = "".join(parts)
    assert "[1]" in streamed and "来源：" in streamed and citations


def test_cors_allows_only_configured_origins(server):
    ok = httpx.post(server + "/api/ask", json={"question": "ICP证有效期几年？"}, headers={"Origin": ALLOWED}, timeout=60)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
    bad = httpx.post(server + "/api/ask", json={"question": "ICP证有效期几年？"},
                     headers={"Origin": "http://evil.example"}, timeout=60)
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers
    pre = httpx.options(server + "/api/chat", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ALLOWED


def test_size_limit_and_admin_route(server):
    r = httpx.post(server + "/api/ask", content=json.dumps({"question": "问" * 40000}).encode(),
                   headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413 and "过大" in r.json()["detail"]
    assert httpx.post(server + "/admin/reindex").status_code == 404
    assert "/admin/reindex" not in httpx.get(server + "/openapi.json").text
    assert httpx.get(server + "/docs").status_code == 200


def test_rate_limit_and_keys(bot, corpus_settings):
    url, proc = start_app(corpus_settings, BOT_RATE_LIMIT="3/minute", BOT_API_KEYS="k1,k2", BOT_ADMIN_TOKEN="s3cret")
    try:
        codes = [httpx.post(url + "/api/ask", json={"question": "ICP证有效期几年？"}, timeout=60).status_code
                 for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        r = httpx.post(url + "/api/ask", json={"question": "x"}, timeout=60)
        assert r.json()["detail"] == "请求过于频繁，请稍后再试。" and int(r.headers["retry-after"]) >= 1
        assert httpx.post(url + "/admin/reindex", headers={"Authorization": "Bearer wrong"}).status_code in (403, 429)
    finally:
        stop(proc)


def test_v1_requires_a_key_when_keys_are_configured(bot, corpus_settings):
    url, proc = start_app(corpus_settings, BOT_API_KEYS="k1")
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": "ICP证有效期几年？"}]}
        assert httpx.post(url + "/v1/chat/completions", json=body, timeout=60).status_code == 401
        r = httpx.post(url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer k1"}, timeout=60)
        assert r.status_code == 200 and "5年" in r.json()["choices"][0]["message"]["content"]
        r = httpx.post(url + "/admin/reindex", headers={"Authorization": "Bearer k1"})
        assert r.status_code == 404  # no admin token configured: the route does not exist
    finally:
        stop(proc)


def test_health_is_503_while_the_index_builds(corpus_settings, tmp_path):
    """A fresh index dir: the server answers 503 until its background build is done, then 200."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    cache = tmp_path / "cache.sqlite"
    shutil.copy(corpus_settings.cache_path, cache)
    port = free_port()
    env = {**os.environ, "BOT_INDEX_DIR": str(tmp_path / "index"), "BOT_EMBED_CACHE": str(cache), "BOT_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    seen = []
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            try:
                seen.append(httpx.get(url + "/healthz", timeout=2).status_code)
            except httpx.HTTPError:
                pass
            if seen and seen[-1] == 200:
                break
            time.sleep(0.1)
        assert 503 in seen and seen[-1] == 200, seen[-5:]
        r = httpx.post(url + "/api/ask", json={"question": "ICP证有效期几年？"}, timeout=60)
        assert r.status_code == 200
    finally:
        stop(proc)
