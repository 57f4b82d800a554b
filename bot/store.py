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

    def embeddings_of(self, ids: list[str]) -> dict[str, list[float]]:
        """The stored vectors of these ids."""
        out: dict[str, list[float]] = {}
        for i in range(0, len(ids), 1000):
            got = self.collection.get(ids=ids[i : i + 1000], include=["embeddings"])
            out.update(zip(got["ids"], (list(map(float, v)) for v in got["embeddings"]), strict=True))
        return out

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


MEMO = "memo.json"  # tokens of the texts the knowledge base tokenises at start (cards), see lexicon.save_memo
TOKENS = "tokens.tsv"  # per chunk its BM25 tokens, keyed by a hash of the indexed text; first line the vocabulary
_SEP = "\x1f"  # between tokens: never inside one (tokens carry no control characters)


def _token_key(chunk: Chunk) -> str:
    import hashlib

    return hashlib.sha1(chunk.embed_text.encode("utf-8")).hexdigest()[:16]


def _load_tokens(index_dir: Path, lexicon: str) -> dict[str, list[str]]:
    path = index_dir / "bm25" / TOKENS
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        if fh.readline().strip() != lexicon:
            return {}  # made with another vocabulary: tokenise again
        out: dict[str, list[str]] = {}
        for line in fh:
            key, _, toks = line.rstrip("\n").partition("\t")
            out[key] = toks.split(_SEP) if toks else []
        return out


def chunk_tokens(index_dir: Path, chunks: list[Chunk]) -> tuple[list[list[str]], int]:
    """Every chunk's BM25 tokens: those of the last build where the text and the vocabulary are unchanged,
    tokenised now otherwise. Returns the tokens and how many chunks were tokenised."""
    from bot.lexicon import fingerprint, tokenize_many

    known = _load_tokens(index_dir, fingerprint())
    keys = [_token_key(c) for c in chunks]
    todo = [i for i, k in enumerate(keys) if k not in known]
    for i, toks in zip(todo, tokenize_many([chunks[i].embed_text for i in todo]), strict=True):
        known[keys[i]] = toks
    return [known[k] for k in keys], len(todo)


def build_bm25(index_dir: Path, chunks: list[Chunk]) -> int:
    """Rebuild the BM25 index over all chunks from their tokens (only new or changed chunks are tokenised);
    returns how many were tokenised."""
    import bm25s

    from bot.lexicon import fingerprint

    tokens, tokenised = chunk_tokens(index_dir, chunks)
    retriever = bm25s.BM25()
    retriever.index([t or ["∅"] for t in tokens] or [["∅"]], show_progress=False)
    retriever.save(str(index_dir / "bm25"))
    lines = [fingerprint()] + [f"{_token_key(c)}\t{_SEP.join(t)}" for c, t in zip(chunks, tokens, strict=True)]
    _atomic_write(index_dir / "bm25" / TOKENS, "\n".join(lines) + "\n")
    _atomic_write(index_dir / "bm25" / "chunk_ids.json", json.dumps([c.chunk_id for c in chunks]))
    _atomic_write(index_dir / "bm25" / "lexicon.txt", fingerprint())
    return tokenised


def bm25_current(index_dir: Path) -> bool:
    """Whether the BM25 index exists and was tokenised with today's dictionary."""
    from bot.lexicon import fingerprint

    path = index_dir / "bm25" / "lexicon.txt"
    ids = index_dir / "bm25" / "chunk_ids.json"
    return ids.exists() and path.exists() and path.read_text().strip() == fingerprint()


def load_bm25(index_dir: Path) -> tuple[Any, list[str]]:
    import bm25s

    retriever = bm25s.BM25.load(str(index_dir / "bm25"), load_corpus=False, show_progress=False)
    ids = json.loads((index_dir / "bm25" / "chunk_ids.json").read_text("utf-8"))
    return retriever, ids


class TermIndex:
    """What the BM25 index knows about terms, read from its matrix rather than by tokenising the corpus
    again: each term's document frequency and each chunk's set of terms (built on demand)."""

    def __init__(self, bm25: Any, ids: list[str]) -> None:
        import numpy as np
        from scipy.sparse import csc_matrix

        s = bm25.scores
        columns = len(s["indptr"]) - 1  # bm25s's empty token has an id but no column
        self.terms = [""] * columns
        for term, i in bm25.vocab_dict.items():
            if i < columns:
                self.terms[i] = term
        matrix = csc_matrix((s["data"], s["indices"], s["indptr"]), shape=(s["num_docs"], columns))
        self.rows = matrix.tocsr()
        self.df = np.diff(np.asarray(s["indptr"]))
        self.position = {cid: i for i, cid in enumerate(ids)}
        self._sets: dict[str, frozenset[str]] = {}

    def terms_of(self, chunk_id: str) -> frozenset[str]:
        found = self._sets.get(chunk_id)
        if found is None:
            i = self.position.get(chunk_id)
            if i is None:
                return frozenset()
            cols = self.rows.indices[self.rows.indptr[i] : self.rows.indptr[i + 1]]
            found = self._sets[chunk_id] = frozenset(self.terms[c] for c in cols) - {"∅"}
        return found


VECTORS = "vectors.npy"  # chunk vectors in chunks.jsonl order: exact dense search without a round trip


def save_vectors(index_dir: Path, vectors: Any) -> None:
    import numpy as np

    tmp = index_dir / (VECTORS + ".tmp")
    with tmp.open("wb") as fh:
        np.save(fh, np.asarray(vectors, dtype=np.float32))
    tmp.replace(index_dir / VECTORS)


def load_vectors(index_dir: Path, n: int) -> Any:
    """The chunk matrix (memory-mapped), or None when missing or not of this chunk table."""
    import numpy as np

    path = index_dir / VECTORS
    if not path.exists():
        return None
    matrix = np.load(path, mmap_mode="r")
    return matrix if matrix.shape[0] == n else None
