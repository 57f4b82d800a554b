"""Grounded answers. The offline default is extractive: it quotes retrieved sentences with [n] markers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from bot import vocab
from bot.chunk import Chunk, split_sentences
from bot.lexicon import synonyms, tokenize
from bot.normalize import compact
from bot.questions import answer_cues, focus_of
from bot.retrieve import KnowledgeBase, Retrieval

_MSG = vocab.table("messages")
DISCLAIMER: str = _MSG["disclaimer"]
REFUSAL: str = _MSG["refusal"]
REFUSAL_META: str = _MSG["refusal_meta"]
PRICE_NOTE: str = _MSG["price_note"]
DURATION_NOTE: str = _MSG["duration_note"]
ENGLISH_NOTE: str = _MSG["english_note"]
_BOILERPLATE = re.compile(r"仅供参考|不构成法律意见|本文")
# A list item's marker ("- ", "1. ", "（2）"), not a number the sentence starts with ("60日是…").
_LIST_MARK = re.compile(r"^(?:\s*(?:[-*•]|\d{1,2}[.、)）](?!\d)|[（(]\d{1,2}[)）]))+\s*")


def source_line(n: int, title: str, url: str) -> str:
    """A footnote line: "[n] title url"."""
    return f"[{n}] {title} {url}".rstrip()


def article_url(settings, doc_id: str) -> str:
    """Where a citation links when the article has no source URL: the web app's article page."""
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
class Answer:
    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    confidence: float = 0.0
    latency_ms: float = 0.0
    # Diagnostics, kept out of the JSON contract.
    retrieval_ms: float = 0.0
    answer_ms: float = 0.0
    retrieved: list[str] = field(default_factory=list)
    notice: str | None = None

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer,
                "citations": [c.to_dict() for c in self.citations], "refused": self.refused,
                "confidence": self.confidence, "latency_ms": round(self.latency_ms, 1)}


def refusal(question: str, meta: bool = False, confidence: float = 0.0) -> Answer:
    return Answer(question=question, answer=REFUSAL_META if meta else REFUSAL, refused=True,
                  confidence=confidence)


@dataclass
class _Candidate:
    text: str
    chunk: Chunk
    rank: int  # the chunk's rank in its retrieval
    order: int  # position of the sentence in its chunk
    tokens: set[str]
    group: int  # which sub-question it answers


def candidate_sentences(text: str) -> list[str]:
    """The sentences of a chunk that can stand alone in an answer, in order."""
    out = []
    for sent in split_sentences(text):
        plain = _LIST_MARK.sub("", sent)
        if len(re.findall(r"[\u4e00-\u9fff]", plain)) < 8 or _BOILERPLATE.search(plain):
            continue
        if plain.endswith(("：", ":", "？", "?")):
            continue  # a list's lead-in or a rhetorical question says nothing on its own
        if len(plain) < 25 and not re.search(r"[。！!；;]$", plain):
            continue  # a short line without an end mark is a heading
        out.append(plain)
    return out


PARAPHRASE = 0.975  # e5 cosine above which two sentences are near restatements
_FIGURES = re.compile(r"[A-Za-z]*\d+(?:\.\d+)?")


def _bigrams(s: str) -> set[str]:
    s = compact(s)
    return {s[i : i + 2] for i in range(len(s) - 1)}


