"""Sales desk: question splitting and client facts on realistic messages, composed replies, batches."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import httpx
import pytest

from bot.questions import question_parts
from bot.reply import compose, extract_facts
from tests.conftest import ROOT, SHARED, start_app, stop

# Realistic client messages written for the project: (message, expected questions, expected facts).
MESSAGES = [
    ("王总您好，我们是杭州一家做跨境电商SaaS的公司，注册资本300万，客户遍布全国，股东里有一家香港公司持股30%。"
     "我们准备上线一个B2B交易平台，允许第三方商家入驻。想请教：\n1、我们需要办哪个证？\n2、审批一般要多久？\n3、外资股东会不会影响办证？",
     ["我们需要办哪个证？", "审批一般要多久？", "外资股东会不会影响办证？"],
     {"region": "浙江杭州", "registered_capital_wan": 300, "scope": "全国/跨省"}),
    ("您好，我司在深圳，注册资金1000万元，只做广东省内业务。\n1. 办ICP证需要什么材料？\n2. 多久能下证？",
     ["办ICP证需要什么材料？", "多久能下证？"], {"region": "广东深圳", "registered_capital_wan": 1000, "scope": "省内"}),
    ("（1）增值电信许可证有效期几年？（2）到期前多久要申请续期？（3）公司改名了要不要变更？",
     ["增值电信许可证有效期几年？", "到期前多久要申请续期？", "公司改名了要不要变更？"], {}),
    ("①我们的APP要不要备案？②小程序呢？③备案和ICP证有什么区别？",
     ["我们的APP要不要备案？", "小程序呢？", "备案和ICP证有什么区别？"], {"platforms": ["APP", "小程序"]}),
    ("老板让我问下，我们成都的公司做本地家政小程序，用户在线下单付款，需要办什么资质？另外小程序备案是不是也要做？还有审批要多长时间？",
     ["需要办什么资质？", "小程序备案是不是也要做？", "审批要多长时间？"], {"region": "四川成都"}),
    ("我们是一家美资控股的公司，想在上海做云服务器和CDN加速业务，已经有ICP证了，还需要办别的证吗？",
     ["我们是一家美资控股的公司，想在上海做云服务器和CDN加速业务，已经有ICP证了，还需要办别的证吗？"],
     {"region": "上海", "licences_held": ["ICP证"]}),
    ("我们公司在北京，注册资本500万，准备开一个在线教育平台，会员付费看课，全国用户都能买，想了解一下需要准备什么",
     ["我们公司在北京，注册资本500万，准备开一个在线教育平台，会员付费看课，全国用户都能买，想了解一下需要准备什么"],
     {"region": "北京", "registered_capital_wan": 500, "scope": "全国/跨省"}),
    ("ICP证注册资本最低要多少？", ["ICP证注册资本最低要多少？"], {}),
    ("客户说：手上有几个106码号用不完，能不能租给合作方？以及被查到怎么罚？",
     ["手上有几个106码号用不完，能不能租给合作方？", "被查到怎么罚？"], {"business": ["短信/106码号"]}),
]


@pytest.mark.parametrize("message,questions,facts", MESSAGES, ids=[f"m{i}" for i in range(len(MESSAGES))])
def test_questions_and_facts_are_read_from_the_message(message, questions, facts):
    shown = [q for q, _ in question_parts(message)]
    # background clauses stay with the first question they precede
    assert len(shown) == len(questions) and all(s.endswith(q) for s, q in zip(shown, questions)), shown
    got = extract_facts(message)
    for key, value in facts.items():
        actual = getattr(got, key)
        if isinstance(value, list):
            assert set(value) <= set(actual), (key, actual)
        else:
            assert actual == value, (key, actual)


def test_foreign_shareholder_is_recognised():
    f = extract_facts("我们是一家美资控股70%的公司，做B2B交易平台，商家入驻")
    assert f.foreign and "70%" in f.foreign
    assert "电商平台（商家入驻）" in f.business


def test_reply_uses_the_facts_that_decide_the_answer(bot):
    r = compose(bot, MESSAGES[0][0])
    text = r.text
    assert text.startswith("您好") and "以上供参考" in text and "参考来源：" in text
    assert "1000万" in text and "注册资本300万元" in text  # capital below the cross-region minimum
    assert "100%" in text  # foreign shareholder + e-commerce platform
    assert "在线数据处理与交易处理" in text
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", text.split("参考来源：")[0])}
    assert markers == {c["n"] for c in r.citations}


def test_sales_paste_dev_questions_get_every_question_answered(bot):
    cases = [json.loads(l) for l in (SHARED / "eval" / "dev.jsonl").read_text("utf-8").splitlines()
             if l.strip() and json.loads(l)["topic"] == "销售粘贴"]
    assert cases
    for case in cases:
        r = compose(bot, case["question"])
        assert len(r.questions) >= 2
        for q in r.questions:
            assert not q.refused and q.citations, q.question
        assert "备案" in r.text and re.search(r"在线数据处理与交易处理|EDI", r.text)


def test_concise_tone_and_no_sources(bot):
    full = compose(bot, MESSAGES[2][0])
    short = compose(bot, MESSAGES[2][0], tone="简洁", sources=False)
    assert len(short.text) < len(full.text)
    assert "参考来源" not in short.text and not re.search(r"\[\d+\]", short.text)


def _cli(settings, *args):
    env = {**os.environ, "BOT_INDEX_DIR": str(settings.index_dir), "BOT_EMBED_CACHE": str(settings.cache_path)}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


def test_cli_reply(bot, corpus_settings, tmp_path):
    msg = tmp_path / "msg.txt"
    msg.write_text(MESSAGES[1][0], encoding="utf-8")
    out = _cli(corpus_settings, "reply", str(msg))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("您好") and "参考来源" in out.stdout


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
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 5
    assert rows[0]["question"] == "ICP证有效期几年？" and "5年" in rows[0]["answer"] and rows[0]["sources"]
    assert rows[1]["error"] and rows[2]["error"]  # blank row, whitespace row
    assert rows[3]["refused"] == "true"
    assert "1000万" in rows[4]["answer"] or "100万" in rows[4]["answer"]
    md = tmp_path / "out.md"
    assert _cli(corpus_settings, "batch", str(src), "-o", str(md)).returncode == 0
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
    assert res.returncode == 0, res.stderr
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("question", "answer") and len(rows) == 4
    assert "5年" in rows[1][1] and rows[2][5] and "B12" in rows[3][1]


def test_api_reply(bot, corpus_settings):
    url, proc = start_app(corpus_settings, BOT_RATE_LIMIT="1000/minute")
    try:
        r = httpx.post(url + "/api/reply", json={"message": MESSAGES[1][0], "tone": "简洁"}, timeout=120)
        assert r.status_code == 200
        body = r.json()
        assert body["reply"].startswith("您好") and body["facts"]["region"] == "广东深圳"
        assert len(body["questions"]) == 2 and body["citations"]
        assert httpx.post(url + "/api/reply", json={"message": " "}, timeout=60).status_code == 400
        from gradio_client import Client

        text, facts = Client(url + "/", verbose=False).predict(MESSAGES[4][0], "正式", True, api_name="/reply")
        assert text.startswith("您好") and "成都" in facts
    finally:
        stop(proc)
