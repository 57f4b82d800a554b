"""The Gradio page: the chat, the sales desk and the licence self-assessment, one tab each."""

from __future__ import annotations

from typing import Any

import gradio as gr

from bot.ui import assess, chat, desk
from bot.ui.render import message_text

__all__ = ["build_ui", "message_text", "theme"]

# System fonts only: Gradio's default theme pulls fonts from Google, and this page must work offline.
FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", "system-ui", "sans-serif"]


def build_ui(ctx: Any) -> gr.Blocks:
    """`ctx` is the web app's Context (bot holder, log); the page works while the index is still building."""
    with gr.Blocks(title="增值电信许可问答") as page:
        gr.Markdown("## 增值电信业务许可问答\n基于知识库文章回答 ICP证、EDI证、IDC、CDN、SP证、呼叫中心、码号、"
                    "小程序/APP备案、外资准入等问题；每句话都标注来源。")
        with gr.Tab("问答"):
            chat.tab(ctx)
        with gr.Tab("许可自测"):
            assess.tab(ctx)
        with gr.Tab("客户咨询回复"):
            desk.tab(ctx)
        gr.Markdown("回答摘自知识库文章，仅供参考，不构成法律意见。")
    return page


def theme() -> gr.themes.Base:
    return gr.themes.Soft(font=FONTS, font_mono=["ui-monospace", "monospace"])
