"""The Gradio chat page. Everything shown is escaped first: user, document and model text is never HTML."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator

import gradio as gr

from bot.answer import Answer
from bot.questions import BadQuestion

EXAMPLES = [
    "我只做支付宝小程序，没有独立APP，需要办增值电信许可证吗？",
    "ICP证注册资本最低要多少？",
    "增值电信许可证有效期几年？到期前多久要续？",
    "经营性网站和非经营性网站到底怎么区分？",
    "外资公司能办ICP证吗？股比有什么限制？",
]
NOT_READY = "知识库索引正在建立，请稍候几秒再提问。"
# System fonts only: Gradio's default theme pulls fonts from Google, and this page must work offline.
FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", "system-ui", "sans-serif"]


def _escape(text: str) -> str:
    """Shown as text: HTML escaped, and Markdown link/image syntax defused."""
    return html.escape(text, quote=False).replace("](", "]\u200b(")


def message_text(content: object) -> str:
    """Gradio 6 gives message content as a list of parts; older clients send a plain string."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def format_answer(ans: Answer) -> str:
    text = _escape(ans.answer)
    return re.sub(r"\[(\d+)\]", r"**[\1]**", text)


def format_sources(ans: Answer) -> str:
    parts = []
    for c in ans.citations:
        quote = _escape(c.text).replace("\n", "  \n> ")
        link = html.escape(c.url, quote=True)
        title = _escape(c.title)
        parts.append(f"**[{c.n}] {title}**  \n<{link}>\n\n> {quote}")
    return "\n\n".join(parts)


def build_ui(get_bot: Callable[[], object | None]) -> gr.Blocks:
    """`get_bot` returns the Bot, or None while the index is still being built."""

    def respond(message: str, history: list[dict]) -> Iterator[tuple[list[dict], str]]:
        history = list(history or [])
        turns = [message_text(m.get("content")) for m in history if m.get("role") == "user"]
        user_text = message or ""
        history.append({"role": "user", "content": _escape(user_text)})
        bot = get_bot()
        if bot is None:
            history.append({"role": "assistant", "content": NOT_READY})
            yield history, ""
            return
        try:
            ans = bot.ask(user_text, [html.unescape(t) for t in turns] + [user_text])
        except BadQuestion as exc:
            history.append({"role": "assistant", "content": _escape(str(exc))})
            yield history, ""
            return
        body = format_answer(ans)
        history.append({"role": "assistant", "content": ""})
        # Stream the answer in small pieces so it appears as it is written.
        step = 12
        for i in range(step, len(body) + step, step):
            history[-1] = {"role": "assistant", "content": body[:i]}
            yield history, ""
            time.sleep(0.01)
        if ans.citations:
            history.append({"role": "assistant", "content": format_sources(ans),
                            "metadata": {"title": f"来源（{len(ans.citations)} 篇，点击展开原文）", "status": "done"}})
        yield history, ""

    with gr.Blocks(title="增值电信许可问答") as demo:
        gr.Markdown("## 增值电信业务许可问答\n基于知识库文章回答 ICP证、EDI证、IDC、CDN、SP证、呼叫中心、码号、小程序/APP备案、外资准入等问题；每句话都标注来源。")
        chatbot = gr.Chatbot(label="对话", height=520, buttons=["copy", "copy_all"], sanitize_html=True,
                             latex_delimiters=[], allow_tags=False, feedback_options=None,
                             placeholder="请输入您关于增值电信业务许可的问题")
        with gr.Row():
            box = gr.Textbox(placeholder="例如：我只做支付宝小程序，需要办ICP证吗？", show_label=False,
                             scale=8, max_lines=8, autofocus=True)
            send = gr.Button("发送", variant="primary", scale=1)
        with gr.Row():
            clear = gr.Button("清空对话")
        gr.Examples(EXAMPLES, inputs=box, label="示例问题")
        gr.Markdown("回答摘自知识库文章，仅供参考，不构成法律意见。")
        send.click(respond, [box, chatbot], [chatbot, box], api_name="respond")
        box.submit(respond, [box, chatbot], [chatbot, box], api_name=False)
        clear.click(lambda: ([], ""), None, [chatbot, box], api_name=False)
    return demo


def theme() -> gr.themes.Base:
    return gr.themes.Soft(font=FONTS, font_mono=["ui-monospace", "monospace"])
