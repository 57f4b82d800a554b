"""The 许可自测 tab: describe the business (a form, free text, or both) and get the licences, filings and
approvals it needs — each with its verdict, why, who to apply to — plus capital and foreign-share rules."""

from __future__ import annotations

from typing import Any

import gradio as gr

from bot import vocab
from bot.ui.render import escape, plain

NOT_READY = "知识库索引正在建立，请稍候几秒再试。"
PROVINCES = vocab.table("facts")["provinces"]


def _table(result: Any) -> str:
    rows = ["| 事项 | 结论 | 原因 | 办理机关 |", "| --- | --- | --- | --- |"]
    for i in result.items:
        why = escape("；".join(i.reasons)).replace("|", "\\|")
        rows.append(f"| {escape(i.name)} | **{i.verdict}** | {why} | {escape(i.authority) or '—'} |")
    return "\n".join(rows)


def run(ctx: Any, description: str, activities: list[str], paid: str, merchants: bool, channels: list[str],
        scope: str, province: str, capital: float | None, share: float | None, country: str,
        pilot: str) -> tuple[str, str]:
    from bot.assess import assess
    from bot.facts import from_form
    from bot.query import BadQuestion, check

    bot = ctx.holder.get()
    if bot is None:
        return NOT_READY, ""
    labels = vocab.table("rules")["activities"]
    form = {"activities": [k for k, v in labels.items() if v in (activities or [])],
            "paid": {"收费": True, "免费": False}.get(paid), "merchants": merchants or None,
            "channels": channels or None, "scope": scope if scope in ("省内", "跨省") else None,
            "province": province or None, "capital_wan": capital or None, "foreign_share": share or None,
            "foreign_country": (country or "").strip() or None, "pilot_area": pilot if pilot != "否" else None}
    text = ""
    if (description or "").strip():
        try:
            text, _ = check(description, bot.settings.max_question_chars)
        except BadQuestion as exc:
            return str(exc), ""
    if not text and not any(v for v in form.values()):
        return "请描述您的业务，或在表单中勾选业务信息。", ""
    result = assess(bot.kb, from_form(form, text))
    ctx.log_text(text or str(form), result.render(), result.citations, "assess", None)
    cites = [c.to_dict() for c in result.citations]
    sources = "\n".join(f"- [{c['n']}] [{escape(c['title'])}]({c['url']})" for c in cites)
    extra = "\n\n".join(escape(x) for x in (result.capital, result.foreign, result.review) if x)
    notes = ("\n\n说明：" + escape("；".join(result.facts.assumed))) if result.facts.assumed else ""
    md = f"### {escape(result.conclusion())}\n\n{_table(result)}\n\n{extra}{notes}\n\n**来源**\n\n{sources}"
    return md, plain(result.render(), cites, ctx.settings.article_base_url)


def tab(ctx: Any) -> None:
    gr.Markdown("描述您的业务（或勾选表单），判断需要哪些增值电信许可证、备案和前置审批，向谁申请、注册资本和外资股比要求；"
                "每条结论都注明依据。")
    description = gr.Textbox(label="业务描述（可选）", lines=3,
                             placeholder="例如：杭州SaaS公司，注册资本500万，做商家入驻开店的平台，全国用户，新加坡股东占20%")
    labels = list(vocab.table("rules")["activities"].values())
    with gr.Row():
        activities = gr.CheckboxGroup(labels, label="业务内容")
    with gr.Row():
        paid = gr.Radio(["收费", "免费", "不确定"], value="不确定", label="是否收费")
        merchants = gr.Checkbox(label="有第三方商家入驻")
        channels = gr.CheckboxGroup(["网站", "APP", "小程序"], label="提供方式")
    with gr.Row():
        scope = gr.Radio(["省内", "跨省", "不确定"], value="不确定", label="业务覆盖范围")
        province = gr.Dropdown(PROVINCES, label="注册地（省）", value=None)
        capital = gr.Number(label="注册资本（万元）", value=None, minimum=0)
    with gr.Row():
        share = gr.Number(label="外资股比（%）", value=None, minimum=0, maximum=100)
        country = gr.Textbox(label="外资股东国家/地区", max_lines=1)
        pilot = gr.Dropdown(["否", "北京", "上海临港", "海南", "深圳"], value="否", label="位于2024年开放试点地区")
    button = gr.Button("开始自测", variant="primary")
    result = gr.Markdown()
    with gr.Accordion("复制为纯文本", open=False):
        plain_box = gr.Textbox(show_label=False, lines=12, buttons=["copy"], interactive=False)
    inputs = [description, activities, paid, merchants, channels, scope, province, capital, share, country, pilot]
    button.click(lambda *a: run(ctx, *a), inputs, [result, plain_box], api_name="assess")
