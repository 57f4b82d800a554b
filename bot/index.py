"""`bot index`: ingest → chunk → embed → store, incremental by content hash, one builder at a time.

A build is two steps: `plan_changes` (pure: which documents are new, changed, unchanged or gone, which chunks to
add and delete) and `apply` (embedding, Chroma writes, the chunk table, BM25 and the manifest).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock
from tqdm import tqdm

from bot.cards import Card, Correction, Problems, cards_of, corrections_of
from bot.chunk import Chunk, chunk_document
from bot.embed import CachedEmbeddings, EmbeddingCache, make_embeddings, text_hash
from bot.ingest import Document, IngestError, Skipped, discover, load
from bot.settings import Settings
from bot.store import (
    Manifest,
    Vectors,
    bm25_current,
    build_bm25,
    load_chunks,
    save_chunks,
    save_records,
    save_vectors,
)

ADD_BATCH = 256  # chunks embedded and written per Chroma call: enough to keep every embedding worker busy


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    chunks_total: int = 0
    chunks_added: int = 0
    chunks_deleted: int = 0
    embedded: int = 0  # vectors computed (cache misses)
    cards_total: int = 0
    card_problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tokenised: int = 0  # chunks whose BM25 tokens were computed (new or changed text)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step: where a build's time goes

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.chunks_added or self.chunks_deleted)

    def summary(self) -> str:
        lines = [
            f"新增 {len(self.added)} 篇，更新 {len(self.updated)} 篇，删除 {len(self.removed)} 篇，"
            f"未变 {self.unchanged} 篇；"
            f"共 {self.chunks_total} 个片段（写入 {self.chunks_added}，删除 {self.chunks_deleted}，"
            f"新计算向量 {self.embedded}），问答卡 {self.cards_total} 张，用时 {self.seconds:.1f} 秒",
        ]
        for label, names in (("新增", self.added), ("更新", self.updated), ("删除", self.removed)):
            lines += [f"  {label}: {n}" for n in names]
        lines += [f"  跳过: {s.path} —— {s.reason}" for s in self.skipped]
        lines += [f"  问答卡未用: {p}" for p in self.card_problems]
        return "\n".join(lines)


@dataclass
class Plan:
    """What a build will do, decided before anything is written."""

    manifest: Manifest  # the manifest after the build
    chunks: list[Chunk]  # every chunk after the build, in document order
    to_add: list[Chunk]  # chunks to embed and write
    stale: set[str]  # chunk ids to delete
    rebuild: bool  # the signature changed: start from an empty collection
    report: IndexReport
    cards: list[Card] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)


def index_ready(settings: Settings) -> bool:
    # A dictionary change leaves the vectors valid but the BM25 tokens stale: the (cheap) build redoes BM25.
    return Manifest.load(settings.index_dir) is not None and bm25_current(settings.index_dir)


def signature(settings: Settings, model_id: str) -> dict:
    """The settings that shape chunks and vectors: when one changes, everything is rebuilt."""
    return {"model": model_id, "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
            "collection": settings.collection, "chroma": settings.chroma_host or "embedded"}


def load_documents(roots: list[Path]) -> tuple[dict[str, Document], list[Skipped]]:
    """Every readable document under the roots, by id; what could not be used, with the reason."""
    files, skipped = discover(roots)
    docs: dict[str, Document] = {}
    for path in files:
        root = next((r for r in roots if r.is_dir() and path.is_relative_to(r)), None)
        try:
            doc = load(path, root)
        except IngestError as exc:
            skipped.append(Skipped(str(path), str(exc)))
            continue
        if doc.doc_id in docs:
            skipped.append(Skipped(str(path), f"id 重复：{doc.doc_id} 已由 {docs[doc.doc_id].path} 使用"))
            continue
        docs[doc.doc_id] = doc
    return docs, skipped


def _entry(doc: Document, chunks: list[Chunk]) -> dict:
    return {"path": doc.path, "sha": doc.sha, "title": doc.title, "url": doc.url, "date": doc.date,
            "tags": doc.tags, "chunks": [c.chunk_id for c in chunks]}


def plan_changes(docs: dict[str, Document], old: Manifest | None, old_chunks: dict[str, Chunk],
                 sig: dict, size: int, overlap: int) -> Plan:
    """Compare the documents with what the manifest says is indexed. Pure: no I/O."""
    rebuild = old is None or old.signature != sig
    old_docs = {} if rebuild or old is None else old.docs
    plan = Plan(Manifest(signature=sig), [], [], set(), rebuild, IndexReport())
    for doc_id, doc in docs.items():
        prev = old_docs.get(doc_id)
        if prev and prev["sha"] == doc.sha and all(cid in old_chunks for cid in prev["chunks"]):
            chunks = [old_chunks[cid] for cid in prev["chunks"]]
            plan.report.unchanged += 1
        else:
            chunks = chunk_document(doc, size, overlap)
            (plan.report.updated if prev else plan.report.added).append(doc.path)
            prev_ids = set(prev["chunks"]) if prev else set()
            plan.stale |= prev_ids - {c.chunk_id for c in chunks}
            plan.to_add += [c for c in chunks if c.chunk_id not in prev_ids]
        plan.chunks += chunks
        plan.manifest.docs[doc_id] = _entry(doc, chunks)
        problems = Problems(plan.report.card_problems)
        plan.cards += cards_of(doc, chunks, problems)
        plan.corrections += corrections_of(doc)
    for doc_id, prev in old_docs.items():
        if doc_id not in docs:
            plan.report.removed.append(prev["path"])
            plan.stale |= set(prev["chunks"])
    return plan


def build_index(settings: Settings, extra_paths: list[Path] | None = None, show_progress: bool = True,
                progress: Callable[[int, int], None] | None = None) -> IndexReport:
    """Bring the index in line with corpus/ plus extra paths. Unchanged files cost nothing."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.index_dir / ".build.lock"), timeout=3600):
        started = time.perf_counter()
        inner, model_id = make_embeddings(settings, settings.workers)
        docs, skipped = load_documents([settings.corpus_dir, *(extra_paths or [])])
        old = Manifest.load(settings.index_dir)
        old_chunks = {c.chunk_id: c for c in load_chunks(settings.index_dir)} if old else {}
        plan = plan_changes(docs, old, old_chunks, signature(settings, model_id),
                            settings.chunk_size, settings.chunk_overlap)
        plan.report.skipped = skipped
        plan.report.timings["read and plan"] = time.perf_counter() - started
        cache = EmbeddingCache(settings.cache_path)
        try:
            report = apply(plan, settings, CachedEmbeddings(inner, cache, model_id), show_progress, progress)
        finally:
            cache.close()
            close = getattr(inner, "close", None)
            if close:
                close()  # the embedding worker processes
        report.seconds = time.perf_counter() - started
        return report


