"""The HTTP API in process (Starlette's TestClient over the real corpus): /api/ask, /api/chat (SSE),
/v1/chat/completions (with the official openai client over a real socket), health, and the guard in front of
every route — origins, rate limits (Gradio's routes included), body size (chunked bodies included), keys,
admin tokens, wrong methods — plus every bad input of the security review as a clear 4xx."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from tests.conftest import ALLOWED, ThreadedServer, make_app

SEED_Q = "我只做支付宝小程序，没有独立APP，需要办增值电信许可证吗？"
KEYS = {"question", "answer", "citations", "refused", "confidence", "latency_ms", "suggestions", "answer_id"}


def _sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        if block.strip():
            name = block.split("\n")[0].removeprefix("event: ")
            events.append((name, json.loads(block.split("\n")[1].removeprefix("data: "))))
    return events


def test_api_ask_returns_the_cli_object_with_an_answer_id(client):
    r = client.post("/api/ask", json={"question": SEED_Q})
    assert r.status_code == 200
    obj = r.json()
    assert set(obj) == KEYS and len(obj["answer_id"]) == 32 and obj["suggestions"]
    assert any(c["doc_id"] == "c006" for c in obj["citations"])


def test_api_ask_with_turns(client):
    r = client.post("/api/ask", json={"question": "它属于第几类增值电信业务？",
                                      "turns": ["IDC是什么业务？", "它属于第几类增值电信业务？"]})
    assert "第一类" in r.json()["answer"]


def test_api_chat_streams_sse_and_done_carries_the_answer_id(client):
    with client.stream("POST", "/api/chat", json={"question": SEED_Q}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.read().decode())
    names = [n for n, _ in events]
    assert names.count("delta") > 2 and names[-2:] == ["citations", "done"]
    text = "".join(d["text"] for n, d in events if n == "delta")
    done = events[-1][1]
    assert text == done["answer"]["answer"] and done["answer_id"] == done["answer"]["answer_id"]
    assert done["suggestions"]


def test_openai_client_non_streaming_and_streaming(live):
    from openai import OpenAI

    client = OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0)
    res = client.chat.completions.create(model="anything", messages=[{"role": "user", "content": SEED_Q}])
    text = res.choices[0].message.content
    assert "[1]" in text and "来源：\n[1]" in text and res.id.startswith("chatcmpl-")
    extra = res.model_extra or {}
    assert extra["citations"] and extra["citations"][0]["n"] == 1
    parts, citations, ids = [], None, set()
    for chunk in client.chat.completions.create(model="x", messages=[{"role": "user", "content": SEED_Q}], stream=True):
        ids.add(chunk.id)
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if (chunk.model_extra or {}).get("citations"):
            citations = chunk.model_extra["citations"]
    assert "[1]" in "".join(parts) and "来源：" in "".join(parts) and citations
    assert len(ids) == 1  # one completion id across the chunks: the logged answer's


def test_cors_allows_only_configured_origins(client):
    ok = client.post("/api/ask", json={"question": "ICP证有效期几年？"}, headers={"Origin": ALLOWED})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
    bad = client.post("/api/ask", json={"question": "ICP证有效期几年？"}, headers={"Origin": "http://evil.example"})
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers
    same = client.post("/api/ask", json={"question": "ICP证有效期几年？"}, headers={"Origin": "http://127.0.0.1:7860"})
    assert same.status_code == 200
    pre = client.options("/api/chat", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ALLOWED


def test_gradio_routes_are_behind_the_guard(client):
    """The review's first finding: a foreign origin called the page's endpoints and got full answers."""
    r = client.post("/gradio_api/call/respond", json={"data": [SEED_Q, [], {}]}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    big = client.post("/gradio_api/call/respond", content=b"{" + b" " * 70000 + b"}",
                      headers={"Content-Type": "application/json"})
    assert big.status_code == 413


def _chunks(size: int, piece: int = 8192):
    sent = 0
    while sent < size:
        yield b" " * min(piece, size - sent)
        sent += piece


def test_body_limit_holds_for_chunked_bodies(client):
    """The review's second finding: Transfer-Encoding: chunked bypassed BOT_MAX_BODY_BYTES."""
    body = _chunks(1_000_000)
    r = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "过大" in r.json()["detail"]
    r = client.post("/api/ask", content=json.dumps({"question": "问" * 40000}).encode(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_health_detail_and_docs_offline(client):
    h = client.get("/healthz")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    assert h.json()["index"]["chunks"] > 700 and h.json()["index"]["building"] is False
    assert h.json()["log"]["ok"] is True
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static-offline-docs/swagger-ui-bundle.js" in docs.text
    assert "cdn.jsdelivr" not in docs.text and client.get("/redoc").status_code == 200
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_security_headers_on_html(client):
    page = client.get("/demo")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert client.get("/widget.js").headers["x-content-type-options"] == "nosniff"


# -- every bad input a clear 4xx -------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}
BAD = [
    ("ask empty body", "POST", "/api/ask", b"", 422, ""),
    ("ask not json", "POST", "/api/ask", b"{not json", 422, ""),
    ("ask binary", "POST", "/api/ask", bytes(range(256)), 422, ""),
    ("ask no question", "POST", "/api/ask", {"nope": 1}, 422, ""),
    ("ask number", "POST", "/api/ask", {"question": 123}, 422, ""),
    ("ask null", "POST", "/api/ask", {"question": None}, 422, ""),
    ("ask list", "POST", "/api/ask", {"question": ["a"]}, 422, ""),
    ("ask empty", "POST", "/api/ask", {"question": ""}, 400, "问题为空"),
    ("ask blank", "POST", "/api/ask", {"question": " \n\t "}, 400, "问题为空"),
    ("ask punctuation", "POST", "/api/ask", {"question": "？？？！！"}, 400, "没有识别到文字"),
    ("ask controls", "POST", "/api/ask", {"question": "\x00\x01\x02"}, 400, "问题为空"),
    ("ask lone surrogate", "POST", "/api/ask", b'{"question": "\\ud800"}', 400, "问题为空"),
    ("ask turns not list", "POST", "/api/ask", {"question": "ICP证有效期几年？", "turns": "x"}, 422, ""),
    ("ask turns numbers", "POST", "/api/ask", {"question": "ICP证有效期几年？", "turns": [1, 2]}, 422, ""),
    ("ask GET", "GET", "/api/ask", None, 405, "方法"),
    ("ask PUT", "PUT", "/api/ask", {"question": "x"}, 405, "方法"),
    ("ask text/plain", "POST", "/api/ask", "question", 422, ""),
    ("chat empty", "POST", "/api/chat", {"question": " "}, 400, "问题为空"),
    ("chat number", "POST", "/api/chat", {"question": 5}, 422, ""),
    ("chat GET", "GET", "/api/chat", None, 405, "方法"),
    ("reply empty", "POST", "/api/reply", {"message": ""}, 400, "问题为空"),
    ("reply number", "POST", "/api/reply", {"message": 1}, 422, ""),
    ("reply bad tone", "POST", "/api/reply", {"message": "ICP证有效期几年？", "tone": "奇怪"}, 422, ""),
    ("reply GET", "GET", "/api/reply", None, 405, "方法"),
    ("assess blank", "POST", "/api/assess", {"description": "   "}, 400, "描述"),
    ("assess capital text", "POST", "/api/assess", {"capital_wan": "很多"}, 422, ""),
    ("assess channels text", "POST", "/api/assess", {"channels": "网站"}, 422, ""),
    ("feedback unknown", "POST", "/api/feedback", {"answer_id": "0" * 32, "rating": "up"}, 404, "没有这条回答"),
    ("feedback bad rating", "POST", "/api/feedback", {"answer_id": "x", "rating": "meh"}, 422, ""),
    (
        "feedback long comment",
        "POST",
        "/api/feedback",
        {"answer_id": "x", "rating": "up", "comment": "长" * 3000},
        422,
        "",
    ),
    ("v1 no messages", "POST", "/v1/chat/completions", {"model": "m"}, 400, "请求格式不正确"),
    ("v1 messages text", "POST", "/v1/chat/completions", {"messages": "hi"}, 400, "请求格式不正确"),
    (
        "v1 only assistant",
        "POST",
        "/v1/chat/completions",
        {"messages": [{"role": "assistant", "content": "x"}]},
        400,
        "没有用户提问",
    ),
    (
        "v1 part text number",
        "POST",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": 123}]}]},
        400,
        "必须是字符串",
    ),
    (
        "v1 part text null",
        "POST",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
        400,
        "必须是字符串",
    ),
    (
        "v1 part text list",
        "POST",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": ["a"]}]}]},
        400,
        "必须是字符串",
    ),
    ("v1 content number", "POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": 7}]}, 400, ""),
    (
        "v1 empty question",
        "POST",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "  "}]},
        400,
        "问题为空",
    ),
    ("v1 not json", "POST", "/v1/chat/completions", b"[[[", 400, "JSON"),
    ("v1 GET", "GET", "/v1/chat/completions", None, 405, "方法"),
    ("admin without token configured", "POST", "/admin/reindex", None, 404, ""),
    ("article unknown", "GET", "/articles/nope", None, 404, "没有这篇文章"),
]


