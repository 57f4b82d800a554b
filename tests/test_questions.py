"""Reading a question: its sub-questions, the kind of answer each asks for, and whether it is in scope."""

from __future__ import annotations

import pytest

from bot.questions import answer_cues, split_questions, unwrap
from bot.scope import asks_price, on_topic


@pytest.mark.parametrize("question,sentence,other", [
    ("年报什么时候报？", "应当每年第一季度报送上一年度年报。", "年报内容应当向社会公示。"),
    ("注册资本最低多少？", "注册资本最低限额为100万元。", "申请人应当是依法设立的公司。"),
    ("B25的证能直接做CDN吗？", "不得超范围经营。", "CDN是内容分发网络。"),
    ("没备案被查到会怎样？", "责令关闭网站，处1万元罚款。", "备案在省通信管理局办理。"),
    ("APP备案去哪里办？", "向住所所在地省通信管理局备案。", "APP备案自2023年起开展。"),
])
def test_answer_cues_match_the_asked_kind(question, sentence, other):
    cues = answer_cues(question)
    assert cues and any(p.search(sentence) for p in cues)
    assert not all(p.search(other) for p in cues)


def test_follow_up_cues_come_from_what_was_asked_now():
    q = split_questions("我们拿了EDI证，今年要报年报吗？一般什么时候报？")[1]
    assert "追问" not in unwrap(q) and "什么时候报" in unwrap(q)
    assert any(p.search("每年第一季度") for p in answer_cues(q))


@pytest.mark.parametrize("text,expected", [
    ("ICP证注册资本要多少", True), ("网站没备案会怎样", True), ("论坛帖子要保留多久", True),
    ("外资能占多少股比", True), ("食品经营许可证怎么办", False), ("工作签证和居留许可怎么办", False),
    ("增值税专票怎么开", False), ("专利证书多久下来", False), ("明天天气怎么样", False),
    ("营业执照经营范围变更，去市场监管局要带什么材料", False), ("阿里云服务器一年多少钱", False),
    ("外企连海外总部内网，合规做法是啥", True), ("超范围经营会怎么处理", True), ("管局要求补材料怎么办", True),
])
def test_on_topic(text, expected):
    assert on_topic(text) is expected


def test_price_questions():
    assert asks_price("办EDI证收多少钱？") and asks_price("费用大概多少")
    assert not asks_price("码号是免费用的吗？")


def test_follow_up_with_those_is_read_in_context():
    from bot.questions import standalone

    q = standalone("已经上架的那些，最晚什么时候要备完？", ["微信小程序现在必须备案吗？"])
    assert "小程序" in q and "什么时候要备完" in q
