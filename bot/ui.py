"""The Gradio chat page. Everything shown is escaped first: user, document and model text is never HTML."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator

import gradio as gr

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


def format_text(text: str) -> str:
    return _escape(text)


def format_sources(citations: list[dict]) -> str:
    parts = []
    for c in citations:
        quote = _escape(c["text"]).replace("\n", "  \n> ")
        link = html.escape(c["url"], quote=True)
        parts.append(f"**[{c['n']}] {_escape(c['title'])}**  \n<{link}>\n\n> {quote}")
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
        history.append({"role": "assistant", "content": ""})
        shown = ""
        final = None
        # Stream the bot's events: text as it is written; "reset" when a model answer is replaced.
        for event in bot.stream(user_text, [html.unescape(t) for t in turns] + [user_text]):
            kind = event["type"]
            if kind == "delta":
                shown += event["text"]
            elif kind == "reset":
                shown = ""
            elif kind == "error":
                shown = event["message"]
            elif kind == "done":
                final = event["answer"]
                continue
            else:
                continue
            history[-1] = {"role": "assistant", "content": format_text(shown)}
            yield history, ""
        if final and final["citations"]:
            history.append({"role": "assistant", "content": format_sources(final["citations"]),
                            "metadata": {"title": f"来源（{len(final['citations'])} 篇，点击展开原文）", "status": "done"}})
        yield history, ""

    def draft_reply(message: str, tone: str, with_sources: bool) -> tuple[str, str]:
        from bot.reply import compose

        bot = get_bot()
        if bot is None:
            return NOT_READY, ""
        try:
            result = compose(bot, message or "", tone=tone, sources=with_sources)
        except BadQuestion as exc:
            return str(exc), ""
        facts = result.facts
        rows = [("地区", facts.region), ("注册资本", f"{facts.registered_capital_wan:g}万元" if facts.registered_capital_wan is not None else None),
                ("业务范围", facts.scope), ("业务", "、".join(facts.business)), ("平台", "、".join(facts.platforms)),
                ("外资", facts.foreign), ("已有资质", "、".join(facts.licences_held)),
                ("识别出的问题", "；".join(q.question for q in result.questions))]
        summary = "\n".join(f"- **{k}**：{_escape(v)}" for k, v in rows if v)
        return result.text, summary or "（未识别出客户信息）"

    with gr.Blocks(title="增值电信许可问答") as demo:
        gr.Markdown("## 增值电信业务许可问答\n基于知识库文章回答 ICP证、EDI证、IDC、CDN、SP证、呼叫中心、码号、小程序/APP备案、外资准入等问题；每句话都标注来源。")
        with gr.Tab("问答"):
            chat_tab(respond)
        with gr.Tab("客户咨询回复"):
            gr.Markdown("把客户的原话（微信、邮件）粘贴进来：自动识别客户情况和其中的每个问题，逐一从知识库作答，生成可直接发送的回复。")
            message = gr.Textbox(label="客户原话", lines=10, max_lines=30,
                                 placeholder="例如：王总您好，我们公司在杭州，注册资本500万，客户遍布全国……想问：1、需要办什么证？2、多久能批下来？")
            with gr.Row():
                tone = gr.Radio(["正式", "简洁"], value="正式", label="语气")
                with_sources = gr.Checkbox(value=True, label="附来源脚注")
                draft = gr.Button("生成回复", variant="primary")
            reply_box = gr.Textbox(label="回复（纯文本，可一键复制）", lines=16, max_lines=60, buttons=["copy"],
                                   interactive=False)
            facts_md = gr.Markdown()
            draft.click(draft_reply, [message, tone, with_sources], [reply_box, facts_md], api_name="reply")
        gr.Markdown("回答摘自知识库文章，仅供参考，不构成法律意见。")
    return demo


def chat_tab(respond) -> None:
    """The chat: streamed answers with inline [n] and expandable sources."""
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
    send.click(respond, [box, chatbot], [chatbot, box], api_name="respond")
    box.submit(respond, [box, chatbot], [chatbot, box], api_name=False)
    clear.click(lambda: ([], ""), None, [chatbot, box], api_name=False)


def theme() -> gr.themes.Base:
    return gr.themes.Soft(font=FONTS, font_mono=["ui-monospace", "monospace"])