@pytest.mark.parametrize("name,method,path,body,status,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_clear_4xx(client, caplog, name, method, path, body, status, message):
    kwargs: dict = {}
    if isinstance(body, dict):
        kwargs["json"] = body
    elif isinstance(body, bytes):
        kwargs = {"content": body, "headers": JSON}
    elif isinstance(body, str):
        kwargs = {"content": body.encode(), "headers": {"Content-Type": "text/plain"}}
    with caplog.at_level(logging.ERROR):
        r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    text = r.text
    assert message in text, text
    assert "Traceback" not in text and not [rec for rec in caplog.records if rec.exc_info]
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("path,body,field", [
    ("/api/ask", b'{"question": "ICP\\u8bc1\\ud800\\u6709\\u6548\\u671f\\u51e0\\u5e74\\uff1f"}', "answer"),
    ("/api/reply", b'{"message": "ICP\\u8bc1\\ud800\\u6709\\u6548\\u671f\\u51e0\\u5e74\\uff1f"}', "reply"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "ICP\\u8bc1\\ud800\\u6709\\u6548\\u671f"}]}',
     "choices"),
])
def test_a_lone_surrogate_is_cleaned_at_the_boundary(client, path, body, field):
    """The review's third finding: "ICP证\\ud800有效期几年？" gave 500 (opencc) on three routes."""
    r = client.post(path, content=body, headers=JSON)
    assert r.status_code == 200 and field in r.json()
    assert "5年" in r.text


