"""Answer cards and corrections: curated knowledge that an article carries in its front matter.

A card is a question (a few phrasings), a short conclusion-first answer, and the verbatim passage of the
article that supports it; when a user's question matches a card closely enough, the card's answer leads the
reply, cited to the chunk holding the passage. A correction records a sentence of an article that is known
to be wrong (or unverifiable marketing): it is never quoted, and its correction is used instead.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bot.chunk import Chunk
from bot.ingest import Document


@dataclass
class Card:
    card_id: str
    doc_id: str
    title: str
    url: str
    questions: list[str]  # the first is the canonical question (shown as a suggested follow-up)
    answer: str
    passage: str
    chunk_id: str  # the chunk holding the passage: what the card's answer cites
    core: bool = False

    @property
    def phrase_ids(self) -> list[str]:
        """One id per phrasing; it changes with the phrasing's text, so an edited phrasing is re-embedded."""
        return [f"{self.card_id}/{j}-{hashlib.sha1(q.encode()).hexdigest()[:8]}" for j, q in enumerate(self.questions)]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Correction:
    doc_id: str
    quote: str  # a verbatim part of the wrong sentence
    reason: str
    correct: str = ""  # what is right, in one or two sentences ("" for marketing: just never quoted)
    see_doc: str = ""  # the article whose passage supports `correct`
    see_passage: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Problems:
    """Cards or corrections that could not be used, with the reason (reported by `bot index`)."""

    items: list[str] = field(default_factory=list)


def _chunk_for(passage: str, chunks: list[Chunk]) -> Chunk | None:
    return next((c for c in chunks if passage and passage in c.text), None)


def cards_of(doc: Document, chunks: list[Chunk], problems: Problems | None = None) -> list[Card]:
    """The usable cards of a document, each tied to the chunk that holds its passage."""
    out = []
    for n, raw in enumerate(doc.cards):
        questions = [str(q).strip() for q in raw.get("questions") or [] if str(q).strip()]
        answer, passage = str(raw.get("answer") or "").strip(), str(raw.get("passage") or "").strip()
        chunk = _chunk_for(passage, chunks)
        if not questions or not answer or chunk is None:
            if problems is not None:
                problems.items.append(f"{doc.doc_id} 第{n + 1}张问答卡：缺少问题或答案，或摘录不在文章的任何一个片段中")
            continue
        digest = hashlib.sha1((questions[0] + answer + passage).encode("utf-8")).hexdigest()[:8]
        out.append(Card(f"{doc.doc_id}~{n:02d}-{digest}", doc.doc_id, doc.title, doc.url, questions, answer,
                        passage, chunk.chunk_id, doc.core))
    return out


def corrections_of(doc: Document) -> list[Correction]:
    out = []
    for raw in doc.corrections:
        quote = str(raw.get("quote") or "").strip()
        if not quote:
            continue
        see: dict[str, Any] = raw["see"] if isinstance(raw.get("see"), dict) else {}
        out.append(Correction(doc.doc_id, quote, str(raw.get("reason") or ""), str(raw.get("correct") or "").strip(),
                              str(see.get("doc") or ""), str(see.get("passage") or "").strip()))
    return out


# A follow-up's card must speak to enough of what the follow-up adds (by term rarity), not only to its context:
# "列进去有什么影响？" after "多久会被列入不良名单？" is not answered by the 30日 card again.
FOLLOW_UP_COVER = 0.4
FEATURES = ("cos_own", "cos_ctx", "cos_ans", "lex_q", "lex_a", "back", "retrieved", "kind", "gap")


