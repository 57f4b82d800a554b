"""Answers as the chat page shows them. Everything shown is escaped first: user, document and model text is
never HTML, and Markdown link syntax in it is defused."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

_REF_LINK = re.compile(r"^\s*\[([^\]]+)\]:\s*\S+", re.M)


def escape(text: str) -> str:
    """Shown as text: HTML escaped, Markdown links and reference-style link definitions defused."""
    text = html.escape(text, quote=False).replace("](", "]\u200b(")
    return _REF_LINK.sub(lambda m: m.group(0).replace("]:", "]\u200b:"), text)


def _fragment(c: dict[str, Any]) -> str:
    """A text fragment that makes the browser scroll to (and highlight) the quoted passage."""
    words = re.sub(r"\s+", "", str(c.get("text", "")))[:24]
    return f"#:~:text={quote(words)}" if words else ""


def answer_markdown(text: str, citations: list[dict[str, Any]]) -> str:
    """The answer with each [n] a link to the cited article, opened at the quoted passage."""
    by_n = {c["n"]: c for c in citations}
    out = escape(text)

    def link(m: re.Match[str]) -> str:
        c = by_n.get(int(m.group(1)))
        return f"[[{m.group(1)}]]({c['url']}{_fragment(c)})" if c and c.get("url") else m.group(0)

    return re.sub(r"\[(\d+)\]", link, out)


def sources_markdown(citations: list[dict[str, Any]]) -> str:
    parts = []
    for c in citations:
        quote_text = escape(c["text"]).replace("\n", "  \n> ")
        title = escape(c["title"])
        head = f"**[{c['n']}] [{title}]({c['url']}{_fragment(c)})**" if c.get("url") else f"**[{c['n']}] {title}**"
        parts.append(f"{head}\n\n> {quote_text}")
    return "\n\n".join(parts)


def plain(text: str, citations: list[dict[str, Any]], base: str = "") -> str:
    """Clean text for WeChat and e-mail: no Markdown, sources as numbered footnotes with full links."""
    body = re.sub(r"^- ", "· ", text, flags=re.M)
    if not citations:
        return body
    lines = [f"[{c['n']}] {c['title']} {base + c['url'] if str(c['url']).startswith('/') else c['url']}".rstrip()
             for c in citations]
    return body + "\n\n来源：\n" + "\n".join(lines)


def message_text(content: object) -> str:
    """Gradio gives message content as a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return content["text"]
    return ""
