"""The bot: question in, cited answer out. One object the CLI, the web page and the API share, and one path
(`_run`) that both `ask()` and `stream()` take."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import Any

from bot import vocab
from bot.answer import DURATION_NOTE, ENGLISH_NOTE, PRICE_NOTE, Answer, article_url, refusal, render_text
from bot.cards import CardScore
from bot.compose import Composer, Limits
from bot.index import build_index, index_ready
from bot.llm import FALLBACK_NOTICE, UNCITED_NOTICE, LLMAnswerer, LLMError
from bot.query import Query, asks_duration, check, parse, split
from bot.retrieve import KnowledgeBase, Retrieval, Retriever
from bot.scope import asks_price, looks_like_injection, on_topic
from bot.settings import Settings, get_settings

log = logging.getLogger("bot.chat")
MIN_CONFIDENCE = 0.2  # below this nothing retrieved bears on the question
MAX_HISTORY = 6  # earlier turns considered for follow-ups
STREAM_PIECE = 12  # characters per delta when replaying a finished answer

Event = dict[str, Any]


class Bot:
    def __init__(self, settings: Settings | None = None, retriever: str | None = None,
                 build: bool = True, llm: Any = None, limits: Limits | None = None) -> None:
        self.settings = settings or get_settings()
        if build and not index_ready(self.settings):
            build_index(self.settings)
        self.kb = KnowledgeBase(self.settings)
        self.retriever = Retriever(self.kb, retriever or self.settings.retriever)
        self.composer = Composer(self.kb, limits)
        self.llm = LLMAnswerer(self.settings, llm) if (llm is not None or self.settings.llm_kind) else None

    def use_retriever(self, mode: str) -> None:
        """Switch between "bm25", "dense" and "hybrid" retrieval (evaluation, benchmarks)."""
        self.retriever = Retriever(self.kb, mode)

    def queries(self, question: str, turns: list[str] | None = None) -> list[Query]:
        """The questions of a message, each read in the conversation (rules only, no model call)."""
        return parse(question, _history(question, turns))

    def retrieve(self, question: str, turns: list[str] | None = None, k: int | None = None) -> list[Retrieval]:
        """Retrieval without answering: one result per question in the message."""
        return [self.retriever.search(q, k or self.settings.top_k) for q in self.queries(question, turns)]

    def answer_query(self, query: Query, points: int | None = None) -> Answer:
        """One already-read question answered extractively: its own retrieval, its card, its section
        (the sales desk answers each question of a message this way). Refused when nothing bears on it."""
        r = self.retriever.search(query, k=self.settings.top_k)
        if r.confidence < MIN_CONFIDENCE or not on_topic(query.search_text):
            return refusal(query.text, confidence=r.confidence)
        limits = self.composer.limits
        if points is not None:
            limits = replace(limits, points=points)
        return Composer(self.kb, limits).compose(query.text, [r], [self._card(r)], [])

    def ask(self, question: str, turns: list[str] | None = None, answer_id: str | None = None) -> Answer:
        """Answer one question (the last turn of a conversation). Raises BadQuestion for unusable input."""
        run = self._run(question, turns, answer_id)
        while True:
            try:
                next(run)
            except StopIteration as stop:
                answer: Answer = stop.value
                return answer

    def stream(self, question: str, turns: list[str] | None = None, answer_id: str | None = None) -> Iterator[Event]:
        """Events for a page or API: {"type": "delta", "text"}, "reset" (discard the text so far: the
        model's answer is being replaced), "citations", then "done" with the answer object; "error" for
        unusable input."""
        from bot.query import BadQuestion

        run = self._run(question, turns, answer_id)
        try:
            while True:
                yield next(run)
        except BadQuestion as exc:
            yield {"type": "error", "message": str(exc)}
            yield {"type": "done", "answer": None}
        except StopIteration as stop:
            ans: Answer = stop.value
            yield {"type": "citations", "citations": [c.to_dict() for c in ans.citations],
                   "refused": ans.refused, "confidence": ans.confidence}
            yield {"type": "done", "answer": ans.to_dict(), "suggestions": ans.suggestions, "answer_id": ans.answer_id}

    # -- the one path both ask() and stream() take --------------------------------------------

    def _run(self, question: str, turns: list[str] | None,
             answer_id: str | None = None) -> Generator[Event, None, Answer]:
        started = time.perf_counter()
        text, cut = check(question, self.settings.max_question_chars)
        history = _history(text, turns)
        injection = looks_like_injection(text)
        queries, notices = parse(text, history), [cut] if cut else []
        use_llm = self.llm is not None
        if self.llm is not None and history and not injection:
            try:
                queries = split(self.llm.condense(text, history))
            except LLMError as exc:
                log.warning("follow-up rewrite failed, using rules: %s", exc)
                use_llm = False  # do not wait for a failing model twice
                notices.append(FALLBACK_NOTICE)
        streamed = False  # whether the answer's text has gone out as deltas already (a model's answer)
        if injection:
            ans = refusal(question, meta=True)
        elif not on_topic(" ".join(q.search_text for q in queries)):
            ans = refusal(question)
        else:
            ans, streamed = yield from self._answer(question, text, queries, use_llm, notices)
        ans.notice = "；".join(notices) or None
        if not streamed:
            yield from _replay(render_text(ans))
        ans.question = text  # the question as read (cleaned, cut to the limit): never echo an unbounded input
        ans.answer_id = answer_id or uuid.uuid4().hex
        ans.latency_ms = (time.perf_counter() - started) * 1000
        return ans

    def _answer(self, question: str, text: str, queries: list[Query], use_llm: bool,
                notices: list[str]) -> Generator[Event, None, tuple[Answer, bool]]:
        t0 = time.perf_counter()
        retrievals = [self.retriever.search(q, k=self.settings.top_k) for q in queries]
        confidence = max(r.confidence for r in retrievals)
        if confidence < MIN_CONFIDENCE:
            return refusal(question, confidence=confidence), False
        matches = [self._card(r) for r in retrievals]
        retrieval_ms = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        streamed = False
        ans = None
        if use_llm:
            ans = yield from self._generate(question, queries, retrievals, confidence, notices)
            streamed = ans is not None
        if ans is None:
            decided = [None if m is not None and _open(m.card.answer) else d
                       for d, m in zip(self._assessed(text, queries), matches, strict=True)]
            ans = self.composer.compose(question, retrievals, matches, _notes(text), decided)
        matched = {m.card.card_id for m in matches if m is not None}
        ans.suggestions = self.kb.cards.related(retrievals[-1], matched, ans.answer) if not ans.refused else []
        ans.retrieval_ms, ans.answer_ms = retrieval_ms, (time.perf_counter() - t1) * 1000
        return ans, streamed

    def _assessed(self, text: str, queries: list[Query]) -> list[Any]:
        """Where the message describes a business and a question asks what it needs (which licence, who approves,
        the capital, the foreign share, how long), the licence assessment answers it."""
        from bot.assess import asks_authority, assess
        from bot.facts import from_text

        facts = from_text(text)
        who = (facts.foreign or facts.scope) and asks_authority(text)  # "找省管局还是工信部？" for a described business
        if facts.activities or facts.capital_wan is not None or who:
            a = assess(self.kb, facts)
            return [(found, a.citations) if (found := a.answer_for(q)) else None for q in queries]
        return [self._assessed_follow_up(q) for q in queries]

    def _assessed_follow_up(self, q: Query) -> Any:
        """A follow-up ("那以后扩展到全国呢？") that supposes other facts of the business its conversation described
        is answered by the assessment of those facts (as the sales desk does, bot/reply.py); any other follow-up
        is another question, answered as one."""
        from bot.assess import assess
        from bot.facts import for_question, from_text

        if not q.context:
            return None
        before = from_text(q.context)
        now = for_question(before, q.text)
        if now == before:
            return None
        a = assess(self.kb, now)
        found = a.answer_for(q)
        if found is None:
            return None
        if now.scope != before.scope and a.capital and a.capital != found[0]:
            found = (found[0], [a.capital, *found[1]][:2])  # a wider scope moves the capital minimum too
        return found, a.citations

    def _card(self, r: Retrieval) -> CardScore | None:
        """The card that answers this question. A follow-up is not answered with the card that answered the
        question it follows: it asks for something more."""
        before = None
        if r.query.is_follow_up:
            before = self.kb.cards.match(self.retriever.search(Query(r.query.context), k=self.settings.top_k))
        return self.kb.cards.match(r, before.card if before else None)

    def _generate(self, question: str, queries: list[Query], retrievals: list[Retrieval], confidence: float,
                  notices: list[str]) -> Generator[Event, None, Answer | None]:
        """The model's answer, streamed; None on any failure (the caller answers extractively; a visible note
        says why)."""
        assert self.llm is not None
        chunks = list({h.chunk.chunk_id: h.chunk for r in retrievals for h in r.hits}.values())
        asked = " ".join(q.search_text for q in queries)
        streamed = False
        if notices:
            yield {"type": "delta", "text": f"（{'；'.join(notices)}）\n\n"}
        try:
            # the question as read (in its conversation, or as the model rewrote it), not the bare follow-up
            read = len(queries) > 1 or queries[0].context or queries[0].text.strip() != question.strip()
            gen = self.llm.stream(asked if read else question, chunks)
            while True:
                try:
                    _, delta = next(gen)
                except StopIteration as stop:
                    text, citations = stop.value
                    break
                streamed = True
                yield {"type": "delta", "text": delta}
        except LLMError as exc:
            log.warning("LLM answer unusable, falling back to extractive: %s", exc)
            if streamed or notices:
                yield {"type": "reset"}
            notices.append(UNCITED_NOTICE if str(exc) == "no valid citation" else FALLBACK_NOTICE)
            return None
        for c in citations:
            c.url = c.url or article_url(self.settings, c.doc_id)
        return Answer(question=question, message=text, citations=citations, confidence=confidence)


def _history(text: str, turns: list[str] | None) -> list[str]:
    history = [t for t in (turns or []) if isinstance(t, str) and t.strip()]
    if history and history[-1].strip() == text.strip():
        history = history[:-1]
    return history[-MAX_HISTORY:]


def _notes(question: str) -> list[str]:
    notes = []
    if asks_price(question):
        notes.append(PRICE_NOTE)
    if asks_duration(question):
        notes.append(DURATION_NOTE)
    if not re.search(r"[\u4e00-\u9fff]", question):
        notes.insert(0, ENGLISH_NOTE)
    return notes


def _replay(text: str) -> Iterator[Event]:
    for piece in re.findall(rf".{{1,{STREAM_PIECE}}}", text, flags=re.S):
        yield {"type": "delta", "text": piece}


@vocab.derived
def _open_question() -> re.Pattern[str]:
    return re.compile(vocab.table("filters")["open_question"])


def _open(answer: str) -> bool:
    """Whether a card's answer says the question cannot be settled from what is known."""
    return bool(_open_question().search(answer))