@dataclass
class CardScore:
    """How well a card answers a question: the features the match decision weighs, and the decision's
    probability that the card's answer is the answer."""

    card: Card
    features: dict[str, float]
    score: float = 0.0


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class CardIndex:
    """The cards' question phrasings, searchable by meaning (Chroma) and by words (the same tokenizer). The
    match decision is a logistic model over a few features, calibrated on the tuning question sets by
    `bench/calibrate_cards.py` (weights and threshold in bot/data/cards.toml)."""

    def __init__(self, kb: Any, cards: list[Card]) -> None:
        from bot.lexicon import tokenize
        from bot.store import Vectors

        self.kb = kb
        self.cards = {c.card_id: c for c in cards}
        self.vectors = Vectors.for_cards(kb.settings)
        self.q_tokens = {c.card_id: set(tokenize(" ".join(c.questions))) for c in cards}
        self.a_tokens = {c.card_id: set(tokenize(c.answer)) for c in cards}
        self.key_tokens = {c.card_id: [t for t in dict.fromkeys(tokenize(c.questions[0])) if not kb.is_generic(t)]
                           for c in cards}

    def __len__(self) -> int:
        return len(self.cards)

    def _nearest(self, vector: Any, k: int) -> dict[str, float]:
        best: dict[str, float] = {}
        for pid, sim in self.vectors.query([float(x) for x in vector], k):
            cid = pid.rsplit("/", 1)[0]
            if cid in self.cards:
                best[cid] = max(best.get(cid, -1.0), sim)
        return best

    def _terms(self, retrieval: Any) -> dict[str, float]:
        """The question's key terms, weighted by rarity; the turns or background it is read with count half."""
        own = set(retrieval.focus)
        # A word the corpus never uses is more likely colloquial (its synonyms carry it) than decisive.
        return {t: self.kb.idf.get(t, self.kb.mean_idf) * (1.0 if t in own else 0.5)
                for t in dict.fromkeys(retrieval.tokens) if not self.kb.is_generic(t)}

    def _added_terms(self, query: Any) -> dict[str, float]:
        """What a follow-up adds to the turn it follows ("列进去有什么影响？" → 影响): its own terms that the corpus
        uses, are not common in it, are not in the context and do not point back at it (这些…); empty for a first
        question."""
        from bot.lexicon import tokenize
        from bot.query import pointing_words

        if not query.context:
            return {}
        before = set(tokenize(query.context)) | pointing_words()
        return {t: self.kb.idf[t] for t in dict.fromkeys(tokenize(query.text))
                if t in self.kb.idf and len(t) > 1 and t not in before and not self.kb.is_generic(t)}

    @staticmethod
    def _other_kind(card: Card, query: Any) -> bool:
        """A question asking only what follows ("忘了报年报会有什么后果？") or only a price is not answered by a card
        that states no consequence (the reporting deadline) or no fee, however many of its words the card shares."""
        from bot.query import asks_what_follows, kind_pattern

        if query.kinds == ("price",):  # "要向国家交钱吗？": a card that names no fee does not answer it
            return not kind_pattern("price").search(card.answer)
        return (query.kinds == ("consequence",) and asks_what_follows(query.text)
                and not kind_pattern("consequence").search(card.answer))

    @staticmethod
    def _cover(terms: dict[str, float], tokens: set[str], synonyms: dict[str, list[str]]) -> float:
        total = sum(terms.values())
        hit = sum(w for t, w in terms.items() if t in tokens or any(s in tokens for s in synonyms.get(t, [])))
        return hit / total if total else 0.0

    def scores(self, retrieval: Any, k: int = 40) -> list[CardScore]:
        """Cards near the question, scored, best first."""
        from bot.query import contrary, narrower

        if not self.cards:
            return []
        query = retrieval.query
        # An elliptical follow-up ("它具体放开了哪些业务？") is matched on its own words and, apart, with its
        # context: the context says what "它" is, its words what is asked about it. A follow-up that names its own
        # subject is matched on its own words; the turns it follows only inform.
        read_with = query.own_text
        elliptical = query.is_follow_up and read_with != query.text
        near_own = self._nearest(self.kb.query_vector(query.text if elliptical else read_with), k)
        near_ctx = self._nearest(self.kb.query_vector(read_with), k) if elliptical else near_own
        terms, syn = self._terms(retrieval), retrieval.synonyms
        added = self._added_terms(query)
        asked = set(retrieval.tokens) | {s for ts in syn.values() for s in ts}
        hits = {h.chunk.chunk_id: 1.0 / (1 + i) for i, h in enumerate(retrieval.hits)}
        cues = query.cues()
        # A card about a topic the question does not name answers a narrower question: never a candidate.
        ids = [c for c in dict.fromkeys([*near_own, *near_ctx]) if not narrower(self.cards[c].questions[0], query)
               and not self._other_kind(self.cards[c], query)
               and not contrary(self.cards[c].questions[0] + self.cards[c].answer, query)
               and (not added or self._cover(added, self.q_tokens[c] | self.a_tokens[c], syn) >= FOLLOW_UP_COVER)]
        answers = self.kb.sentence_vectors([self.cards[c].answer for c in ids])
        qvec = retrieval.query_vector if retrieval.query_vector is not None else self.kb.query_vector(query.search_text)
        out = []
        for cid in ids:
            card = self.cards[cid]
            keys = self.key_tokens[cid]
            f = {"cos_own": near_own.get(cid, 0.0), "cos_ctx": near_ctx.get(cid, 0.0),
                 "cos_ans": float(np.dot(answers[card.answer], qvec)),
                 "lex_q": self._cover(terms, self.q_tokens[cid], syn),
                 "lex_a": self._cover(terms, self.a_tokens[cid], syn),
                 "back": sum(t in asked for t in keys) / len(keys) if keys else 1.0,
                 "retrieved": hits.get(card.chunk_id, 0.0),
                 "kind": sum(bool(p.search(card.answer)) for p in cues) / len(cues) if cues else 1.0, "gap": 0.0}
            out.append(CardScore(card, f))
        best = max((s.features["cos_own"] for s in out), default=0.0)
        # With a single candidate left, its margin is over the nearest card filtered out, not over nothing (a
        # lone penalty card "won" 被罚款会进什么名单 by a margin of 0.91).
        second = (sorted((s.features["cos_own"] for s in out), reverse=True)[1:2]
                  or sorted(near_own.values(), reverse=True)[1:2] or [0.0])
        model = _model()
        for s in out:
            s.features["gap"] = s.features["cos_own"] - (second[0] if s.features["cos_own"] >= best else best)
            s.score = model["bias"] + sum(model["weights"][n] * s.features[n] for n in FEATURES)
        return sorted(out, key=lambda s: (-s.score, s.card.card_id))

    def match(self, retrieval: Any, avoid: Card | None = None) -> CardScore | None:
        """The card that answers the question, when one matches closely enough; never `avoid` or a card
        saying the same (a follow-up asks for more than the answer it follows), never one about another topic."""
        from bot.normalize import says_same

        for s in self.scores(retrieval):
            if avoid is not None and (s.card.card_id == avoid.card_id or says_same(s.card.answer, avoid.answer)):
                continue
            return s if s.score >= _model()["threshold"] else None
        return None

    def related(self, retrieval: Any, exclude: set[str], said: str = "", n: int = 3) -> list[str]:
        """Canonical questions of nearby cards as suggested follow-ups: each asks something the answer has not
        said — never a rephrasing of the question, of the answer, or of another suggestion."""
        from bot.normalize import overlap

        asked = retrieval.query.text
        chosen: list[Card] = []
        for s in self.scores(retrieval):
            card, q = s.card, s.card.questions[0]
            # e5's cosines crowd near 1: only the very top is a rephrasing of the question itself
            if card.card_id in exclude or s.features["cos_own"] >= 0.975 or overlap(q, asked) >= 0.4:
                continue
            if overlap(card.answer, said) >= 0.25 or any(
                    overlap(q, c.questions[0]) >= 0.45 or overlap(card.answer, c.answer) >= 0.4 for c in chosen):
                continue
            chosen.append(card)
            if len(chosen) == n:
                break
        return [c.questions[0] for c in chosen]


def _model() -> dict[str, Any]:
    from bot import vocab

    data: dict[str, Any] = vocab.table("cards")
    return data
