"""Sales desk: read a client's pasted message and write the reply a salesperson sends as it is.

Each question in the message is answered on its own: "要办什么证？", the foreign shareholder and the capital from
the licence assessment of the business the message describes; everything else from its own retrieval, read with
the message's subject but not drowned by its background. The client's facts are applied where they decide
("贵司注册资本500万元，全国经营需达到1000万元"). The reply is plain text with numbered footnotes (absolute links when
BOT_ARTICLE_BASE_URL is set) that pastes cleanly into WeChat and e-mail. Words and limits: bot/data/desk.toml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot import vocab
from bot.answer import Citation, Point, source_line
from bot.assess import Assessment, assess
from bot.facts import BusinessFacts, for_question, from_text
from bot.normalize import overlap
from bot.query import Query, asked, check, items, self_contained
from bot.scope import on_topic

JOIN_LEADS = 150  # characters up to which the conclusions of a compound question share the first line


@dataclass
class ReplySection:
    question: str
    lead: Point
    points: list[Point] = field(default_factory=list)
    source: str = "answer"  # "assessment" | "answer" | "none"

    def text(self) -> str:
        return "\n".join([self.lead.marked()] + [f"· {p.marked()}" for p in self.points])


@dataclass
class Reply:
    facts: BusinessFacts
    sections: list[ReplySection]
    notes: list[Point]
    citations: list[Citation]
    text: str
    assessment: Assessment | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reply": self.text, "facts": self.facts.to_dict(),
                "questions": [{"question": s.question, "answer": s.text(), "source": s.source,
                               "citations": sorted({n for p in [s.lead, *s.points] for n in p.cites})}
                              for s in self.sections],
                "citations": [c.to_dict() for c in self.citations]}


def _desk() -> dict[str, Any]:
    return vocab.table("desk")


class _Numbers:
    """One numbering of sources for the whole reply, in order of first use — one footnote per article (a
    client opens articles, not passages), with an absolute link when the site's address is known."""

    def __init__(self, kb: Any, base: str = "") -> None:
        self.kb = kb
        self.by_doc: dict[str, Citation] = {}
        self.base = base.rstrip("/")

    def point(self, text: str, cites: list[Citation], kind: str = "passage") -> Point:
        ns = []
        for c in cites:
            if c.doc_id not in self.by_doc:
                url = self.base + c.url if c.url.startswith("/") else c.url
                self.by_doc[c.doc_id] = Citation(len(self.by_doc) + 1, c.doc_id, c.title, url, c.chunk_id, c.text)
            ns.append(self.by_doc[c.doc_id].n)
        return Point(re.sub(r"\[\d+\]", "", text).strip(), list(dict.fromkeys(ns)), kind)

    @property
    def citations(self) -> list[Citation]:
        return sorted(self.by_doc.values(), key=lambda c: c.n)


def _cited(text: str, citations: list[Citation]) -> list[Citation]:
    """The citations a text's [n] markers point at."""
    by_n = {c.n: c for c in citations}
    return [by_n[int(n)] for n in re.findall(r"\[(\d+)\]", text) if int(n) in by_n]


def _context(q: Query, facts: BusinessFacts) -> Query:
    """A question without a subject of its own is read with what the business is (not the whole background)
    and with the question it follows on from."""
    if not q.background:
        return q
    if self_contained(q.text) and on_topic(q.text):
        return Query(q.text, q.context)  # it names its own subject: the background would only drown it
    labels = vocab.table("rules")["activities"]
    subject = "；".join(labels[a] for a in facts.activities if a in labels)
    return Query(q.text, q.context, subject or q.background[:60])


def _from_assessment(q: Query, a: Assessment | None, nums: _Numbers, points: int) -> ReplySection | None:
    if a is not None:
        supposed = for_question(a.facts, q.text)
        if supposed != a.facts:  # the question supposes other facts ("以后加付费版…")
            a = assess(nums.kb, supposed)
    found = a.answer_for(q, points) if a else None
    if a is None or found is None:
        return None
    lead, reasons = found
    said = [nums.point(r, _cited(r, a.citations)) for r in reasons]
    if "需增资" in a.capital and lead == a.conclusion():
        # the client's capital decides: say so where the licence is named (kept when the reply is shortened)
        said.insert(0, nums.point(a.capital, _cited(a.capital, a.citations), "fact"))
    head = nums.point(lead, _cited(lead, a.citations), "rule")
    return ReplySection(q.text, head, said, "assessment")


def _from_answer(bot: Any, q: Query, facts: BusinessFacts, nums: _Numbers, points: int) -> ReplySection:
    ans = bot.answer_query(_context(q, facts), points=points)
    if ans.refused or not ans.sections:
        return ReplySection(q.text, Point(_desk()["text"]["unknown"], [], "none"), [], "none")
    sec = ans.sections[0]
    by_n = {c.n: c for c in ans.citations}
    lead = nums.point(sec.lead.text, [by_n[n] for n in sec.lead.cites], sec.lead.kind)
    return ReplySection(q.text, lead, [nums.point(p.text, [by_n[n] for n in p.cites], p.kind) for p in sec.points])


