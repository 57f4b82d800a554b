"""The chat tab: streamed answers with [n] linked to their sources, expandable quoted passages, 👍/👎 on every
answer, suggested follow-ups to click, example questions that send themselves, and a plain-text copy for WeChat."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from bot.ui.render import answer_markdown, escape, message_text, plain, sources_markdown

EXAMPLES = [
    "我只做支付宝小程序，没有独立APP，需要办增值电信许可证吗？",
    "ICP证注册资本最低要多少？",
    "增值电信许可证有效期几年？到期前多久要续？",
    "经营性网站和非经营性网站到底怎么区分？",
    "外资公司能办ICP证吗？股比有什么限制？",
]
NOT_READY = "知识库索引正在建立，请稍候几秒再提问。"
Outputs = tuple[list[dict[str, Any]], str, Any, str, dict[str, Any]]


def _turns(history: list[dict[str, Any]]) -> list[str]:
    return [m.get("metadata", {}).get("raw") or message_text(m.get("content")) for m in history
            if m.get("role") == "user"]


def respond(ctx: Any, message: str, history: list[dict[str, Any]], ids: dict[str, Any]) -> Iterator[Outputs]:
    """Stream one answer into the chat; `ids` maps assistant message positions to logged answer ids."""
    history, ids = list(history or []), dict(ids or {})
    text = message or ""
    turns = _turns(history) + [text]
    history.append({"role": "user", "content": escape(text), "metadata": {"raw": text}})
    bot = ctx.holder.get()
    if bot is None:
        history.append({"role": "assistant", "content": NOT_READY})
        yield history, "", gr.Dataset(samples=[]), "", ids
        return
    history.append({"role": "assistant", "content": ""})
    shown, final = "", None
    for event in bot.stream(text, turns):
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
        history[-1] = {"role": "assistant", "content": escape(shown)}
        yield history, "", gr.Dataset(samples=[]), "", ids
    if final is None:
        yield history, "", gr.Dataset(samples=[]), "", ids
        return
    ctx.log_answer(final, "page", None, turns[:-1])
    history[-1] = {"role": "assistant", "content": answer_markdown(final["answer"], final["citations"])}
    ids[str(len(history) - 1)] = final["answer_id"]
    if final["citations"]:
        history.append({"role": "assistant", "content": sources_markdown(final["citations"]),
                        "metadata": {"title": f"来源（{len(final['citations'])} 篇，点击展开原文）", "status": "done"}})
    samples = [[s] for s in final.get("suggestions") or []]
    yield history, "", gr.Dataset(samples=samples), plain(final["answer"], final["citations"]), ids


def feedback(ctx: Any, ids: dict[str, Any], data: gr.LikeData) -> str:
    """The chat's 👍/👎 on an answer, stored with it."""
    index = data.index[0] if isinstance(data.index, list | tuple) else data.index
    answer_id = (ids or {}).get(str(index))
    if not answer_id:
        return "（这条消息不是回答，无法评价）"
    try:
        ctx.feedback(answer_id, "up" if data.liked else "down", None)
    except Exception:
        return "反馈暂时无法保存，请稍后再试。"
    return "感谢反馈！" if data.liked else "感谢反馈，我们会据此改进知识库。"


def tab(ctx: Any) -> None:
    chatbot = gr.Chatbot(label="对话", height=520, buttons=["copy", "copy_all"], sanitize_html=True,
                         latex_delimiters=[], allow_tags=False, feedback_options=("Like", "Dislike"),
                         placeholder="请输入您关于增值电信业务许可的问题")
    ids = gr.State({})
    with gr.Row():
        box = gr.Textbox(
            label="您的问题",
            placeholder="例如：我只做支付宝小程序，需要办ICP证吗？",
            show_label=False,
            scale=8,
            max_lines=8,
            autofocus=True,
        )
        send = gr.Button("发送", variant="primary", scale=1)
    suggestions = gr.Dataset(components=[gr.Textbox(visible=False)], samples=[], label="您可能还想问")
    with gr.Row():
        examples = [gr.Button(q, size="sm") for q in EXAMPLES]
    with gr.Accordion("复制为纯文本（适合粘贴到微信、邮件）", open=False):
        plain_box = gr.Textbox(show_label=False, lines=8, buttons=["copy"], interactive=False)
    with gr.Row():
        clear = gr.Button("新对话")
        status = gr.Markdown()
    outputs = [chatbot, box, suggestions, plain_box, ids]

    def run(message: str, history: list[dict[str, Any]], state: dict[str, Any]) -> Iterator[Outputs]:
        yield from respond(ctx, message, history, state)

    send.click(run, [box, chatbot, ids], outputs, api_name="respond")
    box.submit(run, [box, chatbot, ids], outputs, api_visibility="private")
    for button, question in zip(examples, EXAMPLES, strict=True):
        button.click(run, [gr.State(question), chatbot, ids], outputs, api_visibility="private")

    def follow(sample: list[str], history: list[dict[str, Any]], state: dict[str, Any]) -> Iterator[Outputs]:
        yield from respond(ctx, sample[0], history, state)

    suggestions.click(follow, [suggestions, chatbot, ids], outputs, api_visibility="private")
    def rate(state: dict[str, Any], data: gr.LikeData) -> str:  # the annotation is how Gradio passes LikeData
        return feedback(ctx, state, data)

    chatbot.like(rate, [ids], status, api_visibility="private")
    clear.click(lambda: ([], "", gr.Dataset(samples=[]), "", {}), None, outputs, api_visibility="private")
