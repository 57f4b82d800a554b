"""The conversation log on real databases: a SQLite file and a PostgreSQL server started on 127.0.0.1 —
every surface logged, feedback attached, retention and privacy, data kept across a restart, and a locked or
stopped database that costs the log entry, never the answer."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import ALLOWED, BEARER, ThreadedServer, make_app

ADMIN = BEARER["Authorization"].removeprefix("Bearer ")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/bot.sqlite"
    return request.getfixturevalue("postgres").database()


def _store(url: str, **kw):
    from bot.db import Store

    return Store(url, **kw)


def _entry(question: str, **kw):
    from bot.db import Entry, new_id

    base = dict(surface="api", answer="答：5年。[1]", refused=False, confidence=0.9, latency_ms=12.0,
                citations=[{"n": 1, "doc_id": "a042", "title": "有效期", "chunk_id": "a042#0", "text": "全文"}])
    base.update(kw)
    return Entry(new_id(), question=question, **base)


# -- the store ---------------------------------------------------------------------------------------------

def test_schema_is_migrated_and_the_log_round_trips(db_url):
    from sqlalchemy import text

    from bot.db import Filters

    store = _store(db_url)
    a, b, c = _entry("ICP证有效期几年？"), _entry("今天天气怎么样", refused=True, confidence=0.0, citations=[]), \
        _entry("卫星电视接收要什么许可", confidence=0.3, surface="widget", origin="https://site.example")
    store.write([a, b, c])
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
    assert store.feedback(a.id, "up", None) and store.feedback(a.id, "down", "数字不对")  # the latest rating counts
    assert not store.feedback("0" * 32, "up", None)
    items = store.conversations(Filters())
    assert [i["answer_id"] for i in items] == [c.id, b.id, a.id]  # newest first
    assert set(items[0]) == {"answer_id", "question", "answer", "refused", "confidence", "surface", "created_at",
                             "feedback"}
    assert [i["answer_id"] for i in store.conversations(Filters(rating="down"))] == [a.id]
    assert store.conversations(Filters(rating="down"))[0]["feedback"] == {"rating": "down", "comment": "数字不对"}
    assert [i["answer_id"] for i in store.conversations(Filters(refused=True))] == [b.id]
    assert [i["answer_id"] for i in store.conversations(Filters(low=True))] == [c.id]
    assert [i["answer_id"] for i in store.conversations(Filters(surface="widget"))] == [c.id]
    assert [i["answer_id"] for i in store.conversations(Filters(q="卫星"))] == [c.id]
    assert store.conversations(Filters(q="100%_")) == []  # LIKE wildcards in a search are literal
    tomorrow = datetime.now(store.tz).date() + timedelta(days=1)
    assert store.conversations(Filters(since=tomorrow)) == []
    full = store.conversation(c.id)
    assert full["origin"] == "https://site.example" and full["citations"][0]["doc_id"] == "a042"
    assert "text" not in full["citations"][0]  # the log keeps references, not the quoted chunk
    stats = store.stats(7)
    assert stats["total"] == 3 and stats["refused"] == 1 and stats["down"] == 1 and stats["rated"] == 1
    assert stats["per_day"][-1]["count"] == 3 and len(stats["per_day"]) == 7
    assert {t["topic"] for t in stats["topics"]} >= {"ICP证"}
    assert store.kb_version() == 0
    assert store.put_article("x.md", b"# x") == 1 and store.put_articles({"x.md": None}) == 2


def test_retention_deletes_old_answers_and_their_feedback(db_url):
    from sqlalchemy import func, select

    from bot.db import FeedbackRow

    store = _store(db_url, retention_days=30)
    old = _entry("去年的问题", created_at=datetime.now(UTC) - timedelta(days=40))
    store.retention_days = 0
    store.write([old])
    store.feedback(old.id, "down", None)
    store.retention_days = 30
    recent = _entry("今天的问题")
    store.write([recent])  # every write also deletes what is past the retention period
    assert not store.exists(old.id) and store.exists(recent.id)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(FeedbackRow)) == 0


# -- every surface, through a real server ----------------------------------------------------------------------

def _sse(lines):
    event, out = None, []
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            out.append((event, line[6:]))
    return out


def test_every_surface_is_logged_and_kept_across_a_restart(bot, corpus_settings, db_url):
    from gradio_client import Client

    settings = corpus_settings.model_copy(update={"database_url": db_url})
    app = make_app(settings, cors_origins=ALLOWED, rate_limit="1000/minute", admin_token=ADMIN)
    ids: dict[str, str] = {}
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=120) as c:
        r = c.post("/api/ask", json={"question": "那跨省呢？", "turns": ["ICP证注册资本最低要多少？", "那跨省呢？"]})
        ids["api"] = r.json()["answer_id"]
        with c.stream("POST", "/api/chat", json={"question": "ICP证有效期几年？"}) as s:
            done = [json.loads(d) for e, d in _sse(s.iter_lines()) if e == "done"][0]
        ids["chat"] = done["answer_id"]
        with c.stream("POST", "/api/chat", json={"question": "EDI证是什么？"},
                      headers={"X-Bot-Surface": "widget", "Origin": ALLOWED}) as s:
            ids["widget"] = [json.loads(d) for e, d in _sse(s.iter_lines()) if e == "done"][0]["answer_id"]
        body = {"model": "x", "messages": [{"role": "user", "content": "IDC是什么业务？"}]}
        ids["v1"] = c.post("/v1/chat/completions", json=body).json()["id"].removeprefix("chatcmpl-")
        with c.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as s:
            chunks = [json.loads(line[6:]) for line in s.iter_lines() if line.startswith("data: {")]
        first = chunks[0]
        ids["v1-stream"] = first["id"].removeprefix("chatcmpl-")
        ids["reply"] = c.post("/api/reply", json={"message": "您好，请问ICP证有效期几年？"}).json()["answer_id"]
        assessed = c.post("/api/assess", json={"description": "杭州的SaaS公司，做商家入驻平台"})
        ids["assess"] = assessed.json()["answer_id"]
        Client(server.url + "/", verbose=False).predict("CDN是什么业务？", [], api_name="/respond")
        rated = c.post("/api/feedback", json={"answer_id": ids["api"], "rating": "down", "comment": "没说清"})
        assert rated.json() == {"ok": True}
        assert c.post("/api/feedback", json={"answer_id": "f" * 32, "rating": "up"}).status_code == 404
        app.state.ctx.log.flush()
        assert c.get("/healthz").json()["log"]["ok"] is True
    store = app.state.ctx.log.store
    rows = {s: store.conversation(i) for s, i in ids.items()}
    assert all(rows.values()), [s for s, r in rows.items() if r is None]
    assert {s: r["surface"] for s, r in rows.items()} == {"api": "api", "chat": "chat", "widget": "widget", "v1": "v1",
                                                         "v1-stream": "v1", "reply": "reply", "assess": "assess"}
    api = rows["api"]
    assert api["turns"] == ["ICP证注册资本最低要多少？", "那跨省呢？"] and api["question"] == "那跨省呢？"
    assert api["citations"] and api["answer"] and api["latency_ms"] > 0 and 0 <= api["confidence"] <= 1
    assert api["feedback"] == {"rating": "down", "comment": "没说清"} and api["created_at"].endswith("+00:00")
    assert rows["widget"]["origin"] == ALLOWED and rows["chat"]["origin"] is None
    from bot.db import Filters

    page = store.conversations(Filters(surface="page"))
    assert [p["question"] for p in page] == ["CDN是什么业务？"] and page[0]["answer"]

    again = make_app(settings, rate_limit="1000/minute", admin_token=ADMIN)  # a restart: a new app, the same database
    with TestClient(again) as c2:
        items = c2.get("/admin/api/conversations?limit=100", headers=BEARER).json()["items"]
    listed = {i["answer_id"]: i for i in items}
    assert set(ids.values()) <= set(listed) and listed[ids["api"]]["feedback"]["rating"] == "down"


def test_without_question_logging_only_metadata_and_a_hash_are_kept(bot, corpus_settings, tmp_path):
    from bot.db import digest

    app = make_app(corpus_settings, database_url=f"sqlite:///{tmp_path}/bot.sqlite", log_questions=False,
                   rate_limit="1000/minute")
    with TestClient(app) as c:
        question = "青蛙科技是外资公司，能办ICP证吗？"
        out = c.post("/api/ask", json={"question": question, "turns": ["你好，我们是青蛙科技", question]}).json()
        app.state.ctx.log.flush()
        assert c.post("/api/feedback", json={"answer_id": out["answer_id"], "rating": "up"}).status_code == 200
    row = app.state.ctx.log.store.conversation(out["answer_id"])
    assert row["question"] is None and row["answer"] is None and row["turns"] == []
    assert row["question_hash"] == digest(out["question"]) and row["topic"] == "外资准入"
    assert row["citations"] and row["feedback"]["rating"] == "up"
    raw = sqlite3.connect(tmp_path / "bot.sqlite").execute("SELECT * FROM answers").fetchall()
    assert "青蛙" not in repr(raw) and out["answer"][:20] not in repr(raw)  # the texts are nowhere in the file


# -- a database that is locked or down ----------------------------------------------------------------------

def _wait(check, seconds=15.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_locked_sqlite_database_costs_the_entry_not_the_answer(bot, corpus_settings, tmp_path):
    path = tmp_path / "bot.sqlite"
    app = make_app(corpus_settings, database_url=f"sqlite:///{path}", rate_limit="1000/minute")
    log = app.state.ctx.log
    with TestClient(app) as c:
        c.post("/api/ask", json={"question": "ICP证有效期几年？"})
        log.flush()
        lock = sqlite3.connect(path, timeout=0)
        lock.execute("BEGIN EXCLUSIVE")  # another process holding the file
        try:
            started = time.perf_counter()
            r = c.post("/api/ask", json={"question": "EDI证有效期几年？"})
            assert r.status_code == 200 and r.json()["answer"]
            assert time.perf_counter() - started < 10  # the answer did not wait for the lock
            assert _wait(lambda: log.lost >= 1)
            health = c.get("/healthz")
            assert health.status_code == 200 and health.json()["log"]["ok"] is False
            assert "locked" in health.json()["log"]["error"]
        finally:
            lock.rollback()
            lock.close()
        r = c.post("/api/ask", json={"question": "IDC证有效期几年？"})
        log.flush()
        assert log.store.exists(r.json()["answer_id"]) and c.get("/healthz").json()["log"]["ok"] is True


def test_a_stopped_postgres_costs_the_entry_not_the_answer(bot, corpus_settings, tmp_path):
    from tests.services import Postgres

    pg = Postgres(tmp_path / "pg")
    try:
        url = pg.start()
        app = make_app(corpus_settings, database_url=url, rate_limit="1000/minute", admin_token=ADMIN)
        log = app.state.ctx.log
        with TestClient(app) as c:
            first = c.post("/api/ask", json={"question": "ICP证有效期几年？"}).json()
            log.flush()
            assert log.store.exists(first["answer_id"])
            pg.stop()
            started = time.perf_counter()
            r = c.post("/api/ask", json={"question": "EDI证有效期几年？"})
            assert r.status_code == 200 and r.json()["citations"]
            assert time.perf_counter() - started < 10
            assert _wait(lambda: log.lost >= 1)
            health = c.get("/healthz")
            assert health.status_code == 200 and health.json()["log"]["ok"] is False and health.json()["log"]["error"]
            fb = c.post("/api/feedback", json={"answer_id": first["answer_id"], "rating": "up"})
            assert fb.status_code == 503 and "稍后" in fb.json()["detail"]
            console = c.get("/admin/api/conversations", headers=BEARER)
            assert console.status_code == 503 and "数据库暂时不可用" in console.json()["detail"]
            assert c.get("/admin/api/status", headers=BEARER).json()["index"]["ready"]  # still serving
            pg.start()  # back: the next entries are written again
            r = c.post("/api/ask", json={"question": "IDC证有效期几年？"})
            log.flush()
            assert _wait(lambda: log.store.exists(r.json()["answer_id"]))
    finally:
        pg.remove()
