"""The operator console at /admin over a real SQLite file, a real index and a real headless Chromium: sign-in
and tokens, the conversations and gap-report contracts, `bot gaps`, the knowledge base (upload, replace,
delete, re-index while serving) and the whole flow in the browser, with screenshots under test-artifacts/."""

from __future__ import annotations

import csv
import io
import json
import time

import httpx
import pytest
from playwright.sync_api import expect
from starlette.testclient import TestClient

from tests.conftest import ADMIN, ARTIFACTS, BEARER, ThreadedServer, make_app, own_index

CONTRACT = {"answer_id", "question", "answer", "refused", "confidence", "surface", "created_at", "feedback"}
GAP = {"label", "count", "questions", "doc_ids", "suggested_title"}
# Paraphrases from the answer cards: their query vectors are in the committed embedding cache.
PARAPHRASES = {
    "c016": ["《网络出版服务管理规定》什么时候施行？", "网络出版服务管理规定哪年生效", "网络出版新规施行日期？",
             "网络出版服务管理规定是哪天公布的"],
    "a065": ["IDC企业同时做CDN需要另外申请吗？", "IDC证要加CDN怎么办", "做IDC顺便做CDN要B12吗", "IDC证能不能直接做CDN"],
}
ARTICLE = """---
id: t900
title: ICP证年报逾期的青鸟通道补报办法
date: 2026-12-01
tags: [ICP证, 年报]
source: 本站原创
---

# 青鸟通道

ICP证年报逾期的企业，可以通过青鸟通道补报年报。青鸟通道每年开放两次，补报时需要提交逾期说明和承诺书。
通过青鸟通道补报后，企业不会因为年报逾期被列入不良名单。
"""
ASK_NEW = "ICP证年报逾期了，可以走青鸟通道补报吗？"
HTML_Q = "<img src=x onerror=alert(1)>ICP证是什么？"


