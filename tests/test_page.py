"""The chat page and the API docs in a real headless Chromium: what a visitor clicks."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import ARTIFACTS


def _answers(page):
    return page.locator(".message.bot, [data-testid=bot]")


def test_an_example_sends_itself_and_the_answer_links_its_sources(live, page):
    page.goto(live.url + "/")
    example = page.get_by_role("button", name="ICP证注册资本最低要多少？")
    example.click()
    marker = page.locator("a", has_text="[1]").first
    expect(marker).to_be_visible(timeout=60000)
    href = marker.get_attribute("href")
    assert href.startswith("/articles/") and "#:~:text=" in href
    expect(page.get_by_text("感谢反馈")).to_have_count(0)
    assert page.get_by_text("100万").count() >= 1
    assert not [u for u in page.requests if not u.startswith(live.url)], "a request left the host"
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "chat-page.png"))  # the README's screenshot (docs/chat-page.png)
    # the linked article page opens at the quoted passage
    article = page.context.new_page()
    article.goto(live.url + href)
    assert article.locator("h1").inner_text()
    article.close()


def test_plain_copy_and_new_conversation(live, page):
    page.goto(live.url + "/")
    box = page.get_by_label("您的问题")
    box.fill("ICP证有效期几年？")
    box.press("Enter")
    expect(page.locator("a", has_text="[1]").first).to_be_visible(timeout=60000)
    page.get_by_text("复制为纯文本").click()
    values = "textarea => textarea.map(t => t.value).filter(v => v.includes('来源：'))"
    page.wait_for_function("[...document.querySelectorAll('textarea')].some(t => t.value.includes('来源：'))")
    text = page.locator("textarea").evaluate_all(values)[0]
    assert "5年" in text and "\n来源：\n[1] " in text and "](" not in text
    page.get_by_role("button", name="新对话").click()
    expect(page.locator("a", has_text="[1]")).to_have_count(0)


def test_docs_render_with_nothing_from_other_hosts(live, page):
    page.goto(live.url + "/docs")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("增值电信许可问答 API", timeout=20000)
    page.goto(live.url + "/redoc")
    expect(page.locator("redoc, [role=navigation], .menu-content").first).to_be_attached(timeout=20000)
    page.wait_for_timeout(500)
    outside = {u for u in page.requests if not u.startswith((live.url, "blob:" + live.url))}
    # ReDoc's bundle hard-codes its vendor logo on a CDN; the page's Content-Security-Policy stops it.
    assert outside <= {u for u, why in page.blocked if why == "csp"}, (outside, page.blocked)


def test_licence_self_assessment_form(live, page):
    """许可自测: tick what the business does, fill capital and coverage, get the licences with their sources."""
    page.goto(live.url + "/")
    page.get_by_role("tab", name="许可自测").click()
    page.get_by_label("电商平台：第三方商家入驻、交易撮合").check()
    page.get_by_label("有第三方商家入驻").check()
    page.get_by_label("跨省").check()
    page.get_by_label("注册资本（万元）").fill("500")
    page.get_by_role("button", name="开始自测").click()
    result = page.get_by_text("在线数据处理与交易处理", exact=False).first
    expect(result).to_be_visible(timeout=60000)
    text = page.locator("#component-0, .gradio-container").first.inner_text()
    assert "工信部" in text and "1000万" in text and "需增资" in text
    assert "[1]" in text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "assess-form.png"), full_page=True)
