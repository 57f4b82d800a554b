"""The embeddable widget in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import ARTIFACTS, free_port, start_app, stop

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
SEED_Q = "我只做支付宝小程序，没有独立APP，需要办增值电信许可证吗？"


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
    url, proc = start_app(corpus_settings, BOT_CORS_ORIGINS=f"http://127.0.0.1:{allowed_port}",
                          BOT_RATE_LIMIT="1000/minute")
    allowed = _Site(allowed_port, host_page(url))
    other = _Site(other_port, host_page(url))
    yield {"bot": url, "allowed": f"http://127.0.0.1:{allowed_port}/", "other": f"http://127.0.0.1:{other_port}/"}
    allowed.shutdown()
    other.shutdown()
    stop(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    pg = ctx.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    ctx.close()


def _ask(page, question: str, wait: bool = True) -> None:
    """Type a question and send it with Enter; wait until its answer has its sources."""
    from playwright.sync_api import expect

    answered = page.locator("#licence-bot-widget .msg.bot details.sources")
    before = answered.count()
    box = page.locator("#licence-bot-widget textarea")
    box.fill(question)
    box.press("Enter")
    if wait:
        expect(answered).to_have_count(before + 1, timeout=60000)


def test_demo_page_answers_with_sources(sites, page):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(sites["bot"]) else None)
    page.goto(sites["bot"] + "/demo")
    page.locator("#licence-bot-widget .bubble").click()
    _ask(page, SEED_Q)
    bot_msg = page.locator("#licence-bot-widget .msg.bot").last
    assert "[1]" in bot_msg.inner_text()
    bot_msg.locator("summary").click()
    link = bot_msg.locator(".src a").first
    assert link.get_attribute("href").startswith(("http://", "https://"))
    assert not outside, outside  # nothing loaded from other hosts
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-desktop.png"))


def test_html_in_a_question_is_text_and_runs_nothing(sites, page):
    page.goto(sites["bot"] + "/demo")
    page.locator("#licence-bot-widget .bubble").click()
    payload = "<img src=x onerror=alert(1)> ICP证有效期几年？"
    _ask(page, payload)
    user = page.locator("#licence-bot-widget .msg.user").last
    assert user.inner_text() == payload
    assert page.locator("#licence-bot-widget img").count() == 0
    assert page.dialogs == []


def test_keyboard_only(sites, page):
    page.goto(sites["bot"] + "/demo")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "licence-bot-widget":
            break
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.className") == "bubble"
    page.keyboard.press("Enter")
    panel = page.locator("#licence-bot-widget .panel")
    assert panel.is_visible()
    page.keyboard.type("ICP证注册资本最低要多少？")
    page.keyboard.press("Enter")
    from playwright.sync_api import expect

    expect(page.locator("#licence-bot-widget .msg.bot details.sources")).to_have_count(1, timeout=60000)
    assert "100万" in page.locator("#licence-bot-widget .msg.bot").last.inner_text()
    page.keyboard.press("Escape")
    assert not panel.is_visible()


def test_conversation_survives_reload_in_the_session(sites, page):
    page.goto(sites["bot"] + "/demo")
    page.locator("#licence-bot-widget .bubble").click()
    _ask(page, "IDC是什么业务？")
    page.reload()
    page.locator("#licence-bot-widget .bubble").click()
    assert "IDC是什么业务？" in page.locator("#licence-bot-widget .log").inner_text()
    _ask(page, "它属于第几类增值电信业务？")
    assert "第一类" in page.locator("#licence-bot-widget .msg.bot").last.inner_text()


def test_mobile_panel_fits_the_screen(sites, browser):
    ctx = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    pg = ctx.new_page()
    pg.goto(sites["bot"] + "/demo")
    pg.locator("#licence-bot-widget .bubble").click()
    box = pg.locator("#licence-bot-widget .panel").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 667
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "widget-375.png"))
    ctx.close()


def test_allowed_origin_works_and_other_origin_is_refused(sites, page):
    page.goto(sites["allowed"])
    page.locator("#licence-bot-widget .bubble").click()
    _ask(page, "ICP证有效期几年？")
    page.goto(sites["other"])
    page.evaluate("sessionStorage.clear()")
    page.locator("#licence-bot-widget .bubble").click()
    _ask(page, "ICP证有效期几年？", wait=False)
    err = page.locator("#licence-bot-widget .msg.bot.error")
    err.wait_for(timeout=30000)
    assert "[1]" not in err.inner_text()
