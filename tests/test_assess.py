"""The licence assessment: business descriptions (free text or the form) in, licences / filings / approvals with
verdicts, authority, capital and foreign-share rules out — checked against cases written from FACTS.md by a
separate helper (eval/assess_cases.jsonl, 42 cases; eval/assess_fresh.jsonl, 24 cases written later and first
run unseen)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from bot.assess import assess
from bot.cli import app
from bot.facts import from_form, from_text
from tests.conftest import ROOT

CASES = [json.loads(line) for name in ("assess_cases.jsonl", "assess_fresh.jsonl")
         for line in (ROOT / "eval" / name).read_text("utf-8").splitlines() if line.strip()]


def _facts(case):
    return from_form(case["form"], case["description"]) if case.get("form") else from_text(case["description"])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_gets_the_right_licences_and_verdicts(bot, case):
    result = assess(bot.kb, _facts(case))
    got = {i.key: i.verdict for i in result.items}
    wrong = {k: (v, got.get(k, "不需要")) for k, v in case["expect"].items() if got.get(k, "不需要") != v}
    extra = [k for k, v in got.items() if v == "需要" and k not in case["expect"]]
    assert not wrong and not extra, (wrong, extra, case.get("note"))
    if case.get("authority") and result.licences:
        assert case["authority"] in result.authority
    if case.get("capital"):
        assert case["capital"] in result.capital
    assert result.foreign_cap == case.get("foreign")


def test_open_questions_are_never_stated_as_needed(bot):
    """What FACTS.md leaves open — self-operated shops and ICP, ride-hailing, live-streaming and B12 — is 视情况."""
    for text, key in (("只卖自家产品的小程序商城，顾客直接下单付款", "B25-ICP"),
                      ("网约车平台，乘客在APP上叫车付款，全国运营", "B21"),
                      ("全国性的直播APP，用户充值打赏，加速用的是云厂商的CDN", "B12")):
        got = {i.key: i.verdict for i in assess(bot.kb, from_text(text)).items}
        assert got.get(key) == "视情况", (text, got)


def test_every_marker_resolves_and_every_rule_passage_is_cited_verbatim(bot):
    result = assess(bot.kb, from_text("杭州SaaS公司，注册资本500万，做商家入驻开店的平台，全国用户，新加坡股东占20%"))
    out = result.to_dict()
    numbers = [c["n"] for c in out["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert {int(n) for n in re.findall(r"\[(\d+)\]", out["answer"])} == set(numbers)
    for item in out["items"]:
        assert set(item["citations"]) <= set(numbers) and item["reasons"]
        assert {"kind", "code", "name", "verdict", "reasons", "authority", "citations"} <= set(item)
    first = out["answer"].splitlines()[0]
    assert "在线数据处理与交易处理" in first and "工信部" in first
    assert "需增资至1000万元" in out["capital"] and "100%" in out["foreign"]


def test_what_was_read_and_what_was_assumed_is_said():
    f = from_text("我们做一个收费的资讯网站")
    assert f.paid and "网站" in f.channels and f.evidence["paid"] == "收费"
    assert any("覆盖范围" in a for a in f.assumed)
    assert from_text("只服务上海客户的云服务器出租").scope == "省内"
    assert from_text("我们自己用阿里云服务器，给客户做网站").activities == []  # using a cloud is not offering one


def test_cli_assess_json(bot, corpus_settings):
    env = {"BOT_INDEX_DIR": str(corpus_settings.index_dir), "BOT_EMBED_CACHE": str(corpus_settings.cache_path)}
    out = CliRunner().invoke(app, ["assess", "--json", "深圳，做企业邮箱服务，全国客户，注册资本2000万"], env=env)
    assert out.exit_code == 0, out.output
    obj = json.loads(out.stdout)
    assert {"facts", "items", "capital", "foreign", "answer", "citations"} <= set(obj)
    assert [i["key"] for i in obj["items"] if i["verdict"] == "需要"] == ["B23"]
    plain = CliRunner().invoke(app, ["assess", "深圳，做企业邮箱服务，全国客户"], env=env)
    assert plain.exit_code == 0 and "存储转发类业务" in plain.stdout and "来源：" in plain.stdout


def test_api_assess_with_text_and_with_the_form(client):
    r = client.post("/api/assess", json={"description": "杭州SaaS公司，做商家入驻开店的平台，全国用户"})
    assert r.status_code == 200 and r.json()["items"][0]["key"] == "B21" and r.json()["answer_id"]
    form = {
        "activities": ["企业官网"],
        "paid": False,
        "channels": ["网站", "小程序"],
        "scope": "省内",
        "province": "江苏",
    }
    body = client.post("/api/assess", json=form).json()
    verdicts = {i["key"]: i["verdict"] for i in body["items"]}
    assert verdicts == {"B25-ICP": "不需要", "ICP备案": "需要", "APP备案": "需要"}
    assert client.post("/api/assess", json={"description": "  "}).status_code == 400
    assert client.post("/api/assess", json={"capital_wan": "很多"}).status_code == 422


def test_chat_answers_a_business_question_from_the_assessment(bot):
    ans = bot.ask("我们在杭州做一个商家入驻的电商平台，全国用户，需要办什么证？")
    first = ans.answer.splitlines()[0]
    assert first.startswith("需要办理在线数据处理与交易处理业务") and "工信部" in first


def test_what_the_asker_already_has_is_not_the_answer(bot):
    """"除了ICP备案还得有什么资质？": the filing they have is neither the conclusion nor a listed reason, what is
    needed comes before what depends, and no verdict line is said twice."""
    ans = bot.ask("我们打算做新闻类直播，除了ICP备案还得有什么资质？")
    lines = ans.answer.splitlines()
    assert "前置审批" in lines[1] and not any(line.startswith("- ICP备案") for line in lines)
    for line in lines:
        parts = [p for p in line.rstrip("。").split("；") if p]
        assert len(parts) == len(set(parts)), line



def test_a_stated_capital_is_checked_without_a_named_business(bot):
    """"注册资本只有50万…够不够申请增值电信许可证？": the minimum holds for every value-added licence, so the
    capital line answers it even when the message names no activity."""
    ans = bot.ask("老板问我：公司注册资本只有50万，只在北京本地做在线业务，够不够申请增值电信许可证？")
    first = ans.answer.splitlines()[0]
    assert "100万" in first and "不足" in first and "需增资" in first


def test_reselling_what_was_rented_is_offering_it():
    """"租了机柜，把服务器托管、云主机和带宽打包卖给客户" offers IDC services; "租了云服务器给员工办公用" does not."""
    from bot.facts import from_text

    assert "IDC" in from_text("我们在机房租了几十个机柜，打算把服务器托管、云主机和带宽打包卖给客户。").activities
    assert "IDC" not in from_text("我们租了云服务器给员工办公用。").activities


def test_two_questions_one_answer_answers_are_said_once(bot):
    ans = bot.ask("我们在杭州，把服务器托管、云主机和带宽打包卖给全国客户。1）需要办什么证？2）注册资本要多少？"
                  "3）我们现在注册资本500万够不够？4）是去浙江通信管理局办还是要去北京？")
    leads = [s.lead.text for s in ans.sections]
    assert len(leads) == len(set(leads))
    assert any("工信部" in s.lead.text for s in ans.sections[-1:])


def test_using_someone_else_s_licence_is_not_a_foreign_share_question(bot):
    """"外国公司想借用我们的ICP证…": lending a licence, which the cards answer, not the foreign-share rule."""
    ans = bot.ask("一家外国公司想借用我们国内公司的ICP证在中国运营他们的网站，我们收点服务费，可以吗？")
    first = ans.answer.splitlines()[0]
    assert "股比" not in first and ("转让" in first or "租借" in first)


def test_a_scope_follow_up_of_a_capital_question_gets_the_new_minimum(bot):
    ans = bot.ask("那跨省经营的呢？", ["只在一个省内经营的增值电信业务，注册资本最低要多少？", "那跨省经营的呢？"])
    first = ans.answer.splitlines()[0]
    assert "1000万" in first and "不可以" not in first
    assert all(p.text != ans.sections[0].lead.text for p in ans.sections[0].points)  # said once


def test_a_service_placed_in_several_provinces_is_cross_regional(bot):
    """"北京、上海、广州三个地方都放机房" names no 跨省 word; the provinces it names decide the scope, and the answer
    says which; a company seated in one city and run by someone from another is not spread."""
    f = from_text("我们准备在北京、上海、广州三个地方都放机房，对外卖IDC服务，许可证是找工信部还是找北京管局？")
    assert (f.scope, f.spans) == ("跨省", ["北京", "上海", "广东"])
    assert from_text("公司注册在深圳，老板是北京人").scope is None
    assert "北京、上海、广东" in assess(bot.kb, f).authority


def test_a_named_pilot_area_is_answered_by_its_full_name_and_the_notice(bot):
    ans = bot.ask("德国公司想在海南自贸港独资做IDC机房业务，现在外资能100%吗？")
    first = ans.answer.splitlines()[0]
    assert "海南自由贸易港" in first and "107号" in first and "50%" in first and len(first) <= 160


def test_a_licence_change_after_a_capital_increase_is_not_the_capital_minimum(bot):
    ans = bot.ask("公司刚做完增资，注册资本从200万加到500万，许可证要不要跟着变更、有没有期限？")
    assert "30日" in ans.answer and "最低限额：省内经营100万元" not in ans.answer.splitlines()[0]


def test_another_department_s_approval_is_the_prior_approval(bot):
    ans = bot.ask("我们想做一个在线问诊的小程序，除了通信管理局这边，还要先找别的部门批吗？")
    assert "审核同意" in ans.answer.splitlines()[0] and "医疗保健" in ans.answer


def test_a_card_saying_the_question_is_open_leads_over_the_assessment_s_verdict(bot):
    """"只卖自家茶叶的小程序要不要ICP证？" has no verifiable answer: the card that says so leads, not 视情况."""
    ans = bot.ask("我们开了个只卖自家茶叶的微信小程序商城，没有别的商家入驻，这种要不要办ICP证？")
    assert "无法确认" in ans.answer.splitlines()[0]


def test_a_foreign_invested_company_applies_to_miit_whatever_its_scope(bot):
    ans = bot.ask("外资企业在上海只做上海本地的增值电信业务，许可证也是向上海市通信管理局申请吗？")
    first = ans.answer.splitlines()[0]
    assert "工信部" in first and "市场主体登记" in first and "[1]" in first


def test_a_business_spanning_provinces_asking_who_approves_is_told_miit(bot):
    ans = bot.ask("我们是做SaaS的，客户分布在江苏、浙江、上海好几个省市，增值电信证是找省管局还是直接找工信部办？")
    assert "工信部" in ans.answer.splitlines()[0] and "跨地区" in ans.answer.splitlines()[0]
