"""The bot: question in, cited answer out. One object the CLI, the web page and the API share."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from bot.answer import ENGLISH_NOTE, DURATION_NOTE, PRICE_NOTE, Answer, ExtractiveAnswerer, refusal
from bot.index import build_index, index_ready
from bot.lexicon import looks_like_injection, on_topic
from bot.questions import BadQuestion, asks_duration, asks_price, check, split_questions, standalone
from bot.retrieve import KnowledgeBase, Retriever
from bot.settings import Settings, get_settings

MIN_CONFIDENCE = 0.2  # below this nothing retrieved bears on the question
MAX_HISTORY = 6  # earlier turns considered for follow-ups


class Bot:
    def __init__(self, settings: Settings | None = None, retriever: str | None = None,
                 build: bool = True) -> None:
        self.settings = settings or get_settings()
        if build and not index_ready(self.settings):
            build_index(self.settings)
        self.kb = KnowledgeBase(self.settings)
        self.retriever = Retriever(self.kb, retriever or self.settings.retriever)
        self.answerer = ExtractiveAnswerer(self.kb)

    def ask(self, question: str, turns: list[str] | None = None) -> Answer:
        """Answer one question (the last turn of a conversation). Raises BadQuestion for unusable input."""
        started = time.perf_counter()
        text, notice = check(question, self.settings.max_question_chars)
        history = [t for t in (turns or []) if isinstance(t, str)][-MAX_HISTORY - 1 :]
        query = standalone(text, history)

        if looks_like_injection(text):
            ans = refusal(question, meta=True)
        elif not on_topic(query):
            ans = refusal(question)
        else:
            t0 = time.perf_counter()
            subs = split_questions(query)
            retrievals = [self.retriever.search(q, k=self.settings.top_k) for q in subs]
            retrieval_ms = (time.perf_counter() - t0) * 1000
            confidence = max(r.confidence for r in retrievals)
            if confidence < MIN_CONFIDENCE:
                ans = refusal(question, confidence=confidence)
            else:
                t1 = time.perf_counter()
                ans = self.answerer.answer(question, retrievals, self._notes(text))
                ans.answer_ms = (time.perf_counter() - t1) * 1000
            ans.retrieval_ms = retrieval_ms
            ans.retrieved = [h.chunk.chunk_id for r in retrievals for h in r.hits]
        ans.question = question
        if notice:
            ans.notice = notice
            ans.answer = f"（{notice}）\n\n{ans.answer}"
        ans.latency_ms = (time.perf_counter() - started) * 1000
        return ans

    def stream(self, question: str, turns: list[str] | None = None) -> Iterator[dict]:
        """Events for a page or API: text deltas, then the citations, then done."""
        try:
            ans = self.ask(question, turns)
        except BadQuestion as exc:
            yield {"type": "error", "message": str(exc)}
            yield {"type": "done"}
            return
        for piece in re.findall(r".{1,12}", ans.answer, flags=re.S):
            yield {"type": "delta", "text": piece}
        yield {"type": "citations", "citations": [c.to_dict() for c in ans.citations],
               "refused": ans.refused, "confidence": ans.confidence}
        yield {"type": "done", "answer": ans.to_dict()}

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
