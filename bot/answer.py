"""What an answer is: sections (a conclusion first, then a few points, each cited), notes, citations — and
its renderings for the surfaces (text with [n] for the CLI and API, Markdown for the page, plain text with
numbered footnotes for WeChat and e-mail). Surfaces render; they never re-parse rendered text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot import vocab

_MSG = vocab.table("messages")
DISCLAIMER: str = _MSG["disclaimer"]
REFUSAL: str = _MSG["refusal"]
REFUSAL_META: str = _MSG["refusal_meta"]
PRICE_NOTE: str = _MSG["price_note"]
DURATION_NOTE: str = _MSG["duration_note"]
ENGLISH_NOTE: str = _MSG["english_note"]


def source_line(n: int, title: str, url: str) -> str:
    """A footnote line: "[n] title url"."""
    return f"[{n}] {title} {url}".rstrip()


def article_url(settings: Any, doc_id: str) -> str:
    """Where a citation links when the article has no source URL: the web app's article page (absolute when
    BOT_ARTICLE_BASE_URL is set)."""
    return f"{settings.article_base_url.rstrip('/')}/articles/{doc_id}"


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    url: str
    chunk_id: str
    text: str

    def to_dict(self) -> dict:
        return {"n": self.n, "doc_id": self.doc_id, "title": self.title, "url": self.url,
                "chunk_id": self.chunk_id, "text": self.text}


@dataclass
class Point:
    """One statement: a verbatim sentence (or clause) of a cited chunk, a card's curated answer, or a
    correction; `cites` are citation numbers."""

    text: str
    cites: list[int] = field(default_factory=list)
    kind: str = "passage"  # "passage" | "card" | "correction" | "rule" | "generated"

    def marked(self) -> str:
        return self.text + "".join(f"[{n}]" for n in self.cites)


@dataclass
class Section:
    """The answer to one question: the conclusion, then the reasons."""

    lead: Point
    points: list[Point] = field(default_factory=list)
    heading: str | None = None  # the question, when a message asked several


@dataclass
class Answer:
    question: str
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    confidence: float = 0.0
    latency_ms: float = 0.0
    notice: str | None = None  # shown first: the input was cut, the model fell back …
    suggestions: list[str] = field(default_factory=list)  # related questions the user can ask next
    answer_id: str | None = None
    message: str | None = None  # a refusal's or a generated answer's whole text
    # Diagnostics, kept out of the JSON contract.
    retrieval_ms: float = 0.0
    answer_ms: float = 0.0

    @property
    def answer(self) -> str:
        return render_text(self)

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer, "citations": [c.to_dict() for c in self.citations],
                "refused": self.refused, "confidence": self.confidence, "latency_ms": round(self.latency_ms, 1),
                "suggestions": list(self.suggestions), "answer_id": self.answer_id}


def refusal(question: str, meta: bool = False, confidence: float = 0.0) -> Answer:
    return Answer(question=question, message=REFUSAL_META if meta else REFUSAL, refused=True, confidence=confidence)


def _blocks(answer: Answer, bullet: str, heading: str) -> list[str]:
    blocks = [f"（{answer.notice}）"] if answer.notice else []
    if answer.message is not None:
        return blocks + [answer.message]
    if len(answer.sections) > 1 and not any(s.heading for s in answer.sections):
        # A compound question answered in one go: the conclusions first, then the reasons.
        blocks.append("\n".join([s.lead.marked() for s in answer.sections]
                                + [f"{bullet}{p.marked()}" for s in answer.sections for p in s.points]))
    else:
        for s in answer.sections:
            lines = [heading.format(s.heading)] if s.heading else []
            lines += [s.lead.marked()] + [f"{bullet}{p.marked()}" for p in s.points]
            blocks.append("\n".join(lines))
    blocks += answer.notes
    if answer.sections:
        blocks.append(DISCLAIMER)
    return blocks


def render_text(answer: Answer) -> str:
    """Plain text with inline [n] markers: the CLI, the JSON `answer` field, the API."""
    return "\n\n".join(_blocks(answer, "- ", "【{}】"))


def render_markdown(answer: Answer, link: str = "#src-{n}") -> str:
    """Markdown for the chat page: [n] markers become links to the sources list. Quoted text is escaped by the
    caller's renderer settings (no HTML)."""
    text = "\n\n".join(_blocks(answer, "- ", "**{}**"))
    return re.sub(r"\[(\d+)\]", lambda m: f"[[{m.group(1)}]]({link.format(n=m.group(1))})", text)


def render_plain(answer: Answer, with_sources: bool = True) -> str:
    """Clean text for WeChat and e-mail: no Markdown, sources as numbered footnotes with full links."""
    text = "\n\n".join(_blocks(answer, "· ", "【{}】"))
    if with_sources and answer.citations:
        text += "\n\n来源：\n" + "\n".join(source_line(c.n, c.title, c.url) for c in answer.citations)
    return text if with_sources else re.sub(r"\[\d+\]", "", text)
