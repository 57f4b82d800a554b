"""Sales desk: replies a salesperson sends as they are — each question answered on its own with its key fact in
its first line, the client's facts applied, short, plain text with absolute footnote links — and batches."""

from __future__ import annotations

import csv
import json
import re

from typer.testing import CliRunner

from bot.cli import app
from bot.facts import from_text
from bot.reply import compose
from tests.conftest import ROOT

MESSAGES = [json.loads(line) for line in (ROOT / "eval" / "sales_messages.jsonl").read_text("utf-8").splitlines()]
HEADLINE = MESSAGES[0]["message"]


def _section_for(reply, ask: str):
    """The section answering a question of the message (sections carry the client's own words)."""
    def norm(s: str) -> str:
        return re.sub(r"\W", "", s)

    return next((s for s in reply.sections if norm(ask)[:12] in norm(s.question) or norm(s.question)[:12] in norm(ask)),
                None)


def _lead_misses(reply, case) -> list[tuple[str, str, str]]:
    misses = []
    for q in case["questions"]:
        section = _section_for(reply, q["ask"])
        first = section.lead.text if section else ""
        misses += [(q["ask"], lead, first[:60]) for lead in q["lead"] if not any(a in first for a in lead.split("|"))]
    return misses


def test_each_question_leads_with_its_own_key_fact(bot):
    """Over the 16 pasted messages (57 questions, written from FACTS.md by a separate helper): the section of each
    question leads with that question's key fact for at least 90% of questions; every reply is within 900
    characters before its footnotes, applies the client's facts, says nothing known to be wrong and links sources
    absolutely. (The first run of this set, before the desk was tuned on it: 4 of 16 messages fully right.)"""
    misses, total = [], 0
    for case in MESSAGES:
        reply = compose(bot, case["message"], base="https://bot.example.com")
        body = reply.text.split("参考来源：")[0].rstrip()  # the blank line before the footnotes is not text
        assert len(body) <= 900, (case["id"], len(body))
        total += len(case["questions"])
        misses += [(case["id"], *m) for m in _lead_misses(reply, case)]
        for phrase in case.get("must_include", []):
            assert phrase in reply.text, (case["id"], phrase)
        for phrase in case.get("must_not_include", []):
            assert phrase not in body, (case["id"], phrase)
        assert all(c.url.startswith(("https://", "http://")) for c in reply.citations)
    wrong = len({(m[0], m[1]) for m in misses})
    assert total >= 50 and wrong <= 0.1 * total, misses


def test_the_headline_message(bot):
    """杭州SaaS, 500万, merchants, nationwide, Singapore 20%: EDI and 工信部 first; 60日 first; 100% first; the
    capital gap stated; no text from an unrelated business."""
    reply = compose(bot, HEADLINE, base="https://bot.example.com")
    leads = [s.lead.text for s in reply.sections]
    assert "在线数据处理与交易处理" in leads[0] and "工信部" in leads[0]
    assert leads[1].startswith("法定审查期限60日") and "前置审批" in leads[1]
    assert "100%" in leads[2] and "经营类电子商务" in leads[2]
    assert "500万元" in reply.text and "需增资至1000万元" in reply.text
    body = reply.text.split("参考来源：")[0]
    assert "家居建材" not in body and "直播" not in body
    assert len(reply.text.split("参考来源：")[0].rstrip()) <= 900
    assert "https://bot.example.com/articles/" in reply.text
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", reply.text.split("参考来源：")[0])}
    assert markers == {c.n for c in reply.citations}


def test_facts_read_from_a_message_say_what_decided_them():
    f = from_text("我们是一家美资控股70%的公司，做B2B交易平台，商家入驻，客户全国都有")
    assert f.foreign and f.foreign_share == 70 and f.foreign_country == "美国"
    assert "电商平台" in f.activities and f.merchants and f.scope == "跨省"
    assert f.evidence["scope"] == "全国" and "70%" in f.evidence["foreign_share"]
    assert any("收费" in a for a in from_text("我们想做一个资讯网站").assumed)


