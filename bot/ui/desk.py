"""The sales-desk tab: paste a client's message, get a reply ready to send (editable before copying)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from bot.query import BadQuestion
from bot.ui.render import escape

NOT_READY = "知识库索引正在建立，请稍候几秒再试。"


def draft(ctx: Any, message: str, tone: str, with_sources: bool) -> tuple[str, str]:
    from bot.reply import compose

    bot = ctx.holder.get()
    if bot is None:
        return NOT_READY, ""
    try:
        result = compose(bot, message or "", tone=tone, sources=with_sources, base=ctx.settings.article_base_url)
    except BadQuestion as exc:
        return str(exc), ""
    ctx.log_text(message or "", result.text, result.citations, "reply", None)
    facts = result.facts
    rows = [("客户情况", facts.summary()), ("识别出的问题", "；".join(s.question for s in result.sections)),
            ("未说明的情况", "；".join(facts.assumed))]
    summary = "\n".join(f"- **{k}**：{escape(v)}" for k, v in rows if v)
    return result.text, summary or "（未识别出客户信息）"


def tab(ctx: Any) -> None:
    gr.Markdown("把客户的原话（微信、邮件）粘贴进来：自动识别客户情况和其中的每个问题，逐一从知识库作答，"
                "生成可直接发送的回复（发送前可修改）。")
    message = gr.Textbox(label="客户原话", lines=10, max_lines=30,
                         placeholder="例如：王总您好，我们公司在杭州，注册资本500万，客户遍布全国……想问：1、需要办什么证？2、多久能批下来？")
    with gr.Row():
        tone = gr.Radio(["正式", "简洁"], value="正式", label="语气")
        with_sources = gr.Checkbox(value=True, label="附来源脚注")
        button = gr.Button("生成回复", variant="primary")
    reply_box = gr.Textbox(label="回复（纯文本，可修改后一键复制）", lines=16, max_lines=60, buttons=["copy"],
                           interactive=True)
    facts_md = gr.Markdown()
    button.click(lambda m, t, s: draft(ctx, m, t, s), [message, tone, with_sources], [reply_box, facts_md],
                 api_name="reply")
