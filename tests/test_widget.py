"""The embeddable widget in a real headless Chromium (Debian's, driven by Playwright), on a page of another
origin, against the app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS, ThreadedServer, free_port, make_app

SEED_Q = "我只做支付宝小程序，没有独立APP，需要办增值电信许可证吗？"
W = "#licence-bot-widget"


def host_page(bot_url: str) -> bytes:
    return (f"<!doctype html><html lang=zh-CN><meta charset=utf-8><title>外部站点</title><body><h1>合作伙伴官网</h1>"
            f"<script src='{bot_url}/widget.js' data-title='问答' defer></script></body></html>").encode()


class _Site(ThreadingHTTPServer):
    """A marketing site on another origin that embeds the widget."""

    def __init__(self, port: int, page: bytes) -> None:
        self.page = page

        class H(BaseHTTPRequestHandler):
            def do_GET(h):  # noqa: N805
                h.send_response(200)
                h.send_header("Content-Type", "text/html; charset=utf-8")
                h.send_header("Content-Length", str(len(self.page)))
                h.end_headers()
                h.wfile.write(self.page)

            def log_message(h, *a):  # noqa: N805
                pass

        super().__init__(("127.0.0.1", port), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def sites(bot, corpus_settings):
    allowed_port, other_port = free_port(), free_port()
    app = make_app(corpus_settings, cors_origins=f"http://127.0.0.1:{allowed_port}", rate_limit="1000/minute")
    with ThreadedServer(app) as server:
        allowed = _Site(allowed_port, host_page(server.url))
        other = _Site(other_port, host_page(server.url))
        yield {"bot": server.url, "allowed": f"http://127.0.0.1:{allowed_port}/",
               "other": f"http://127.0.0.1:{other_port}/", "app": app}
        allowed.shutdown()
        other.shutdown()


def _open(page, url: str) -> None:
    page.goto(url)
    page.locator(f"{W} .bubble").click()


def _ask(page, question: str, wait: bool = True) -> None:
    """Type a question and send it with Enter; wait until its answer has its actions (the stream is done)."""
    answered = page.locator(f"{W} .msg.bot .actions")
    before = answered.count()
    box = page.locator(f"{W} textarea")
    box.fill(question)
    box.press("Enter")
    if wait:
        expect(answered).to_have_count(before + 1, timeout=60000)


def test_demo_page_answers_with_clickable_sources(sites, page):
    _open(page, sites["bot"] + "/demo")
    _ask(page, SEED_Q)
    bot_msg = page.locator(f"{W} .msg.bot").last
    assert "[1]" in bot_msg.inner_text()
    sources = bot_msg.locator("details.sources")
    assert sources.get_attribute("open") is None
    bot_msg.locator("button.mark").first.click()  # [1] opens its source and marks it
    assert sources.get_attribute("open") is not None
    hit = bot_msg.locator(".src.hit")
    expect(hit).to_have_count(1)
    assert hit.get_attribute("data-n") == "1"
    assert hit.locator("a").get_attribute("href").startswith(sites["bot"] + "/articles/")
    assert not [u for u in page.requests if not u.startswith(sites["bot"])]  # nothing from other hosts
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-desktop.png"))


def test_examples_send_and_suggestions_follow(sites, page):
    _open(page, sites["bot"] + "/demo")
    example = page.locator(f"{W} .chips.examples .chip").first
    question = example.inner_text()
    example.click()
    expect(page.locator(f"{W} .msg.bot .actions")).to_have_count(1, timeout=60000)
    assert page.locator(f"{W} .msg.user").last.inner_text() == question
    assert page.locator(f"{W} .chips.examples").count() == 0
    chips = page.locator(f"{W} .chips.suggestions .chip")
    expect(chips.first).to_be_visible()
    follow = chips.first.inner_text()
    chips.first.click()
    expect(page.locator(f"{W} .msg.bot .actions")).to_have_count(2, timeout=60000)
    assert page.locator(f"{W} .msg.user").last.inner_text() == follow


def test_copy_gives_plain_text_with_footnotes_and_feedback_is_stored(sites, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=sites["bot"])
    page = ctx.new_page()
    _open(page, sites["bot"] + "/demo")
    _ask(page, "ICP证有效期几年？")
    msg = page.locator(f"{W} .msg.bot").last
    msg.locator(".act.copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "5年" in copied and "\n来源：\n[1] " in copied and sites["bot"] + "/articles/" in copied
    assert "**" not in copied and "](" not in copied
    msg.locator(".act.rate[data-rating=up]").click()
    expect(msg.locator(".said")).to_have_text("感谢反馈！")
    assert msg.locator(".act.rate[data-rating=up]").get_attribute("aria-pressed") == "true"
    from sqlalchemy import select

    from bot.db import FeedbackRow

    with sites["app"].state.ctx.log.store.session() as s:
        assert "up" in s.scalars(select(FeedbackRow.rating)).all()
    ctx.close()


def test_new_conversation_forgets_the_previous_turns(sites, page):
    _open(page, sites["bot"] + "/demo")
    _ask(page, "IDC是什么业务？")
    page.locator(f"{W} .reset").click()
    assert "IDC是什么业务？" not in page.locator(f"{W} .log").inner_text()
    assert page.locator(f"{W} .chips.examples").count() == 1
    page.reload()
    page.locator(f"{W} .bubble").click()
    assert "IDC是什么业务？" not in page.locator(f"{W} .log").inner_text()


def test_html_in_a_question_is_text_and_runs_nothing(sites, page):
    _open(page, sites["bot"] + "/demo")
    payload = "<img src=x onerror=alert(1)> ICP证有效期几年？"
    _ask(page, payload)
    assert page.locator(f"{W} .msg.user").last.inner_text() == payload
    assert page.locator(f"{W} img").count() == 0
    assert page.dialogs == []


def test_keyboard_only(sites, page):
    page.goto(sites["bot"] + "/demo")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "licence-bot-widget":
            break
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.className") == "bubble"
    page.keyboard.press("Enter")
    panel = page.locator(f"{W} .panel")
    assert panel.is_visible()
    page.keyboard.type("ICP证注册资本最低要多少？")
    page.keyboard.press("Enter")
    expect(page.locator(f"{W} .msg.bot .actions")).to_have_count(1, timeout=60000)
    assert "100万" in page.locator(f"{W} .msg.bot").last.inner_text()
    page.keyboard.press("Escape")
    assert not panel.is_visible()


def test_conversation_survives_reload_in_the_session(sites, page):
    _open(page, sites["bot"] + "/demo")
    _ask(page, "IDC是什么业务？")
    page.reload()
    page.locator(f"{W} .bubble").click()
    assert "IDC是什么业务？" in page.locator(f"{W} .log").inner_text()
    assert page.locator(f"{W} .msg.bot .actions").count() == 1  # restored with its copy and 👍/👎
    _ask(page, "它属于第几类增值电信业务？")
    assert "第一类" in page.locator(f"{W} .msg.bot").last.inner_text()


def test_on_a_phone_the_panel_fits_and_a_long_answer_shows_its_start(sites, browser):
    ctx = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    pg = ctx.new_page()
    _open(pg, sites["bot"] + "/demo")
    box = pg.locator(f"{W} .panel").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 667
    for q in ("IDC是什么业务？", "外资公司能办ICP证吗？股比有什么限制？"):
        _ask(pg, q)
    answer = pg.locator(f"{W} .msg.bot").last.bounding_box()
    log = pg.locator(f"{W} .log").bounding_box()
    assert log["y"] - 1 <= answer["y"] <= log["y"] + log["height"] / 2, (answer, log)  # its first line in sight
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "widget-375.png"))
    ctx.close()


def test_allowed_origin_works_and_other_origin_gets_a_chinese_message(sites, page):
    _open(page, sites["allowed"])
    _ask(page, "ICP证有效期几年？")
    page.goto(sites["other"])
    page.evaluate("sessionStorage.clear()")
    page.locator(f"{W} .bubble").click()
    _ask(page, "ICP证有效期几年？", wait=False)
    err = page.locator(f"{W} .msg.bot.error")
    expect(err).to_have_text("本网站暂未开通问答服务。", timeout=30000)


def test_service_out_of_reach_gets_a_chinese_message(sites, page):
    _open(page, sites["bot"] + "/demo")
    page.route("**/api/chat", lambda route: route.abort())
    page.route("**/healthz", lambda route: route.abort())
    _ask(page, "ICP证有效期几年？", wait=False)
    err = page.locator(f"{W} .msg.bot.error")
    expect(err).to_have_text("暂时无法连接问答服务，请检查网络后再试，或联系顾问。", timeout=30000)
    assert "Failed to fetch" not in page.locator(f"{W} .log").inner_text()