def apply(plan: Plan, settings: Settings, embeddings: CachedEmbeddings, show_progress: bool,
          progress: Callable[[int, int], None] | None = None) -> IndexReport:
    """Carry out a plan: Chroma first, then the chunk table, BM25 and the manifest (which marks it done)."""
    vectors = Vectors(settings)
    if plan.rebuild:
        vectors.delete(vectors.ids())
    # The collection can lag the manifest (a fresh Chroma server, a deleted folder): re-add what is missing.
    present = vectors.present([c.chunk_id for c in plan.chunks])
    queued = {c.chunk_id for c in plan.to_add}
    to_add = plan.to_add + [c for c in plan.chunks if c.chunk_id not in present and c.chunk_id not in queued]
    if plan.stale:
        vectors.delete(sorted(plan.stale))
    report = plan.report
    clock = _Clock(report.timings)
    added = _add(vectors, embeddings, to_add, show_progress, progress, clock)
    with clock("cards"):
        _sync_cards(Vectors.for_cards(settings), embeddings, plan.cards, plan.rebuild)
    with clock("vector matrix"):
        save_vectors(settings.index_dir, _matrix(plan.chunks, added, embeddings, vectors))
    with clock("chunk table"):
        save_chunks(settings.index_dir, plan.chunks)
        save_records(settings.index_dir / "cards.jsonl", [c.to_dict() for c in plan.cards])
        save_records(settings.index_dir / "corrections.jsonl", [c.to_dict() for c in plan.corrections])
    with clock("bm25 (tokenise + index)"):
        report.tokenised = build_bm25(settings.index_dir, plan.chunks)
    plan.manifest.save(settings.index_dir)
    report.timings["embed (model)"] = embeddings.seconds["embed"]
    report.timings["embedding cache"] = embeddings.seconds["cache"]
    report.chunks_total, report.chunks_added, report.chunks_deleted = len(plan.chunks), len(to_add), len(plan.stale)
    report.embedded = embeddings.embedded
    report.cards_total = len(plan.cards)
    return report


