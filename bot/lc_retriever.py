"""The hybrid retriever as a LangChain `BaseRetriever`, for users who build their own chains on this index.

`invoke(question)` returns one `Document` per passage: its text is the chunk's original wording (what a
citation quotes); its metadata carries the chunk and article ids, title, link, heading path and the scores
of both halves, so a chain can cite exactly as the bot does.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.answer import article_url
from bot.retrieve import Hit, KnowledgeBase, Retriever


class HybridRetriever(BaseRetriever):
    """BM25 + dense vectors fused by reciprocal rank over a built index (see bot.retrieve)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: KnowledgeBase
    k: int = 5
    mode: str = "hybrid"

    @classmethod
    def from_settings(cls, settings: Any = None, **kwargs: Any) -> HybridRetriever:
        from bot.settings import get_settings

        return cls(kb=KnowledgeBase(settings or get_settings()), **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        retrieval = Retriever(self.kb, self.mode).search(query, k=self.k)
        return [self._document(hit, rank) for rank, hit in enumerate(retrieval.hits, start=1)]

    def _document(self, hit: Hit, rank: int) -> Document:
        chunk = hit.chunk
        metadata = {
            "chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "title": chunk.title,
            "url": chunk.url or article_url(self.kb.settings, chunk.doc_id),
            "headings": list(chunk.headings), "kind": chunk.kind, "rank": rank,
            "score": hit.score, "bm25_rank": hit.bm25_rank, "dense_rank": hit.dense_rank,
            "dense_score": hit.dense_score,
        }
        return Document(page_content=chunk.text, metadata=metadata, id=chunk.chunk_id)
