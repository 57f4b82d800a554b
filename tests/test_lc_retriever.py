"""The hybrid retriever as a LangChain BaseRetriever, inside a small LCEL chain over the bundled corpus."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough

from bot.lc_retriever import HybridRetriever


def _cited(docs: list[Document]) -> str:
    return "\n".join(f"[{d.metadata['rank']}] {d.page_content}（{d.metadata['title']}）" for d in docs)


def test_invoke_returns_documents_with_citation_fields(bot):
    retriever = HybridRetriever(kb=bot.kb, k=4)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("ICP证注册资本最低要多少？")
    assert len(docs) == 4 and all(isinstance(d, Document) for d in docs)
    assert any("100万" in d.page_content for d in docs)
    meta = docs[0].metadata
    assert {"chunk_id", "doc_id", "title", "url", "rank", "score", "bm25_rank", "dense_rank"} <= set(meta)
    assert docs[0].id == meta["chunk_id"] and meta["chunk_id"] in bot.kb.chunks
    assert meta["url"].endswith(meta["doc_id"]) or meta["url"].startswith("http")
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3, 4]
    # The same passages, in the same order, as the bot's own retriever.
    own = bot.retriever.search("ICP证注册资本最低要多少？", k=4)
    assert [d.metadata["chunk_id"] for d in docs] == [h.chunk.chunk_id for h in own.hits]


def test_an_lcel_chain_cites_the_passages_it_was_given(bot):
    retriever = HybridRetriever(kb=bot.kb, k=3)
    chain = (RunnableParallel(context=retriever | RunnableLambda(_cited), question=RunnablePassthrough())
             | RunnableLambda(lambda x: f"问题：{x['question']}\n依据：\n{x['context']}"))
    prompt = chain.invoke("EDI证全国经营向谁申请？")
    assert prompt.startswith("问题：EDI证全国经营向谁申请？") and "[1] " in prompt and "[3] " in prompt
    assert "工信部" in prompt or "工业和信息化部" in prompt
    assert len(chain.batch(["ICP证有效期几年？", "今天天气怎么样"])) == 2
