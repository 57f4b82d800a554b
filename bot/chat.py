"""The bot: question in, cited answer out. One object the CLI, the web page and the API share."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Generator, Iterator

from bot.answer import DURATION_NOTE, ENGLISH_NOTE, PRICE_NOTE, Answer, ExtractiveAnswerer, article_url, refusal
from bot.index import build_index, index_ready
from bot.llm import FALLBACK_NOTICE, UNCITED_NOTICE, LLMAnswerer, LLMError
from bot.questions import BadQuestion, asks_duration, check, split_questions, standalone
from bot.retrieve import KnowledgeBase, Retrieval, Retriever
from bot.scope import asks_price, looks_like_injection, on_topic
from bot.settings import Settings, get_settings

log = logging.getLogger("bot.chat")
MIN_CONFIDENCE = 0.2  # below this nothing retrieved bears on the question
MAX_HISTORY = 6  # earlier turns considered for follow-ups
STREAM_PIECE = 12  # characters per delta when replaying a finished answer


class Bot:
    def __init__(self, settings: Settings | None = None, retriever: str | None = None,
                 build: bool = True, llm=None) -> None:
        self.settings = settings or get_settings()
        if build and not index_ready(self.settings):
            build_index(self.settings)
        self.kb = KnowledgeBase(self.settings)
        self.retriever = Retriever(self.kb, retriever or self.settings.retriever)
        self.answerer = ExtractiveAnswerer(self.kb)
        self.llm = LLMAnswerer(self.settings, llm) if (llm is not None or self.settings.llm_kind) else None

    def ask(self, question: str, turns: list[str] | None = None) -> Answer:
        """Answer one question (the last turn of a conversation). Raises BadQuestion for unusable input."""
        run = self._run(question, turns)
        while True:
            try:
                next(run)
            except StopIteration as stop:
                return stop.value

    def stream(self, question: str, turns: list[str] | None = None) -> Iterator[dict]:
        """Events for a page or API: {"type": "delta", "text"}, "reset" (discard the text so far: the
        model's answer is being replaced), "citations", then "done" with the answer object; "error" for
        unusable input."""
        run = self._run(question, turns)
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
            yield {"type": "done", "answer": ans.to_dict()}

    # -- the one path both ask() and stream() take --------------------------------------------

    def _run(self, question: str, turns: list[str] | None) -> Generator[dict, None, Answer]:
        started = time.perf_counter()
        text, notice = check(question, self.settings.max_question_chars)
        history = [t for t in (turns or []) if isinstance(t, str) and t.strip()]
        if history and history[-1].strip() == text.strip():
            history = history[:-1]
        history = history[-MAX_HISTORY:]
        injection = looks_like_injection(text)
        llm_ok = self.llm is not None
        queries = [standalone(q, history) for q in split_questions(text)]
        if llm_ok and history and not injection:
            try:
                queries = split_questions(self.llm.condense(text, history))
            except LLMError as exc:
                log.warning("follow-up rewrite failed, using rules: %s", exc)
                llm_ok = False  # do not wait for a failing model twice
        query = " ".join(queries)

        retrievals: list[Retrieval] = []
        streamed = False  # whether the answer's text has gone out as deltas already
        if notice:
            yield {"type": "delta", "text": f"（{notice}）\n\n"}
        if injection:
            ans = refusal(question, meta=True)
        elif not on_topic(query):
            ans = refusal(question)
        else:
            t0 = time.perf_counter()
            retrievals = [self.retriever.search(q, k=self.settings.top_k) for q in queries]
            retrieval_ms = (time.perf_counter() - t0) * 1000
            confidence = max(r.confidence for r in retrievals)
            if confidence < MIN_CONFIDENCE:
                ans = refusal(question, confidence=confidence)
            else:
                t1 = time.perf_counter()
                if llm_ok:
                    ans = yield from self._generate(question, query, retrievals, confidence)
                    streamed = True
                else:
                    ans = self.answerer.answer(question, retrievals, self._notes(text))
                ans.answer_ms = (time.perf_counter() - t1) * 1000
                ans.retrieval_ms = retrieval_ms
            ans.retrieved = [h.chunk.chunk_id for r in retrievals for h in r.hits]
        if not streamed:
            yield from _replay(ans.answer)
        ans.question = question
        if notice:
            ans.notice = notice
            ans.answer = f"（{notice}）\n\n{ans.answer}"
        ans.latency_ms = (time.perf_counter() - started) * 1000
        return ans

    def _generate(self, question: str, query: str, retrievals: list[Retrieval],
                  confidence: float) -> Generator[dict, None, Answer]:
        """The model's answer, streamed; on any failure the extractive answer, with a visible note."""
        chunks = list({h.chunk.chunk_id: h.chunk for r in retrievals for h in r.hits}.values())
        streamed = False
        try:
            gen = self.llm.stream(query if query != question else question, chunks)
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
            if streamed:
                yield {"type": "reset"}
            note = UNCITED_NOTICE if str(exc) == "no valid citation" else FALLBACK_NOTICE
            ans = self.answerer.answer(question, retrievals, self._notes(question))
            ans.notice = note
            ans.answer = f"（{note}）\n\n{ans.answer}"
            yield from _replay(ans.answer)
            return ans
        for c in citations:
            c.url = c.url or article_url(self.settings, c.doc_id)
        return Answer(question=question, answer=text, citations=citations, confidence=confidence)

    @staticmethod
    def _notes(question: str) -> list[str]:
        notes = []
        if asks_price(question):
            notes.append(PRICE_NOTE)
        if asks_duration(question):
            notes.append(DURATION_NOTE)
        if not re.search(r"[\u4e00-\u9fff]", question):
            notes.insert(0, ENGLISH_NOTE)
        return notes


def _replay(text: str) -> Iterator[dict]:
    for piece in re.findall(rf".{{1,{STREAM_PIECE}}}", text, flags=re.S):
        yield {"type": "delta", "text": piece}
