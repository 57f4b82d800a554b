"""`bot index`: ingest → chunk → embed → store, incremental by content hash, one builder at a time."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock
from tqdm import tqdm

from bot.chunk import Chunk, chunk_document
from bot.embed import CachedEmbeddings, EmbeddingCache, make_embeddings
from bot.ingest import Document, IngestError, Skipped, discover, load
from bot.settings import Settings
from bot.store import Manifest, bm25_current, build_bm25, load_chunks, save_chunks, vector_store

ADD_BATCH = 64


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
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.chunks_added or self.chunks_deleted)

    def summary(self) -> str:
        lines = [
            f"新增 {len(self.added)} 篇，更新 {len(self.updated)} 篇，删除 {len(self.removed)} 篇，未变 {self.unchanged} 篇；"
            f"共 {self.chunks_total} 个片段（写入 {self.chunks_added}，删除 {self.chunks_deleted}，"
            f"新计算向量 {self.embedded}），用时 {self.seconds:.1f} 秒",
        ]
        for label, names in (("新增", self.added), ("更新", self.updated), ("删除", self.removed)):
            lines += [f"  {label}: {n}" for n in names]
        lines += [f"  跳过: {s.path} —— {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def index_ready(settings: Settings) -> bool:
    # A dictionary change leaves the vectors valid but the BM25 tokens stale: the (cheap) build redoes BM25.
    return Manifest.load(settings.index_dir) is not None and bm25_current(settings.index_dir)


def build_index(settings: Settings, extra_paths: list[Path] | None = None,
                show_progress: bool = True) -> IndexReport:
    """Bring the index in line with corpus/ plus extra paths. Unchanged files cost nothing."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.index_dir / ".build.lock"), timeout=3600):
        return _build(settings, [settings.corpus_dir, *(extra_paths or [])], show_progress)


def _build(settings: Settings, roots: list[Path], show_progress: bool) -> IndexReport:
    started = time.perf_counter()
    report = IndexReport()
    inner, model_id = make_embeddings(settings)
    signature = {"model": model_id, "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
                 "collection": settings.collection, "chroma": settings.chroma_host or "embedded"}

    files, report.skipped = discover(roots)
    docs: dict[str, Document] = {}
    for path in files:
        root = next((r for r in roots if r.is_dir() and path.is_relative_to(r)), None)
        try:
            doc = load(path, root)
        except IngestError as exc:
            report.skipped.append(Skipped(str(path), str(exc)))
            continue
        if doc.doc_id in docs:
            report.skipped.append(Skipped(str(path), f"id 重复：{doc.doc_id} 已由 {docs[doc.doc_id].path} 使用"))
            continue
        docs[doc.doc_id] = doc

    old = Manifest.load(settings.index_dir)
    if old is None or old.signature != signature:
        old_docs: dict[str, dict] = {}
        rebuild = True
    else:
        old_docs, rebuild = old.docs, False
    old_chunks = {c.chunk_id: c for c in load_chunks(settings.index_dir)} if not rebuild else {}

    cache = EmbeddingCache(settings.cache_path)
    embeddings = CachedEmbeddings(inner, cache, model_id)
    store = vector_store(settings, embeddings)
    if rebuild:
        _reset_collection(store)

    new_manifest = Manifest(signature=signature)
    all_chunks: list[Chunk] = []
    to_add: list[Chunk] = []
    stale_ids: set[str] = set()
    for doc_id, doc in docs.items():
        prev = old_docs.get(doc_id)
        if prev and prev["sha"] == doc.sha and all(cid in old_chunks for cid in prev["chunks"]):
            chunks = [old_chunks[cid] for cid in prev["chunks"]]
            report.unchanged += 1
        else:
            chunks = chunk_document(doc, settings.chunk_size, settings.chunk_overlap)
            (report.updated if prev else report.added).append(doc.path)
            prev_ids = set(prev["chunks"]) if prev else set()
            stale_ids |= prev_ids - {c.chunk_id for c in chunks}
            to_add += [c for c in chunks if c.chunk_id not in prev_ids]
        all_chunks += chunks
        new_manifest.docs[doc_id] = {"path": doc.path, "sha": doc.sha, "title": doc.title,
                                     "url": doc.url, "date": doc.date, "tags": doc.tags,
                                     "chunks": [c.chunk_id for c in chunks]}
    for doc_id, prev in old_docs.items():
        if doc_id not in docs:
            report.removed.append(prev["path"])
            stale_ids |= set(prev["chunks"])

    # The collection can lag the manifest (a fresh Chroma server, a deleted folder): re-add what is missing.
    present = _present_ids(store, [c.chunk_id for c in all_chunks])
    queued = {c.chunk_id for c in to_add}
    to_add += [c for c in all_chunks if c.chunk_id not in present and c.chunk_id not in queued]

    if stale_ids:
        store.delete(ids=sorted(stale_ids))
    _add(store, embeddings, to_add, show_progress)

    save_chunks(settings.index_dir, all_chunks)
    build_bm25(settings.index_dir, all_chunks)
    new_manifest.save(settings.index_dir)
    cache.close()

    report.chunks_total = len(all_chunks)
    report.chunks_added = len(to_add)
    report.chunks_deleted = len(stale_ids)
    report.embedded = embeddings.embedded
    report.seconds = time.perf_counter() - started
    return report


def _reset_collection(store) -> None:
    existing = store.get(include=[])["ids"]
    for i in range(0, len(existing), 5000):
        store.delete(ids=existing[i : i + 5000])


def _present_ids(store, ids: list[str]) -> set[str]:
    present: set[str] = set()
    for i in range(0, len(ids), 1000):
        present |= set(store.get(ids=ids[i : i + 1000], include=[])["ids"])
    return present


def _add(store, embeddings: CachedEmbeddings, chunks: list[Chunk], show_progress: bool) -> None:
    if not chunks:
        return
    bar = tqdm(total=len(chunks), desc="嵌入并写入片段", unit="片段", file=sys.stderr,
               disable=not show_progress)
    embeddings.progress = bar.update
    try:
        for i in range(0, len(chunks), ADD_BATCH):
            batch = chunks[i : i + ADD_BATCH]
            store.add_texts(
                texts=[c.embed_text for c in batch],
                metadatas=[{"doc_id": c.doc_id, "title": c.title, "url": c.url, "position": c.position,
                            "headings": " > ".join(c.headings), "kind": c.kind} for c in batch],
                ids=[c.chunk_id for c in batch],
            )
    finally:
        embeddings.progress = None
        bar.close()