def _section(bot: Any, group: list[Query], facts: BusinessFacts, a: Assessment | None, nums: _Numbers,
             points: int) -> ReplySection:
    """One question as the client numbered it. A clause the assessment answers ("…还是要办ICP证？") leads; the
    other clauses ("…够不够？不够的话要增到多少？") add their conclusions when they say something new."""
    decided = [(i, s) for i, s in ((i, _from_assessment(q, a, nums, points)) for i, q in enumerate(group)) if s]
    own = next((s for i, s in decided if i == 0), None)
    if own is None and not (decided and _alternative(group)):
        own = _from_answer(bot, group[0], facts, nums, points)
    # The first clause leads unless only a quoted sentence answers it and the assessment decides a later one.
    weak = own is None or own.source == "none" or own.lead.kind == "passage"
    first_i, sec = decided[0] if decided and weak else (0, own) if own is not None else (0, _none(group[0]))
    for i, q in enumerate(group):
        if i == first_i:
            continue
        more = next((s for j, s in decided if j == i), None) or _from_answer(bot, q, facts, nums, 0)
        said = [sec.lead.text, *(p.text for p in sec.points)]
        if more.source == "none" or any(overlap(more.lead.text, t) >= 0.5 for t in said):
            continue
        at = sum(p.kind in ("lead", "fact") for p in sec.points)
        if len(sec.lead.text) + len(more.lead.text) <= JOIN_LEADS:
            # a compound question answered in one line: "不能……；可以向……租用。"
            sec.lead = Point(sec.lead.text.rstrip("。") + "；" + more.lead.text,
                             list(dict.fromkeys(sec.lead.cites + more.lead.cites)), sec.lead.kind)
        else:
            sec.points.insert(at, Point(more.lead.text, more.lead.cites, "lead"))
            at += 1
        sec.points[at:at] = [p for p in more.points if p.kind == "fact"]
    sec.question = "".join(t if t.endswith(("？", "?")) or i == len(group) - 1 else t + "，"
                           for i, t in enumerate(asked(q.text) for q in group))
    return sec


def _none(q: Query) -> ReplySection:
    return ReplySection(q.text, Point(_desk()["text"]["unknown"], [], "none"), [], "none")


def _alternative(group: list[Query]) -> bool:
    """"…ICP备案还够用吗，还是要办ICP证？": the clauses are alternatives of one decision."""
    return any(q.text.lstrip().startswith("还是") for q in group[1:])


def _notes(a: Assessment | None, sections: list[ReplySection], nums: _Numbers) -> list[Point]:
    """The client's facts that decide, when no section has said them yet: a capital gap, a foreign share."""
    if a is None:
        return []
    said = "".join(s.text() for s in sections)
    out = []
    for text in (a.capital if "贵司注册资本" in a.capital and "需增资" in a.capital else "", a.foreign, *a.missed):
        if text and re.sub(r"\[\d+\]", "", text)[:20] not in said:
            out.append(nums.point(text, _cited(text, a.citations), "rule"))
    return out


def compose(bot: Any, message: str, tone: str = "正式", sources: bool = True, base: str = "") -> Reply:
    """Answer every question in a client's message and write the reply. `base` makes links to the site's own
    article pages absolute (when BOT_ARTICLE_BASE_URL does not already). Raises BadQuestion for empty input."""
    text, _ = check(message, bot.settings.max_question_chars)
    facts = from_text(text)
    a = assess(bot.kb, facts) if facts.activities or facts.missed else None
    nums = _Numbers(bot.kb, base)
    brief = tone == "简洁"
    points = 0 if brief else int(_desk()["limits"]["points"])
    sections = [_section(bot, group, facts, a, nums, points) for group in items(text)]
    notes = _notes(a, sections, nums)
    _fit(sections, notes, lambda: len(_body(facts, sections, notes, brief)))
    return _render(facts, sections, notes, nums.citations, brief, sources, a)


def _fit(sections: list[ReplySection], notes: list[Point], length: Any) -> None:
    """Keep the reply within the length a client reads: drop supporting points, last questions first."""
    limit = int(_desk()["limits"]["chars"])

    def droppable(s: ReplySection) -> list[Point]:
        return [p for p in s.points if p.kind not in ("fact", "lead")]

    while length() > limit and any(droppable(s) for s in sections):
        s = next(s for s in reversed(sections) if droppable(s))
        s.points.remove(droppable(s)[-1])


def _body(facts: BusinessFacts, sections: list[ReplySection], notes: list[Point], brief: bool) -> str:
    """The reply before its footnotes: greeting and the client's situation, one part per question, the facts
    that decide, the closing."""
    t = _desk()["text"]
    summary = facts.summary()
    head = (t["greeting_brief"] if brief else t["greeting"]) + (t["situation"].format(summary=summary)
                                                                 if summary else t["plain"])
    parts = [head]
    numerals = t["numerals"]
    for i, s in enumerate(sections):
        title = s.question if len(s.question) <= 60 else s.question[:58] + "…"
        number = numerals[i] if i < len(numerals) else i + 1
        label = f"{number}、{title}" if len(sections) > 1 else f"关于您的问题：{title}"
        parts.append(f"{label}\n{s.text()}")
    if notes:
        parts.append(t["facts_lead"] + "\n" + "\n".join(f"· {p.marked()}" for p in notes))
    parts.append(t["closing"])
    return "\n\n".join(parts)


def _render(facts: BusinessFacts, sections: list[ReplySection], notes: list[Point], citations: list[Citation],
            brief: bool, sources: bool, a: Assessment | None) -> Reply:
    t = _desk()["text"]
    order: dict[int, int] = {}  # footnotes numbered in reading order, before any text is rendered
    for p in [pt for s in sections for pt in [s.lead, *s.points]] + notes:
        for n in p.cites:
            order.setdefault(n, len(order) + 1)
        p.cites = [order[n] for n in p.cites]
    cites = sorted((Citation(order[c.n], c.doc_id, c.title, c.url, c.chunk_id, c.text)
                    for c in citations if c.n in order), key=lambda c: c.n)
    body = _body(facts, sections, notes, brief)
    if sources and cites:
        body += "\n\n" + t["sources"] + "\n" + "\n".join(source_line(c.n, c.title, c.url) for c in cites)
    if not sources:
        body = re.sub(r"\[\d+\]", "", body)
    return Reply(facts, sections, notes, cites if sources else [], body, a)