def test_concise_tone_and_no_sources(bot):
    full = compose(bot, MESSAGES[2]["message"])
    short = compose(bot, MESSAGES[2]["message"], tone="简洁", sources=False)
    assert len(short.text) < len(full.text)
    assert "参考来源" not in short.text and not re.search(r"\[\d+\]", short.text)


def _cli(settings, *args):
    env = {"BOT_INDEX_DIR": str(settings.index_dir), "BOT_EMBED_CACHE": str(settings.cache_path)}
    return CliRunner().invoke(app, list(args), env=env)


def test_cli_reply_json_keeps_questions(bot, corpus_settings, tmp_path):
    msg = tmp_path / "msg.txt"
    msg.write_text(HEADLINE, encoding="utf-8")
    out = _cli(corpus_settings, "reply", str(msg), "--json")
    assert out.exit_code == 0, out.output
    obj = json.loads(out.stdout)
    assert obj["reply"].startswith("您好") and len(obj["questions"]) == 3
    assert all({"question", "answer", "citations"} <= set(q) for q in obj["questions"])
    assert obj["facts"]["capital_wan"] == 500


def test_batch_csv_round_trip_with_bad_rows(bot, corpus_settings, tmp_path):
    src = tmp_path / "in.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["客户", "问题"])
        w.writerow(["张三", "ICP证有效期几年？"])
        w.writerow([])
        w.writerow(["李四", "   "])
        w.writerow(["王五", "今天天气怎么样？"])
        w.writerow(["赵六", "<script>alert(1)</script>EDI证注册资本要多少？"])
    out = tmp_path / "out.csv"
    res = _cli(corpus_settings, "batch", str(src), "-o", str(out))
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 5
    assert rows[0]["question"] == "ICP证有效期几年？" and "5年" in rows[0]["answer"] and rows[0]["sources"]
    assert rows[1]["error"] and rows[2]["error"]  # blank row, whitespace row
    assert rows[3]["refused"] == "true"
    assert "1000万" in rows[4]["answer"] or "100万" in rows[4]["answer"]
    md = tmp_path / "out.md"
    assert _cli(corpus_settings, "batch", str(src), "-o", str(md)).exit_code == 0
    assert "<script>" not in md.read_text("utf-8") and md.read_text("utf-8").count("\n") == 2 + 5


def test_batch_xlsx_round_trip(bot, corpus_settings, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["question"], ["增值电信许可证有效期几年？"], [None], ["IDC和CDN分别是什么编号？"]):
        ws.append(row)
    src = tmp_path / "in.xlsx"
    wb.save(src)
    out = tmp_path / "out.xlsx"
    res = _cli(corpus_settings, "batch", str(src), "-o", str(out))
    assert res.exit_code == 0, res.output
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("question", "answer") and len(rows) == 4
    assert "5年" in rows[1][1] and rows[2][5] and "B12" in rows[3][1]


def test_api_reply(client):
    r = client.post("/api/reply", json={"message": HEADLINE, "tone": "简洁"})
    assert r.status_code == 200
    body = r.json()
    assert body["reply"].startswith("您好") and body["facts"]["province"] == "浙江"
    assert len(body["questions"]) == 3 and body["citations"] and body["answer_id"]
    assert all(c["url"].startswith("http://127.0.0.1:7860/articles/") for c in body["citations"])
    assert client.post("/api/reply", json={"message": " "}).status_code == 400


def test_a_numbered_question_without_a_licence_is_read_with_the_business(bot):
    """"2、有效期几年？" names no licence; the message's business says which (it was 暂无可靠资料 before)."""
    message = ("王总您好，我们公司在杭州，注册资本500万，做商家入驻的电商平台，全国用户。"
               "想问：1、需要办什么证？2、有效期几年？")
    reply = compose(bot, message)
    second = reply.sections[1]
    assert second.lead.text.startswith("5年"), second.lead.text
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", reply.text.split("参考来源：")[0])]
    in_order = list(dict.fromkeys(cited))  # footnotes numbered in reading order: 1, 2, 3… as first met
    assert in_order == list(range(1, len(in_order) + 1)), cited