def test_chat_stream_with_a_surrogate_is_not_empty(client):
    with client.stream("POST", "/api/chat", content=b'{"question": "ICP\\u8bc1\\ud800\\u6709\\u6548\\u671f"}',
                       headers=JSON) as r:
        events = _sse(r.read().decode())
    assert any(n == "delta" for n, _ in events) and events[-1][0] == "done"


def test_a_huge_question_is_cut_and_not_echoed_whole(client):
    r = client.post(
        "/api/ask", json={"question": "我们公司在杭州，注册资本500万。" * 1500 + "ICP证注册资本最低要多少？"}
    )
    assert r.status_code == 413  # over BOT_MAX_BODY_BYTES
    text = ("我们公司在杭州，注册资本500万，客户遍布全国。" * 170) + "ICP证注册资本最低要多少？"
    r = client.post("/api/ask", json={"question": text})
    assert r.status_code == 200 and "只处理了前" in r.json()["answer"]
    assert len(r.json()["question"]) <= 4000


# -- limits, keys, tokens, proxies: each in an app of its own --------------------------------------------

def test_rate_limit_holds_on_every_route_and_says_when_to_retry(corpus_settings):
    app = make_app(corpus_settings, rate_limit="3/minute")
    with TestClient(app) as c:
        codes = [c.post("/api/ask", json={"question": "ICP证有效期几年？"}).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = c.post("/api/ask", json={"question": "x"})
        assert r.status_code == 429 and r.json()["detail"] == "请求过于频繁，请稍后再试。"
        assert int(r.headers["retry-after"]) >= 1
        assert c.post("/gradio_api/call/respond", json={"data": ["ICP证有效期几年？", [], {}]}).status_code == 429
        assert c.post("/v1/chat/completions", json={"messages": []}).status_code == 429
        assert c.get("/healthz").status_code == 200  # reading is not limited


def test_keys_are_checked_before_the_body(corpus_settings):
    app = make_app(corpus_settings, api_keys="k1,k2", rate_limit="1000/minute")
    with TestClient(app) as c:
        body = {"model": "m", "messages": [{"role": "user", "content": "ICP证有效期几年？"}]}
        assert c.post("/v1/chat/completions", json=body).status_code == 401
        assert c.post("/v1/chat/completions", content=b"garbage", headers=JSON).status_code == 401
        assert c.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
        for key in ("k1", "k2"):
            r = c.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200 and "5年" in r.json()["choices"][0]["message"]["content"]


def test_admin_token_is_compared_safely_and_guessing_is_limited(corpus_settings):
    app = make_app(corpus_settings, admin_token="s3cret-token", admin_attempts="3/minute", rate_limit="1000/minute")
    with TestClient(app) as c:
        assert c.post("/admin/reindex").status_code == 403
        codes = [c.post("/admin/reindex", headers={"Authorization": f"Bearer wrong{i}"}).status_code for i in range(4)]
        assert codes == [403, 403, 403, 429]
        r = c.post("/admin/reindex", headers={"Authorization": "Bearer s3cret-token"})
        assert r.status_code in (202, 409)


def test_forwarded_for_is_ignored_unless_a_trusted_proxy_sends_it(corpus_settings):
    """The review's fifth finding: X-Forwarded-For decided the rate-limit key even with BOT_TRUST_PROXY unset."""
    from bot.web.guard import client_ip

    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"6.6.6.6, 10.0.0.9")]}
    plain = corpus_settings.model_copy(update={"trust_proxy": False})
    trusting = corpus_settings.model_copy(update={"trust_proxy": True, "trusted_proxies": "127.0.0.1,10.0.0.9"})
    assert client_ip(scope, plain) == "127.0.0.1"
    assert client_ip(scope, trusting) == "6.6.6.6"  # right-most hop that is not a trusted proxy
    spoofed = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"1.1.1.1, 2.2.2.2")]}
    assert client_ip(spoofed, trusting) == "2.2.2.2"  # the client's own left-most entries are not believed
    stranger = {"client": ("8.8.8.8", 5000), "headers": [(b"x-forwarded-for", b"1.1.1.1")]}
    assert client_ip(stranger, trusting) == "8.8.8.8"
    app = make_app(corpus_settings, rate_limit="2/minute")
    with TestClient(app) as c:
        for i in range(2):
            c.post("/api/ask", json={"question": "ICP证有效期几年？"}, headers={"X-Forwarded-For": f"9.9.9.{i}"})
        r = c.post("/api/ask", json={"question": "ICP证有效期几年？"}, headers={"X-Forwarded-For": "9.9.9.99"})
        assert r.status_code == 429  # a forged header does not buy a fresh quota


