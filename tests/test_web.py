"""The Gradio page served for real (uvicorn on 127.0.0.1), driven through gradio_client as a page would."""

from __future__ import annotations

import re

import httpx
import pytest

SEED_Q = "我只做支付宝小程序，没有独立APP，需要办增值电信许可证吗？"


@pytest.fixture(scope="module")
def gradio(live):
    from gradio_client import Client

    return Client(live.url + "/", verbose=False)


def test_page_is_served_without_other_hosts(live):
    page = httpx.get(live.url + "/", timeout=10)
    assert page.status_code == 200
    loaded = re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"(https?://[^\"]+)\"", page.text)
    assert not [u for u in loaded if not u.startswith(live.url)], loaded
    assert "googleapis" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_chat_answer_is_cited_with_sources_suggestions_and_a_plain_copy(gradio):
    from bot.ui import message_text

    history, box, suggestions, plain = gradio.predict(SEED_Q, [], api_name="/respond")  # State is not sent
    texts = [message_text(m["content"]) for m in history]
    assert box == "" and texts[0] == SEED_Q
    answer = texts[1]
    assert answer.startswith(("需要", "不需要", "视情况", "一般")), answer[:80]
    assert "[1]" in answer and "不构成法律意见" in answer
    assert "来源" in history[-1]["metadata"]["title"] and "经营性" in message_text(history[-1]["content"])
    assert "[1]" in plain and "](" not in plain  # plain text for WeChat: no Markdown links
    samples = suggestions["samples"] if isinstance(suggestions, dict) else suggestions
    assert samples and all(s and s[0] != SEED_Q for s in samples)


def test_a_follow_up_uses_the_conversation(gradio):
    history, *_ = gradio.predict("ICP证注册资本最低要多少？", [], api_name="/respond")
    from bot.ui import message_text

    turns = [m for m in history if m["role"] == "user" or not (m.get("metadata") or {}).get("title")]
    history2, *_ = gradio.predict("那跨省的呢？", turns, api_name="/respond")
    follow = message_text(history2[len(turns) + 1]["content"])
    assert "1000万" in follow, follow[:200]


def test_html_in_the_question_is_shown_as_text(gradio):
    from bot.ui import message_text

    q = "<img src=x onerror=alert(1)> ICP证有效期几年？"
    history, *_ = gradio.predict(q, [], api_name="/respond")
    assert message_text(history[0]["content"]).startswith("&lt;img src=x onerror=alert(1)&gt;")
    assert "<img" not in "".join(message_text(m["content"]) for m in history)


def test_desk_and_assessment_tabs(gradio):
    message = ("王总您好，我们公司在杭州，注册资本500万，做商家入驻的电商平台，全国用户。"
               "想问：1、需要办什么证？2、有效期几年？")
    reply, facts = gradio.predict(message, "正式", True, api_name="/reply")
    assert "EDI" in reply and "5年" in reply and "杭州" in facts
    assert "<" not in reply
    result, plain = gradio.predict(
        "杭州SaaS公司，注册资本500万，做商家入驻开店的平台，全国用户",
        [],
        "不确定",
        False,
        [],
        "不确定",
        None,
        None,
        None,
        "",
        "否",
        api_name="/assess",
    )
    assert "EDI" in result and "EDI" in plain


def test_article_page_and_health(live):
    health = httpx.get(live.url + "/healthz").json()
    assert health["status"] == "ok" and health["index"]["ready"]
    page = httpx.get(live.url + "/articles/c005", timeout=10)
    assert page.status_code == 200 and "经营性" in page.text
    assert httpx.get(live.url + "/articles/nope").status_code == 404