@pytest.fixture(scope="module")
def console(bot, corpus_settings, tmp_path_factory):
    """The app with the console: its own copy of the index, its own SQLite log, served on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("console")
    settings = own_index(corpus_settings, folder / "index").model_copy(
        update={"database_url": f"sqlite:///{folder}/data/bot.sqlite"})
    app = make_app(settings, admin_token=ADMIN, rate_limit="1000/minute", kb_poll_seconds=0.5,
                   admin_attempts="1000/minute")
    with ThreadedServer(app) as server:
        yield {"url": server.url, "app": app, "store": app.state.ctx.log.store, "settings": settings}


def _seed(console) -> dict[str, str]:
    """Answers from the API (one 👎 with a comment, one refused in the domain, one off-topic, an HTML payload) and
    👎 paraphrase groups written to the log."""
    from bot.db import Entry, new_id

    with httpx.Client(base_url=console["url"], timeout=120) as c:
        ids = {"down": c.post("/api/ask", json={"question": "ICP证有效期几年？"}).json()["answer_id"],
               "offtopic": c.post("/api/ask", json={"question": "今天天气怎么样"}).json()["answer_id"],
               "html": c.post("/api/ask", json={"question": HTML_Q}).json()["answer_id"]}
        console["app"].state.ctx.log.flush()
        c.post("/api/feedback", json={"answer_id": ids["down"], "rating": "down", "comment": "=没有说续期怎么办"})
    entries = []
    for doc_id, questions in PARAPHRASES.items():
        for q in questions:
            entries.append(Entry(new_id(), "widget", q, "（回答）", False, 0.9, 30.0,
                                 [{"n": 1, "doc_id": doc_id, "title": doc_id, "chunk_id": f"{doc_id}#0"}]))
    entries.append(Entry(new_id(), "api", "ICP证可以抵押贷款吗", "抱歉，知识库中没有……", True, 0.0, 20.0, []))
    console["store"].write(entries)
    for e in entries[:-1]:
        console["store"].feedback(e.id, "down", None)
    ids["refused_in_domain"] = entries[-1].id
    return ids


def _client(console) -> httpx.Client:
    """A client of the served app (a TestClient context would run the app's shutdown, and stop Gradio's queue
    under the live server)."""
    return httpx.Client(base_url=console["url"], timeout=120)


@pytest.fixture(scope="module")
def seeded(console):
    return _seed(console)


# -- tokens and the session ----------------------------------------------------------------------------------

def _admin_routes(app):
    """Every admin route, read from the routers themselves (FastAPI wraps included routes)."""
    from fastapi.routing import APIRoute

    from bot.web import admin, console

    ctx = app.state.ctx
    for route in [*admin.router(ctx).routes, *console.router(ctx).routes]:
        if isinstance(route, APIRoute) and route.path not in {"/admin/login", "/admin/logout", "/admin/"}:
            for method in route.methods:
                yield method, route.path.replace("{answer_id}", "x").replace("{doc_id}", "x")


def test_every_admin_route_refuses_without_a_valid_token(console):
    routes = sorted(set(_admin_routes(console["app"])))
    assert len(routes) >= 18, routes
    with _client(console) as c:
        for method, path in routes:
            plain = c.request(method, path)
            assert plain.status_code in (401, 403), (method, path, plain.status_code)
            wrong = c.request(method, path, headers={"Authorization": "Bearer wrong-token"})
            assert wrong.status_code in (401, 403), (method, path, wrong.status_code)
            forged = c.request(method, path, headers={"Cookie": f"bot_admin={int(time.time())}.{'0' * 64}"})
            assert forged.status_code in (401, 403), (method, path)
        assert c.get("/admin").status_code == 401 and "管理员令牌" in c.get("/admin").text  # the sign-in form
        assert c.get("/admin/api/session", headers=BEARER).json() == {"ok": True}


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it(console):
    with _client(console) as c:
        r = c.post("/admin/login", data={"token": "nope"}, follow_redirects=False)
        assert r.status_code == 403 and "令牌不正确" in r.text and "set-cookie" not in r.headers
        r = c.post("/admin/login", data={"token": ADMIN}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/admin" in cookie
        assert ADMIN not in r.headers["set-cookie"]  # a signed timestamp, not the token
        assert c.get("/admin").status_code == 200 and c.get("/admin/api/session").json() == {"ok": True}
        page = c.get("/admin")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "http://" not in page.text and "https://" not in page.text  # nothing from other hosts
        c.post("/admin/logout", follow_redirects=False)
        assert c.get("/admin/api/session").status_code == 403


def test_guessing_is_limited_and_feedback_is_rate_limited(bot, corpus_settings, tmp_path):
    app = make_app(corpus_settings, database_url=f"sqlite:///{tmp_path}/bot.sqlite", admin_token=ADMIN,
                   admin_attempts="3/minute", rate_limit="3/minute")
    with TestClient(app) as c:
        codes = [c.get("/admin/api/stats", headers={"Authorization": f"Bearer guess{i}"}).status_code for i in range(4)]
        assert codes == [403, 403, 403, 429]
        r = c.post("/admin/login", data={"token": "guess5"})
        assert r.status_code == 429 and "尝试次数过多" in r.text and int(r.headers["retry-after"]) >= 1
        assert c.get("/admin/api/stats", headers=BEARER).status_code == 200  # the right token still works …
        for i in range(2):
            c.get("/admin/api/stats", headers={"Authorization": f"Bearer more{i}"})
        assert c.get("/admin/api/stats", headers=BEARER).status_code == 429  # … until twice the limit
        fb = [c.post("/api/feedback", json={"answer_id": "0" * 32, "rating": "up"}).status_code for _ in range(4)]
        assert fb == [404, 404, 404, 429]  # /api/feedback is limited like the other routes


# -- conversations and the gap report -----------------------------------------------------------------------

def test_conversations_contract_filters_detail_and_csv(console, seeded):
    with _client(console) as c:
        items = c.get("/admin/api/conversations?limit=100", headers=BEARER).json()["items"]
        assert items and all(set(i) == CONTRACT for i in items)
        down = c.get("/admin/api/conversations?rating=down&surface=api", headers=BEARER).json()["items"]
        assert [i["answer_id"] for i in down] == [seeded["down"]]
        assert down[0]["feedback"] == {"rating": "down", "comment": "=没有说续期怎么办"} and down[0]["answer"]
        listed = c.get("/admin/api/conversations?refused=true", headers=BEARER).json()["items"]
        refused = {i["answer_id"] for i in listed}
        assert {seeded["offtopic"], seeded["refused_in_domain"]} <= refused and seeded["down"] not in refused
        found = c.get("/admin/api/conversations", params={"q": "onerror"}, headers=BEARER).json()["items"]
        assert [i["answer_id"] for i in found] == [seeded["html"]]
        assert c.get("/admin/api/conversations?since=2000-01-01&until=2000-12-31", headers=BEARER).json()["items"] == []
        detail = c.get(f"/admin/api/conversations/{seeded['down']}", headers=BEARER).json()
        assert detail["citations"] and detail["latency_ms"] > 0 and detail["feedback"]["rating"] == "down"
        assert c.get("/admin/api/conversations/nope", headers=BEARER).status_code == 404
        bad = c.get("/admin/api/conversations?since=yesterday", headers=BEARER)
        assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["detail"]
        r = c.get("/admin/api/conversations.csv?rating=down&surface=api", headers=BEARER)
        assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert rows[0][:4] == ["answer_id", "created_at", "surface", "question"] and len(rows) == 2
        assert rows[1][7] == "down" and rows[1][8] == "'=没有说续期怎么办"  # never a spreadsheet formula
        stats = c.get("/admin/api/stats?days=7", headers=BEARER).json()
        assert stats["total"] >= 12 and stats["down"] >= 9 and 0 < stats["refusal_rate"] < 1
        assert {s["surface"] for s in stats["surfaces"]} >= {"api", "widget"} and len(stats["per_day"]) == 7


def test_gap_report_clusters_by_meaning_and_bot_gaps_prints_the_same(console, seeded):
    from typer.testing import CliRunner

    from bot.cli import app as cli

    with _client(console) as c:
        out = c.get("/admin/api/gaps?days=7", headers=BEARER).json()
        md = c.get("/admin/api/gaps.md?days=7", headers=BEARER)
        rows = list(csv.reader(io.StringIO(c.get("/admin/api/gaps.csv?days=7", headers=BEARER).text.lstrip("\ufeff"))))
    assert set(out) == {"gaps"} and out["gaps"] and all(set(g) == GAP for g in out["gaps"])
    by_question = {q: g for g in out["gaps"] for q in g["questions"]}
    for doc_id, questions in PARAPHRASES.items():
        groups = [by_question[q]["label"] for q in questions]
        assert len(set(groups)) == 1, (doc_id, groups)  # one cluster per meaning …
        gap = by_question[questions[0]]
        assert gap["count"] == len(questions) and gap["doc_ids"] == [doc_id] and gap["suggested_title"].endswith("？")
    assert by_question[PARAPHRASES["c016"][0]] is not by_question[PARAPHRASES["a065"][0]]  # … and apart from others
    assert "ICP证可以抵押贷款吗" in by_question  # refused although in the domain
    assert "今天天气怎么样" not in by_question  # refused and not ours: no gap
    assert "ICP证有效期几年？" in by_question  # 👎
    assert out["gaps"][0]["count"] >= out["gaps"][-1]["count"]
    assert md.text.startswith("# 知识库缺口报告") and "建议撰写文章" in md.text
    assert rows[0][0] == "label" and len(rows) == len(out["gaps"]) + 1
    s = console["settings"]
    env = {"BOT_DATABASE_URL": s.database_url, "BOT_EMBED_CACHE": str(s.cache_path), "BOT_INDEX_DIR": str(s.index_dir)}
    result = CliRunner().invoke(cli, ["gaps", "--days", "7", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == out
    text = CliRunner().invoke(cli, ["gaps", "--days", "7"], env=env)
    assert text.exit_code == 0 and "建议撰写文章" in text.stdout


# -- the knowledge base ------------------------------------------------------------------------------------------

def _reindexed(c, seconds=180):
    deadline = time.time() + seconds
    while time.time() < deadline:
        st = c.get("/admin/api/status", headers=BEARER).json()
        if not st["index"]["building"] and st["index"]["kb_version"] == st["kb_version"]:
            return st
        time.sleep(0.3)
    raise AssertionError(f"no re-index within {seconds} s: {st}")


def _cites(c, question):
    return [x["doc_id"] for x in c.post("/api/ask", json={"question": question}).json()["citations"]]


def test_bad_uploads_get_a_clear_message_and_never_become_paths(console):
    cases = [("evil.exe", b"MZ\x90\x00", 415, "只支持"), ("a.pdf", b"hello world", 400, "不是 PDF"),
             ("a.docx", b"plain text", 400, "不是 Word"), ("a.md", b"\x00\x01\x02binary", 400, "二进制"),
             ("a.html", "没有标签的纯文本，足够长的一段文字。".encode(), 400, "不是网页"), ("a.md", b"", 400, "为空"),
             ("a.md", b"---\ntitle: [unclosed\n---\nbody", 400, "YAML"),
             ("a.md", b"x" * (console["settings"].max_upload_bytes + 10), 413, "")]
    with _client(console) as c:
        for name, data, status, message in cases:
            r = c.post("/admin/api/articles", files={"file": (name, data)}, headers=BEARER)
            assert r.status_code == status, (name, r.status_code, r.text)
            assert message in r.json()["detail"] and "Traceback" not in r.text
        assert c.post("/admin/api/articles", data={"x": "1"}, headers=BEARER).status_code == 400
        assert c.put("/admin/api/articles/nope", files={"file": ("a.md", b"# t\n\nsome text here")},
                     headers=BEARER).status_code == 404
    from bot.kb import safe_name

    for hostile in ("../../etc/passwd.md", "..\\..\\win.md", "/abs/path.md", ".hidden.md", "a/b/c.md"):
        name = safe_name(hostile, ".md")
        assert "/" not in name and "\\" not in name and not name.startswith(".") and ".." not in name
        assert name.startswith("up-") and name.endswith(".md")


def test_upload_replace_delete_while_answers_keep_coming(console):
    with _client(console) as c:
        assert "t901" not in _cites(c, "ICP证年报逾期可以走白鹭通道吗？")
        body = ARTICLE.replace("t900", "t901").replace("青鸟", "白鹭")
        r = c.post("/admin/api/articles", files={"file": ("../../白鹭.md", body.encode())}, headers=BEARER)
        assert r.status_code == 202, r.text
        added = r.json()
        assert added["doc_id"] == "t901" and added["name"].startswith("up-") and ".." not in added["name"]
        while c.get("/admin/api/status", headers=BEARER).json()["index"]["building"]:
            assert c.post("/api/ask", json={"question": "ICP证有效期几年？"}).status_code == 200  # served meanwhile
            time.sleep(0.2)
        _reindexed(c)
        assert "t901" in _cites(c, "ICP证年报逾期可以走白鹭通道补报吗？")
        listed = {a["doc_id"]: a for a in c.get("/admin/api/articles", headers=BEARER).json()["items"]}
        assert listed["t901"]["source"] == "上传" and listed["t901"]["chunks"] >= 1
        assert listed["a001"]["source"] == "内置"
        preview = c.get("/admin/api/articles/t901", headers=BEARER).json()
        assert "白鹭通道每年开放两次" in preview["chunks"][0]["text"]
        assert c.get("/admin/api/articles/a016", headers=BEARER).json()["cards"]  # a bundled article's cards
        again = c.post("/admin/api/articles", files={"file": ("x.md", body.encode())}, headers=BEARER)
        assert again.status_code == 409 and "替换" in again.json()["detail"]

        new = body.replace("每年开放两次", "每季度开放一次")
        r = c.put("/admin/api/articles/t901", files={"file": ("new.md", new.encode())}, headers=BEARER)
        assert r.status_code == 202 and r.json()["name"] == added["name"]
        _reindexed(c)
        assert "每季度开放一次" in c.get("/admin/api/articles/t901", headers=BEARER).json()["chunks"][0]["text"]

        assert c.delete("/admin/api/articles/t901", headers=BEARER).status_code == 202
        _reindexed(c)
        assert "t901" not in _cites(c, "ICP证年报逾期可以走白鹭通道补报吗？")
        assert c.get("/admin/api/articles/t901", headers=BEARER).status_code == 404
        files = console["app"].state.ctx.holder.files
        assert sorted(p.name for p in files.folder.glob("up-*")) == []  # the overlay follows the database


def _other_types() -> dict[str, bytes]:
    """A real .txt, .html, .pdf and .docx, each with a word of its own."""
    import docx
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    out = {"纸鹤.txt": "纸鹤备案说明\n\nAPP备案时，纸鹤通道可以加快管局审核，一般五个工作日完成。".encode(),
           "竹篮.html": ("<!doctype html><html><head><title>竹篮接入</title></head><body><article><h1>竹篮接入</h1>"
                        "<p>IDC企业申请竹篮接入时，需要提交机房证明和网络安全方案，审核约需二十个工作日。</p>"
                        "</article></body></html>").encode()}
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.setTitle("石桥续期")
    pdf.setFont("STSong-Light", 12)
    pdf.drawString(72, 760, "EDI证续期时，石桥程序要求提前九十日提交申请材料。")
    pdf.save()
    out["石桥.pdf"] = buf.getvalue()
    d = docx.Document()
    d.add_heading("铜铃变更", level=1)
    d.add_paragraph("ICP证法人变更时，铜铃流程要求在三十日内向原发证机关申请。")
    buf = io.BytesIO()
    d.save(buf)
    out["铜铃.docx"] = buf.getvalue()
    return out


def test_txt_html_pdf_and_docx_uploads_are_indexed(console):
    with _client(console) as c:
        ids = []
        for name, data in _other_types().items():
            r = c.post("/admin/api/articles", files={"file": (name, data)}, headers=BEARER)
            assert r.status_code == 202, (name, r.text)
            ids.append(r.json()["doc_id"])
        _reindexed(c)
        listed = {a["doc_id"]: a for a in c.get("/admin/api/articles", headers=BEARER).json()["items"]}
        assert all(listed[i]["status"] == "已索引" and listed[i]["chunks"] >= 1 for i in ids), ids
        assert {listed[i]["title"] for i in ids} == {"纸鹤备案说明", "竹篮接入", "石桥续期", "铜铃变更"}
        for i in ids:
            assert c.delete(f"/admin/api/articles/{i}", headers=BEARER).status_code == 202
        _reindexed(c)
        assert not set(ids) & {a["doc_id"] for a in c.get("/admin/api/articles", headers=BEARER).json()["items"]}


# -- the whole flow in Chromium ------------------------------------------------------------------------------

def test_console_in_chromium(console, seeded, page, tmp_path):
    url = console["url"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(url + "/admin")
    page.get_by_label("管理员令牌").fill(ADMIN)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#chart-count svg rect.bar").last).to_be_visible(timeout=30000)  # today's bar
    assert page.locator("#chart-count svg rect.bar").count() == 30
    assert page.locator("#chart-topics svg rect").count() >= 1 and page.locator("#chart-refused polyline").count() == 1
    expect(page.locator("#kpis")).to_contain_text("提问数")
    page.screenshot(path=str(ARTIFACTS / "console-dashboard.png"), full_page=True)

    page.get_by_role("tab", name="对话记录").click()
    page.locator("#conv-filters select[name=rating]").select_option("down")
    page.locator("#conv-filters select[name=surface]").select_option("api")
    page.get_by_role("button", name="查询").click()
    row = page.locator("#conv-table tbody tr", has_text="ICP证有效期几年？")
    expect(row).to_have_count(1)
    row.click()
    detail = page.locator("#conv-detail")
    expect(detail).to_contain_text("差评：没帮助")
    expect(detail).to_contain_text("=没有说续期怎么办")
    assert detail.locator(".citations li").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "console-conversation.png"), full_page=True)
    page.locator("#conv-filters select[name=rating]").select_option("")
    page.locator("#conv-filters select[name=surface]").select_option("")
    page.locator("#conv-filters input[name=q]").fill("onerror")
    page.get_by_role("button", name="查询").click()
    html_row = page.locator("#conv-table tbody tr", has_text="<img src=x onerror=alert(1)>")
    expect(html_row).to_have_count(1)  # shown as text …
    assert page.locator("#conv-table img").count() == 0 and page.dialogs == []  # … never as HTML

    page.get_by_role("tab", name="知识缺口").click()
    expect(page.locator("#gap-list .gap").first).to_be_visible(timeout=60000)
    expect(page.locator("#gap-list")).to_contain_text("建议撰写文章")
    expect(page.locator("#gap-list")).to_contain_text("IDC证要加CDN怎么办")
    page.screenshot(path=str(ARTIFACTS / "console-gaps.png"), full_page=True)

    page.get_by_role("tab", name="知识库").click()
    expect(page.locator("#kb-table tbody tr").first).to_be_visible()
    article = tmp_path / "青鸟通道.md"
    article.write_text(ARTICLE, encoding="utf-8")
    page.locator("#kb-upload input[type=file]").set_input_files(str(article))
    page.get_by_role("button", name="上传", exact=True).click()
    expect(page.locator("#kb-msg")).to_contain_text("索引完成", timeout=180000)
    expect(page.locator("#kb-table tbody tr[data-doc=t900]")).to_contain_text("已索引")
    page.locator("#kb-table tbody tr[data-doc=t900]").get_by_role("button", name="预览").click()
    expect(page.locator("#kb-preview")).to_contain_text("青鸟通道每年开放两次")
    page.screenshot(path=str(ARTIFACTS / "console-knowledge-base.png"), full_page=True)
    assert not [u for u in page.requests if not u.startswith(url)], "a request left the host"

    answer = httpx.post(url + "/api/ask", json={"question": ASK_NEW}, timeout=120).json()
    assert "t900" in [x["doc_id"] for x in answer["citations"]] and "青鸟通道" in answer["answer"]


def test_the_chat_page_dislike_is_stored(console, page):
    from bot.db import Filters

    page.goto(console["url"] + "/")
    page.get_by_role("button", name="ICP证注册资本最低要多少？").click()
    expect(page.locator("a", has_text="[1]").first).to_be_visible(timeout=60000)
    page.get_by_role("button", name="踩", exact=True).first.click()  # Gradio's dislike, in zh-CN
    expect(page.get_by_text("感谢反馈，我们会据此改进知识库。")).to_be_visible(timeout=20000)
    rows = console["store"].conversations(Filters(surface="page", rating="down"))
    assert [r["question"] for r in rows] == ["ICP证注册资本最低要多少？"]


def test_the_cookie_is_secure_only_behind_a_trusted_https_proxy(bot, corpus_settings, tmp_path):
    app = make_app(corpus_settings, database_url=f"sqlite:///{tmp_path}/bot.sqlite", admin_token=ADMIN,
                   trust_proxy=True)
    https = {"X-Forwarded-Proto": "https"}
    with TestClient(app, base_url="http://127.0.0.1") as c:  # the peer is "testclient": not a trusted proxy
        r = c.post("/admin/login", data={"token": ADMIN}, headers=https, follow_redirects=False)
        assert r.status_code == 303 and "secure" not in r.headers["set-cookie"].lower()
    with ThreadedServer(app) as server:  # the peer is 127.0.0.1: a trusted proxy by default
        r = httpx.post(server.url + "/admin/login", data={"token": ADMIN}, headers=https, follow_redirects=False)
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
        plain = httpx.post(server.url + "/admin/login", data={"token": ADMIN}, follow_redirects=False)
        assert "secure" not in plain.headers["set-cookie"].lower()
