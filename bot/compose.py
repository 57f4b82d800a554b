"""The offline answer: for each question, a conclusion first, then at most a few points on its focus, each
quoted verbatim from a cited passage.

The conclusion is a matching answer card's curated answer, or else the retrieved sentence of the kind the
question asks for (an amount, a time limit, an authority, a code, a rule), cut to its answering clause when
that clause stands alone. Marketing and sentences the corpus records as wrong are never quoted; boilerplate
repeated across articles is cited to the core article's copy.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot import vocab
from bot.answer import Answer, Citation, Point, Section, article_url, refusal
from bot.cards import CardScore
from bot.chunk import Chunk, candidate_sentences
from bot.lexicon import synonyms, tokenize, words
from bot.normalize import compact, contained, figures, for_matching, overlap
from bot.query import contrary, is_pasted, off_topic
from bot.retrieve import KnowledgeBase, Retrieval

PARAPHRASE = 0.975  # e5 cosine above which two sentences are near restatements
CONTAINED = 0.65  # share of a sentence's bigrams found in one already said, above which it adds nothing


@dataclass
class Limits:
    """How much an answer may say; the defaults are bot/data/composer.toml (chosen by measurement)."""

    points: int
    points_each: int
    point_share: float
    lead_chars: int
    point_chars: int
    budget: int
    chunks: int
    lex_share: float
    local_share: float
    cue_bonus: float

    @classmethod
    def load(cls, **overrides: Any) -> Limits:
        return cls(**{**vocab.table("composer"), **overrides})


@dataclass
class Candidate:
    text: str
    chunk: Chunk  # what it cites
    rank: int  # the retrieved passage's rank
    order: int  # position in that passage
    tokens: frozenset[str]
    kind: str = "passage"  # or "correction"


@vocab.derived
def _marketing() -> re.Pattern[str]:
    return vocab.any_of(vocab.table("filters")["marketing"])


_LABEL = re.compile(r"^([^：:，,。；;\d]{3,14})[：:](.{15,})$", re.S)


def _unlabel(text: str) -> str:
    """The sentence without a leading label, unless the label is itself a conclusion ("不能：…", "视情况：…")."""
    m = _LABEL.match(text)
    if m is None or _conclusion_words().search(m.group(1)) or m.group(2).startswith(_predicates()):
        return text  # "明确号码用途：是对外经营…还是…": without its label the rest is no sentence
    return m.group(2)


@vocab.derived
def _conclusion_words() -> re.Pattern[str]:
    return vocab.any_of(vocab.table("filters")["conclusion_labels"])


@vocab.derived
def _predicates() -> tuple[str, ...]:
    return tuple(vocab.table("filters")["label_predicates"])


AUDIENCE_SHARE = 0.02  # an audience word in more chunks than this is common ground, not one article's reader


_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,4}")


def is_marketing(text: str) -> bool:
    return bool(_marketing().search(for_matching(text)))


@vocab.derived
def _dangling() -> re.Pattern[str]:
    return vocab.any_of(vocab.table("filters")["dangling"])


def leans_on_context(text: str) -> bool:
    """"按上述文件，申请1062…": a sentence that points at text the reader will not see."""
    return bool(_dangling().search(for_matching(text).strip()))


@dataclass
class _Scored:
    cand: Candidate
    base: float
    lex: float


@dataclass
class _Registry:
    """Citation numbers shared by the whole answer, in order of first use."""

    kb: KnowledgeBase
    numbers: dict[str, int] = field(default_factory=dict)
    citations: list[Citation] = field(default_factory=list)

    def cite(self, chunk: Chunk) -> int:
        if chunk.chunk_id not in self.numbers:
            self.numbers[chunk.chunk_id] = len(self.numbers) + 1
            url = chunk.url or article_url(self.kb.settings, chunk.doc_id)
            self.citations.append(Citation(self.numbers[chunk.chunk_id], chunk.doc_id, chunk.title, url,
                                           chunk.chunk_id, chunk.text))
        return self.numbers[chunk.chunk_id]


class Composer:
    def __init__(self, kb: KnowledgeBase, limits: Limits | None = None) -> None:
        self.kb = kb
        self.limits = limits or Limits.load()

    # -- candidates -------------------------------------------------------------------------------

    def candidates(self, retrieval: Retrieval, also: Chunk | None = None) -> list[Candidate]:
        """Quotable sentences of the retrieved passages (and of `also`, the passage a card answers from: its
        neighbours are on the card's topic though the search may have missed it): no marketing, none
        addressed to an audience the asker did not name, corrected sentences replaced by their correction, each
        cited to the copy of its passage a reader should see."""
        out: list[Candidate] = []
        seen: set[str] = set()
        asked = for_matching(retrieval.query.search_text)
        chunks = [h.chunk for h in retrieval.hits[: self.limits.chunks]]
        if also is not None and all(c.chunk_id != also.chunk_id for c in chunks):
            chunks.append(also)
        for rank, chunk in enumerate(chunks):
            word, phrase = self._audience(chunk.title) or ("", "")
            for order, text in enumerate(candidate_sentences(chunk.text)):
                if phrase and phrase in for_matching(text) and word not in asked:
                    continue
                cand = self._candidate(text, chunk, rank, order)
                if cand is None or compact(cand.text) in seen:
                    continue
                seen.add(compact(cand.text))
                out.append(cand)
        return out

    def _audience(self, title: str) -> tuple[str, str] | None:
        """The audience an article's title names, as (word, phrase): 煤炭企业 → (煤炭, 煤炭企业); only a word
        rare in the corpus (a place, an industry), not common ground like 初创."""
        nouns = vocab.table("filters")["audience"]
        ws = words(for_matching(title))
        for i, w in enumerate(ws):
            noun = w if w in nouns and i else next((n for n in nouns if w.endswith(n) and len(w) > len(n)), "")
            word = ws[i - 1] if noun == w else w[: -len(noun)] if noun else ""
            if _CJK_WORD.fullmatch(word) and self.kb.share.get(word, 0.0) <= AUDIENCE_SHARE:
                return word, word + noun
        return None

    def _candidate(self, text: str, chunk: Chunk, rank: int, order: int) -> Candidate | None:
        fix = next((c for c in self.kb.corrections if c.doc_id == chunk.doc_id and c.quote in text), None)
        if fix is not None:
            see = self.kb.chunk_holding(fix.see_doc, fix.see_passage) if fix.correct else None
            if see is None:
                return None
            return Candidate(fix.correct, see, rank, order, frozenset(tokenize(fix.correct)), "correction")
        if is_marketing(text) or leans_on_context(text):
            return None
        cited = self.kb.chunks.get(self.kb.canonical.get(compact(text), chunk.chunk_id), chunk)
        return Candidate(text, cited, rank, order, frozenset(tokenize(text)))

    # -- scoring ----------------------------------------------------------------------------------

    def _weights(self, r: Retrieval, pool: list[Candidate]) -> dict[str, float]:
        """Query terms weighted by rarity in the corpus and among the candidates; what a follow-up asks now
        counts more than the turns it is read with, synonyms less than the user's own words."""
        own, focus, n = set(r.tokens), set(r.focus), len(pool)
        share = self.limits.local_share
        # A colloquial word the corpus never uses ("不打算再做") is carried by its synonyms alone: they count in full.
        carried = {s for t, ss in r.synonyms.items() if t not in self.kb.idf for s in ss}
        weights = {}
        for t in dict.fromkeys(r.expanded):
            df = sum(t in c.tokens for c in pool)
            local = math.log(1 + n / max(1, df)) / math.log(1 + n) if n > 1 else 1.0
            stress = 1.5 if t in focus and focus != own else 1.0 if t in own or t in carried else 0.4
            digit = 0.3 if t.isdigit() and t not in synonyms() else 1.0  # the asker's own "3个人", "12月"
            weights[t] = self.kb.term_weight(t) * (share * local + 1 - share) * stress * digit
        return weights

    def score(self, r: Retrieval, pool: list[Candidate]) -> list[_Scored]:
        """Each candidate's relevance: term overlap and embedding similarity (each normalised within the
        candidates), a little for the passage's rank, and a bonus for the kind of answer asked for."""
        if not pool:
            return []
        weights = self._weights(r, pool)
        vectors = self.kb.sentence_vectors([c.text for c in pool])
        qvec = r.query_vector if r.query_vector is not None else self.kb.query_vector(r.query.search_text)
        lex = [sum(w for t, w in weights.items() if t in c.tokens) * (0.85 if len(c.text) > 160 else 1.0)
               for c in pool]
        sim = [float(np.dot(vectors[c.text], qvec)) for c in pool]
        lmax, smin, smax = max(lex) or 1.0, min(sim), max(sim)
        cues = r.query.cues()
        out = []
        for c, lx, sm in zip(pool, lex, sim, strict=True):
            norm_sim = (sm - smin) / (smax - smin + 1e-6)
            if lx <= 0 and norm_sim <= 0.7:
                continue  # sharing no word with the question, it must at least be close in meaning
            base = self.limits.lex_share * lx / lmax + (1 - self.limits.lex_share) * norm_sim + 0.05 / (1 + c.rank)
            base += self.limits.cue_bonus * (lx > 0 and any(p.search(c.text) for p in cues))
            out.append(_Scored(c, base, lx))
        return sorted(out, key=lambda s: -s.base)

    # -- one question ------------------------------------------------------------------------------

    def _on_focus(self, r: Retrieval, c: Candidate) -> bool:
        """A point must be about what was asked: no other topic than the question's, and a key term (not a
        corpus-wide one) of the question's own words or their synonyms — for a follow-up, of what it adds
        to the turns it is read with ("那全国呢" → 全国)."""
        if off_topic(c.text, r.query) or contrary(c.text, r.query):
            return False
        before = set(tokenize(r.query.context)) if r.query.is_follow_up else set()
        keys = [t for t in r.focus if not self.kb.is_generic(t) and t not in before]
        keys += [s for t in keys for s in r.synonyms.get(t, [])]
        return any(t in c.tokens for t in keys) or not keys

    @staticmethod
    def _may_lead(s: _Scored, r: Retrieval) -> bool:
        """A quoted conclusion shares a word with the question (or its synonyms), is about its topic, and does not
        speak to the other side of a condition the question states."""
        return s.lex > 0 and not off_topic(s.cand.text, r.query) and not contrary(s.cand.text, r.query)

    def _repeats(self, text: str, others: list[str]) -> bool:
        """Mostly the same characters as one already said, or a paraphrase that adds no figure or code."""
        own = figures(text)
        for other in others:
            if overlap(text, other) > 0.5:
                return True
            if own and own <= figures(other) and overlap(text, other) >= 0.2:
                return True  # the same figures ("提前90日") in other words
            if own <= figures(other) and contained(text, other) >= CONTAINED:
                return True  # said already in longer words ("…实施重点监管。" after "…实施重点监管，不予…")
        vecs = self.kb.sentence_vectors([text, *others])
        for other in others:
            if float(np.dot(vecs[text], vecs[other])) >= PARAPHRASE and not (
                    own - figures(other)):
                return True
        return False

    def _clause(self, text: str, r: Retrieval, limit: int) -> str:
        """A long sentence cut to the clause that answers, when that clause stands on its own (it is a
        verbatim part ending at a semicolon and carries the asked-for kind or the question's terms); an
        article's list label ("不做不必要的跨省申请：…") is dropped, it is the article's advice, not the answer."""
        text = _unlabel(text)
        if len(text) <= limit:
            return text
        parts = [p for p in _clauses(text) if len(p.strip()) >= 15]
        cues = r.query.cues()
        good = [p for p in parts if (not cues or any(c.search(p) for c in cues))
                and any(t in p for t in r.focus if len(t) > 1)]
        if not good:
            return text
        best = max(good, key=lambda p: sum(t in p for t in r.focus))
        return best.strip().rstrip("；;") + ("" if best.rstrip().endswith(("。", "！", "？")) else "。")

    def section(self, r: Retrieval, match: CardScore | None, reg: _Registry, said: list[str],
                points: int, heading: str | None, decided: Any = None) -> Section | None:
        if decided is not None:
            return self._decided(decided, reg, said, heading)
        scored = self.score(r, self.candidates(r, self.kb.chunks[match.card.chunk_id] if match else None))
        pool = [s for s in scored if not self._repeats(s.cand.text, said)]
        if match is not None:
            card = match.card
            lead = Point(card.answer, [reg.cite(self.kb.chunks[card.chunk_id])], "card")
            # a passage of several sentences is said sentence by sentence: none of them comes back as a point
            lead_texts = [card.answer, card.passage, *candidate_sentences(card.passage)]
            top = pool[0].base if pool else 0.0
        elif any(self._may_lead(s, r) for s in pool):
            first = next(s for s in pool if self._may_lead(s, r))
            pool.remove(first)
            text = self._clause(first.cand.text, r, self.limits.lead_chars)
            lead = Point(text, [reg.cite(first.cand.chunk)], first.cand.kind)
            lead_texts, top = [first.cand.text], first.base
        else:
            return None
        chosen: list[Point] = []
        for s in pool:
            if len(chosen) == points or s.base < self.limits.point_share * top:
                break
            if not self._on_focus(r, s.cand) or self._repeats(s.cand.text, lead_texts + said) or _filler(s.cand, r):
                continue
            text = self._clause(s.cand.text, r, self.limits.point_chars)
            if chosen and len(lead.text) + sum(len(p.text) for p in chosen) + len(text) > self.limits.budget:
                continue  # a reader's answer stays short: a shorter point may still fit
            chosen.append(Point(text, [reg.cite(s.cand.chunk)], s.cand.kind))
            lead_texts.append(s.cand.text)
        said += lead_texts
        # Points read better in the order the article gives them.
        return Section(lead, chosen, heading)

    def _decided(self, decided: Any, reg: _Registry, said: list[str], heading: str | None) -> Section:
        """A section from the licence assessment: its conclusion, and the reasons it gives, cited as it cites."""
        (lead, reasons), citations = decided
        by_n = {c.n: c for c in citations}

        def point(text: str, kind: str) -> Point:
            ns = [int(n) for n in re.findall(r"\[(\d+)\]", text) if int(n) in by_n]
            cites = [reg.cite(self.kb.chunks[by_n[n].chunk_id]) for n in dict.fromkeys(ns)
                     if by_n[n].chunk_id in self.kb.chunks]
            return Point(re.sub(r"\[\d+\]", "", text).strip(), cites, kind)

        said.append(lead)
        return Section(point(lead, "rule"), [point(t, "rule") for t in dict.fromkeys(reasons) if t != lead], heading)

    # -- the answer --------------------------------------------------------------------------------

    def compose(self, question: str, retrievals: list[Retrieval], matches: list[CardScore | None],
                notes: list[str], decided: list[Any] | None = None) -> Answer:
        confidence = max((r.confidence for r in retrievals), default=0.0)
        reg, said = _Registry(self.kb), list[str]()
        many = len(retrievals) > 1
        headed = many and is_pasted(question, len(retrievals))
        sections: list[Section] = []
        for i, (r, match) in enumerate(zip(retrievals, matches, strict=True)):
            heading = _heading(r.query.text) if headed else None
            points = self.limits.points_each if many else self.limits.points
            sec = self.section(r, match, reg, said, points, heading, decided[i] if decided else None)
            if sec is None:
                continue
            same = next((s for s in sections if s.lead.text == sec.lead.text), None)
            if same is None:
                sections.append(sec)
            elif same.heading and sec.heading:  # two questions one answer answers: said once, under both
                same.heading = f"{same.heading}；{sec.heading}"
        if not sections:
            return refusal(question, confidence=confidence)
        return _renumbered(Answer(question=question, sections=sections, notes=notes, citations=reg.citations,
                                  confidence=confidence))


def reading_order(answer: Answer) -> list[Point]:
    """The points in the order a reader meets them (a compound answer shows its conclusions first)."""
    secs = answer.sections
    if len(secs) > 1 and not any(s.heading for s in secs):
        return [s.lead for s in secs] + [p for s in secs for p in s.points]
    return [p for s in secs for p in [s.lead, *s.points]]


def _renumbered(answer: Answer) -> Answer:
    """Citation numbers 1, 2, 3… in reading order."""
    order: dict[int, int] = {}
    for p in reading_order(answer):
        for n in p.cites:
            order.setdefault(n, len(order) + 1)
    for p in reading_order(answer):
        p.cites = [order[n] for n in p.cites]
    # a passage registered for a point that was then left out (a merged or emptied section) is not a source
    answer.citations = [c for c in answer.citations if c.n in order]
    for c in answer.citations:
        c.n = order[c.n]
    answer.citations.sort(key=lambda c: c.n)
    return answer


@vocab.derived
def _naming() -> re.Pattern[str]:
    return re.compile(vocab.table("filters")["naming"])


@vocab.derived
def _naming_kinds() -> frozenset[str]:
    return frozenset(vocab.table("filters")["naming_kinds"])


def _filler(c: Candidate, r: Retrieval) -> bool:
    """A sentence naming a licence, under a question that does not ask for names or codes."""
    return bool(_naming().search(c.text)) and not _naming_kinds() & set(r.query.kinds)


@vocab.derived
def _continuation() -> re.Pattern[str]:
    return re.compile(vocab.table("filters")["continuation"])


def _clauses(text: str) -> list[str]:
    """A sentence's semicolon clauses, each kept with the clauses that only go on with it."""
    out: list[str] = []
    for part in re.findall(r"[^；;]+[；;。！？!?]?", text):
        if out and _continuation().match(part.strip()):
            out[-1] += part
        else:
            out.append(part)
    return out


def _heading(asked: str) -> str:
    asked = asked.strip()
    return asked if len(asked) <= 40 else asked[:40] + "…"