class ExtractiveAnswerer:
    """Picks the sentences that cover the question's terms best, drops repeats, cites each one."""

    def __init__(self, kb: KnowledgeBase, per_question: int = 8, max_sentences: int = 16,
                 chunks_per_question: int = 8, cutoff: float = 0.35, lex_share: float = 0.45,
                 local_share: float = 0.5, cue_bonus: float = 0.35) -> None:
        self.kb = kb
        self.per_question, self.max_sentences = per_question, max_sentences
        self.chunks_per_question = chunks_per_question
        self.cutoff = cutoff  # stop once a sentence scores below this share of the best one
        self.lex_share = lex_share  # term overlap vs embedding similarity in a sentence's score
        self.local_share = local_share  # how much a term's rarity among the candidates counts
        self.cue_bonus = cue_bonus  # for a sentence of the kind the question asks for (a time, an amount …)

    def _candidates(self, retrievals: list[Retrieval]) -> list[_Candidate]:
        out: list[_Candidate] = []
        for g, r in enumerate(retrievals):
            for rank, hit in enumerate(r.hits[: self.chunks_per_question]):
                for order, plain in enumerate(candidate_sentences(hit.chunk.text)):
                    out.append(_Candidate(plain, hit.chunk, rank, order, set(tokenize(plain)), g))
        return out

    def _select(self, retrievals: list[Retrieval], cands: list[_Candidate]) -> list[_Candidate]:
        """Per sub-question, greedily pick sentences that are relevant (term overlap and embedding
        similarity, each normalised within the candidates) and add terms not yet covered."""
        vectors = self.kb.sentence_vectors([c.text for c in cands]) if cands else {}
        chosen: list[_Candidate] = []
        # Several questions share the answer's length, but each gets at least a few sentences.
        per_group = min(self.per_question, max(3, self.max_sentences // max(1, len(retrievals))))
        for g, r in enumerate(retrievals):
            own, focus = set(r.tokens), set(r.focus)
            # What a follow-up asks now counts more than the earlier turns it is read with.
            pool = [c for c in cands if c.group == g]
            if not pool:
                continue
            # A term every candidate shares (the licence the whole question is about) tells them apart less
            # than one only a few contain: weigh terms by how rare they are among the candidates too.
            n = len(pool)
            local = {t: math.log(1 + n / max(1, sum(t in c.tokens for c in pool))) / math.log(1 + n)
                     for t in r.expanded} if n > 1 else {t: 1.0 for t in r.expanded}
            weights = {t: self.kb.term_weight(t) * (self.local_share * local[t] + 1 - self.local_share)
                       * (1.5 if t in focus and focus != own else 1.0 if t in own else 0.4)
                       # A bare number is usually the asker's own fact ("3个人", "12月"), not a term to match.
                       * (0.3 if t.isdigit() and t not in synonyms() else 1.0) for t in r.expanded}
            own_total = sum(weights[t] for t in own if t in weights) or 1.0
            qvec = r.query_vector if r.query_vector is not None else self.kb.query_vector(r.query)
            lex = {id(c): sum(w for t, w in weights.items() if t in c.tokens) * (0.85 if len(c.text) > 160 else 1.0)
                   for c in pool}
            sim = {id(c): float(np.dot(vectors[c.text], qvec)) for c in pool}
            lmax = max(lex.values()) or 1.0
            smin, smax = min(sim.values()), max(sim.values())
            ls = self.lex_share
            base = {id(c): ls * lex[id(c)] / lmax + (1 - ls) * (sim[id(c)] - smin) / (smax - smin + 1e-6)
                    + 0.05 / (1 + c.rank) for c in pool}
            cues = answer_cues(r.query)
            if cues:
                for c in pool:
                    base[id(c)] += self.cue_bonus * any(p.search(c.text) for p in cues)
            # A sentence sharing no word with the question must at least be close to it in meaning.
            pool = [c for c in pool if lex[id(c)] > 0 or (sim[id(c)] - smin) / (smax - smin + 1e-6) > 0.7]
            covered: set[str] = set()
            picked: list[_Candidate] = []
            first = 0.0
            while pool and len(picked) < per_group:
                def gain(c: _Candidate) -> float:
                    new = sum(weights[t] for t in own if t in weights and t in c.tokens and t not in covered)
                    return base[id(c)] + 0.35 * new / own_total

                best = max(pool, key=gain)
                pool.remove(best)
                if picked and base[id(best)] < self.cutoff * first:
                    break
                if any(self._repeats(best.text, p.text, vectors) for p in chosen + picked):
                    continue
                first = first or base[id(best)]
                picked.append(best)
                covered |= best.tokens
            chosen += picked
        return chosen[: max(self.max_sentences, 3 * len(retrievals))]

    @staticmethod
    def _repeats(text: str, other: str, vectors: dict) -> bool:
        """Whether a sentence says what an already chosen one says: mostly the same characters, or a
        paraphrase (nearly the same meaning) that brings no figure or code of its own."""
        a, b = _bigrams(text), _bigrams(other)
        if len(a & b) / max(1, len(a | b)) > 0.5:
            return True
        if float(np.dot(vectors[text], vectors[other])) < PARAPHRASE:
            return False
        return not set(_FIGURES.findall(text)) - set(_FIGURES.findall(other))

    def answer(self, question: str, retrievals: list[Retrieval], notes: list[str]) -> Answer:
        chosen = self._select(retrievals, self._candidates(retrievals))
        confidence = max((r.confidence for r in retrievals), default=0.0)
        if not chosen:
            return refusal(question, confidence=confidence)
        numbers: dict[str, int] = {}
        citations: list[Citation] = []

        def cite(c: _Candidate) -> str:
            cid = c.chunk.chunk_id
            if cid not in numbers:
                numbers[cid] = len(numbers) + 1
                citations.append(Citation(numbers[cid], c.chunk.doc_id, c.chunk.title,
                                          c.chunk.url or article_url(self.kb.settings, c.chunk.doc_id), cid,
                                          c.chunk.text))
            return f"{c.text}[{numbers[cid]}]"

        groups: dict[int, list[_Candidate]] = {}
        for c in chosen:  # in pick order: each group's best sentence first
            groups.setdefault(c.group, []).append(c)
        parts: list[str] = []
        for g, picks in groups.items():
            lead, rest = picks[0], picks[1:]
            # Points read better in the order the article gives them.
            rest.sort(key=lambda c: (c.rank, c.order))
            if len(groups) > 1:
                # A message with several questions is answered one question at a time, under its own words.
                asked = focus_of(retrievals[g].query).strip()
                heading = f"【{asked[:40]}{'…' if len(asked) > 40 else ''}】\n"
                parts.append(heading + "\n".join([cite(lead)] + [f"- {cite(c)}" for c in rest]))
            else:
                parts.append(cite(lead))
                if rest:
                    parts.append("要点：\n" + "\n".join(f"- {cite(c)}" for c in rest))
        parts += notes
        parts.append(DISCLAIMER)
        return Answer(question=question, answer="\n\n".join(parts), citations=citations,
                      refused=False, confidence=confidence)