def test_health_stays_up_while_reindexing(corpus_settings, tmp_path):
    """The review's sixth finding: /healthz said 503 during every re-index while answers kept working."""
    import shutil
    import time

    index = tmp_path / "index"
    shutil.copytree(corpus_settings.index_dir, index)
    app = make_app(corpus_settings, index_dir=index, admin_token="t", rate_limit="1000/minute")
    with TestClient(app) as c:
        assert c.post("/admin/reindex", headers={"Authorization": "Bearer t"}).status_code == 202
        seen = set()
        deadline = time.time() + 60
        while time.time() < deadline:
            h = c.get("/healthz")
            seen.add((h.status_code, h.json()["index"]["building"]))
            assert c.post("/api/ask", json={"question": "ICP证有效期几年？"}).status_code == 200
            if not h.json()["index"]["building"]:
                break
        assert {code for code, _ in seen} == {200}


def test_wrong_method_is_405_with_allow(client):
    r = client.get("/api/ask")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_one_threaded_server_serves_real_http(bot, corpus_settings):
    import httpx

    with ThreadedServer(make_app(corpus_settings, rate_limit="1000/minute")) as server:
        assert httpx.get(server.url + "/healthz").status_code == 200


def test_a_body_that_never_arrives_gets_408_and_the_server_stays_up(corpus_settings):
    """Slow-loris: headers promise 100 bytes, 10 arrive, then nothing; BOT_BODY_TIMEOUT ends the wait."""
    import socket
    import time

    import httpx

    app = make_app(corpus_settings, body_timeout=1.0, rate_limit="1000/minute")
    with ThreadedServer(app) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"question")
            started = time.monotonic()
            reply = s.recv(4096).decode("utf-8", "replace")
            waited = time.monotonic() - started
        assert reply.startswith("HTTP/1.1 408") and "请求发送超时" in reply, reply[:200]
        assert waited < 5
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