def _sync_cards(vectors: Vectors, embeddings: CachedEmbeddings, cards: list[Card], rebuild: bool) -> None:
    """Make the card collection hold exactly the current cards' phrasings (ids change with the card)."""
    wanted = {pid: (card, q) for card in cards for pid, q in zip(card.phrase_ids, card.questions, strict=True)}
    present = set(vectors.ids())
    stale = sorted(present - set(wanted)) if not rebuild else sorted(present)
    if stale:
        vectors.delete(stale)
    new = [pid for pid in wanted if pid not in present or rebuild]
    if new:
        vecs = embeddings.embed_queries([wanted[p][1] for p in new])
        vectors.add(new, vecs, [wanted[p][1] for p in new],
                    [{"card_id": wanted[p][0].card_id, "doc_id": wanted[p][0].doc_id} for p in new])


class _Clock:
    """Adds the seconds spent inside `with clock(step):` to timings[step]."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - started


def _matrix(chunks: list[Chunk], added: dict[str, list[float]], embeddings: CachedEmbeddings,
            vectors: Vectors) -> np.ndarray:
    """Every chunk's vector in table order: just computed, else from the cache, else read back from Chroma."""
    found = embeddings.cache.get_many(embeddings.model_id, [text_hash(c.embed_text) for c in chunks if c.chunk_id
                                                            not in added])
    rows: list[list[float] | np.ndarray | None] = [
        added.get(c.chunk_id, found.get(text_hash(c.embed_text))) for c in chunks]
    missing = [c.chunk_id for c, r in zip(chunks, rows, strict=True) if r is None]
    if missing:  # the cache was replaced or trimmed: Chroma still has them
        stored = vectors.embeddings_of(missing)
        rows = [stored[c.chunk_id] if r is None else r for c, r in zip(chunks, rows, strict=True)]
    return np.asarray(rows, dtype=np.float32).reshape(len(chunks), -1)


def _add(vectors: Vectors, embeddings: CachedEmbeddings, chunks: list[Chunk], show_progress: bool,
         progress: Callable[[int, int], None] | None, clock: _Clock) -> dict[str, list[float]]:
    """Embed and write the chunks; their vectors by chunk id."""
    added: dict[str, list[float]] = {}
    if not chunks:
        return added
    bar = tqdm(total=len(chunks), desc="嵌入并写入片段", unit="片段", file=sys.stderr, disable=not show_progress)

    def advance(n: int) -> None:
        bar.update(n)
        if progress:
            progress(int(bar.n), len(chunks))

    embeddings.progress = advance
    try:
        for i in range(0, len(chunks), ADD_BATCH):
            batch = chunks[i : i + ADD_BATCH]
            vecs = embeddings.embed_documents([c.embed_text for c in batch])
            with clock("chroma writes"):
                vectors.add_chunks(batch, vecs)
            added.update(zip((c.chunk_id for c in batch), vecs, strict=True))
    finally:
        embeddings.progress = None
        bar.close()
    return added
