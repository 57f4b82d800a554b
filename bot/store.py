"""Persistence: the Chroma collection (embedded or server), the chunk table, the BM25 index, the manifest."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.chunk import Chunk
from bot.settings import Settings

MANIFEST_VERSION = 2  # 2: chunks carry `core`; cards and corrections are indexed


def chroma_client(settings: Settings) -> Any:
    """An embedded persistent client under index/, or an HTTP client when CHROMA_HOST is set."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    path = settings.index_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


# Exhaustive enough for corpora of tens of thousands of chunks; at the default (100) HNSW returned slightly
# different neighbours from one process to the next.
HNSW = {"space": "cosine", "ef_search": 200}
CARDS_SUFFIX = "_cards"


class Vectors:
    """The chunk vectors in Chroma: what indexing writes and what dense retrieval reads. Vectors are always
    computed by our own embeddings and passed in (Chroma's default embedding function downloads a model)."""

    def __init__(self, settings: Settings, suffix: str = "", client: Any = None) -> None:
        self.client = client or chroma_client(settings)
        self.collection = self.client.get_or_create_collection(
            settings.collection + suffix, embedding_function=None, configuration={"hnsw": HNSW})

    @classmethod
    def for_cards(cls, settings: Settings, client: Any = None) -> Vectors:
        """The answer cards' question phrasings, in a collection of their own."""
        return cls(settings, CARDS_SUFFIX, client)

    def add(self, ids: list[str], vectors: list[list[float]], documents: list[str], metadatas: list[dict]) -> None:
        for i in range(0, len(ids), 1000):
            self.collection.add(ids=ids[i : i + 1000], embeddings=vectors[i : i + 1000],
                                documents=documents[i : i + 1000], metadatas=metadatas[i : i + 1000])

    def add_chunks(self, chunks: list[Chunk], vectors: list[list[float]]) -> None:
        self.add([c.chunk_id for c in chunks], vectors, [c.embed_text for c in chunks],
                 [{"doc_id": c.doc_id, "title": c.title, "url": c.url, "position": c.position,
                   "headings": " > ".join(c.headings), "kind": c.kind} for c in chunks])

    def delete(self, ids: list[str]) -> None:
        for i in range(0, len(ids), 5000):
            self.collection.delete(ids=ids[i : i + 5000])

    def ids(self) -> list[str]:
        return list(self.collection.get(include=[])["ids"])

    def present(self, ids: list[str]) -> set[str]:
        """Which of these ids the collection holds."""
        found: set[str] = set()
        for i in range(0, len(ids), 1000):
            found |= set(self.collection.get(ids=ids[i : i + 1000], include=[])["ids"])
        return found

    def count(self) -> int:
        return int(self.collection.count())

    def query(self, vector: list[float], k: int) -> list[tuple[str, float]]:
        """The k nearest entries as (id, cosine similarity), best first."""
        if k <= 0 or not self.count():
            return []
        res = self.collection.query(query_embeddings=[vector], n_results=k, include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=True)]


@dataclass
class Manifest:
    """What is indexed: per document its file hash and chunk ids; plus the settings that shaped them."""

    signature: dict = field(default_factory=dict)
    docs: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, index_dir: Path) -> Manifest | None:
        path = index_dir / "manifest.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # a damaged manifest means a rebuild, not a crash
        if data.get("version") != MANIFEST_VERSION:
            return None
        return cls(signature=data.get("signature", {}), docs=data.get("docs", {}))

    def save(self, index_dir: Path) -> None:
        data = {"version": MANIFEST_VERSION, "signature": self.signature, "docs": self.docs}
        _atomic_write(index_dir / "manifest.json", json.dumps(data, ensure_ascii=False, indent=1))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(path)


def save_records(path: Path, records: list[dict]) -> None:
    """One JSON object per line, written atomically."""
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    _atomic_write(path, lines + ("\n" if lines else ""))


def load_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def save_chunks(index_dir: Path, chunks: list[Chunk]) -> None:
    save_records(index_dir / "chunks.jsonl", [c.to_dict() for c in chunks])


def load_chunks(index_dir: Path) -> list[Chunk]:
    return [Chunk(**r) for r in load_records(index_dir / "chunks.jsonl")]


def build_bm25(index_dir: Path, chunks: list[Chunk]) -> None:
    """Rebuild the BM25 index over all chunks (cheap: milliseconds per thousand chunks)."""
    import bm25s

    from bot.lexicon import fingerprint, tokenize

    retriever = bm25s.BM25()
    corpus = [tokenize(c.embed_text) or ["∅"] for c in chunks] or [["∅"]]
    retriever.index(corpus, show_progress=False)
    retriever.save(str(index_dir / "bm25"))
    _atomic_write(index_dir / "bm25" / "chunk_ids.json", json.dumps([c.chunk_id for c in chunks]))
    _atomic_write(index_dir / "bm25" / "lexicon.txt", fingerprint())


def bm25_current(index_dir: Path) -> bool:
    """Whether the BM25 index exists and was tokenised with today's dictionary."""
    from bot.lexicon import fingerprint

    path = index_dir / "bm25" / "lexicon.txt"
    return (index_dir / "bm25" / "chunk_ids.json").exists() and path.exists() and path.read_text().strip() == fingerprint()


def load_bm25(index_dir: Path):
    import bm25s

    retriever = bm25s.BM25.load(str(index_dir / "bm25"), load_corpus=False)
    ids = json.loads((index_dir / "bm25" / "chunk_ids.json").read_text("utf-8"))
    return retriever, ids
