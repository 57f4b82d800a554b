"""Two app instances sharing one `chroma run` server, one `redis-server` and one PostgreSQL server, all started
on 127.0.0.1 by the test: both answer the same question the same way, the rate limit is shared, one log holds
both instances' answers, and an article uploaded, replaced or deleted through one instance is served by both
within a bounded time. The instances run in this process (uvicorn in threads), each with an index dir of its own."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import ADMIN, BEARER, ThreadedServer, make_app

SYNC_SECONDS = 90  # the bound: BOT_KB_POLL_SECONDS plus an incremental build, with room for a loaded machine
ARTICLE = """---
id: t950
title: 增值电信许可证年报的蓝鲸补报窗口
date: 2026-12-01
tags: [年报]
source: 本站原创
---

# 蓝鲸补报窗口

ICP证年报逾期的企业，可以在蓝鲸补报窗口补报年报。蓝鲸补报窗口每年开放两次，补报时需要提交逾期说明。
"""
QUESTION = "ICP证年报逾期了，蓝鲸补报窗口能补报吗？"


@pytest.fixture(scope="module")
def instances(bot, corpus_settings, postgres, tmp_path_factory):
    from tests.services import chroma_server, redis_server

    folder = tmp_path_factory.mktemp("multi")
    with chroma_server(folder / "chroma") as port, redis_server(folder) as redis_url:
        common = {"chroma_host": "127.0.0.1", "chroma_port": port, "database_url": postgres.database(),
                  "rate_limit_storage": redis_url, "rate_limit": "12/minute", "trust_proxy": True,
                  "admin_token": ADMIN, "kb_poll_seconds": 0.5}
        apps = [make_app(corpus_settings, index_dir=folder / f"index-{name}", **common) for name in "ab"]
        with ThreadedServer(apps[0]) as a, ThreadedServer(apps[1]) as b:
            yield [{"url": a.url, "app": apps[0]}, {"url": b.url, "app": apps[1]}]


def _post(inst, path, body, client, headers=None):
    """A POST from a client of its own (a trusted proxy's X-Forwarded-For): each test has its own quota."""
    return httpx.post(inst["url"] + path, json=body, timeout=120,
                      headers={"X-Forwarded-For": client, **(headers or {})})


def test_both_instances_answer_the_same_way_and_share_the_rate_limit(instances):
    a, b = instances
    for question in ("ICP证注册资本最低要多少？", "外资公司能办ICP证吗？股比有什么限制？"):
        one = _post(a, "/api/ask", {"question": question}, "198.51.100.1").json()
        two = _post(b, "/api/ask", {"question": question}, "198.51.100.1").json()
        assert one["answer"] == two["answer"] and one["answer_id"] != two["answer_id"]
        assert [c["chunk_id"] for c in one["citations"]] == [c["chunk_id"] for c in two["citations"]]
    for inst in instances:
        health = httpx.get(inst["url"] + "/healthz").json()
        assert health["rate_limit"]["storage"] == "redis" and health["rate_limit"]["ok"]
        assert health["log"]["ok"] and health["index"]["ready"]
    probe = {"answer_id": "0" * 32, "rating": "up"}
    codes = [_post(inst, "/api/feedback", probe, "203.0.113.9").status_code for inst in (a, b) * 6]
    assert codes == [404] * 12  # twelve requests, six on each instance: the limit is twelve in all …
    assert _post(a, "/api/feedback", probe, "203.0.113.9").status_code == 429
    r = _post(b, "/api/feedback", probe, "203.0.113.9")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # … shared, not twelve per instance
    assert _post(b, "/api/feedback", probe, "203.0.113.10").status_code == 404  # another client is not affected


def _synced(instances, seconds=SYNC_SECONDS) -> float:
    """Seconds until every instance serves the database's newest knowledge-base version."""
    started = time.time()
    while time.time() - started < seconds:
        states = [httpx.get(i["url"] + "/admin/api/status", headers=BEARER).json() for i in instances]
        if all(not s["index"]["building"] and s["index"]["kb_version"] == s["kb_version"] for s in states):
            return time.time() - started
        time.sleep(0.3)
    raise AssertionError(f"not in sync within {seconds} s: {[s['index'] for s in states]}")


def _cited(inst, client) -> list[str]:
    return [c["doc_id"] for c in _post(inst, "/api/ask", {"question": QUESTION}, client).json()["citations"]]


def test_an_article_changed_through_one_instance_is_served_by_both(instances):
    a, b = instances
    client = "198.51.100.2"
    assert "t950" not in _cited(b, client)
    up = httpx.post(a["url"] + "/admin/api/articles", files={"file": ("蓝鲸.md", ARTICLE.encode())}, headers=BEARER,
                    timeout=60)
    assert up.status_code == 202, up.text
    took = _synced(instances)
    print(f"uploaded through A, served by both after {took:.1f} s")
    assert "t950" in _cited(b, client) and "t950" in _cited(a, client), took

    new = ARTICLE.replace("每年开放两次", "每季度开放一次")
    r = httpx.put(b["url"] + "/admin/api/articles/t950", files={"file": ("蓝鲸.md", new.encode())}, headers=BEARER,
                  timeout=60)
    assert r.status_code == 202, r.text
    _synced(instances)
    for inst in instances:
        chunks = httpx.get(inst["url"] + "/admin/api/articles/t950", headers=BEARER).json()["chunks"]
        assert "每季度开放一次" in chunks[0]["text"] and "每年开放两次" not in chunks[0]["text"]

    assert httpx.delete(a["url"] + "/admin/api/articles/t950", headers=BEARER).status_code == 202
    _synced(instances)
    assert "t950" not in _cited(b, client) and "t950" not in _cited(a, client)
    assert httpx.get(b["url"] + "/admin/api/articles/t950", headers=BEARER).status_code == 404

    # one log for both: B's answers are listed by A's console
    for inst in instances:
        inst["app"].state.ctx.log.flush()
    listed = httpx.get(a["url"] + "/admin/api/conversations", params={"q": "蓝鲸", "limit": 100}, headers=BEARER)
    assert len(listed.json()["items"]) == 5  # the five questions above, asked of either instance
