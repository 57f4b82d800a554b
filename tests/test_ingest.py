"""Each loader on a real file it writes; broken files are reported by name and skipped."""

from __future__ import annotations

import pytest

from bot.chunk import chunk_document, split_sentences
from bot.ingest import IngestError, discover, load
from tests.conftest import SHARED, write_article

HTML_PAGE = """<!doctype html><html><head><title>ICP证办理指南</title></head><body>
<nav><ul><li><a href="/">首页</a></li><li><a href="/news">新闻中心</a></li>
<li><a href="/about">关于我们</a></li></ul></nav>
<article><h1>ICP证办理指南</h1>
<p>经营性互联网信息服务实行许可制度，企业应当向省通信管理局申请ICP证，审批机关自收到申请之日起60日内审查完毕。</p>
<p>非经营性互联网信息服务实行备案制度，只做展示的网站办理ICP备案即可，不需要申请经营许可证。</p>
<p>申请ICP证的企业应当是依法设立的公司，在省内经营的注册资本最低为100万元人民币。</p>
<h2>相关文章</h2><ul><li><a href="/a1">EDI证办理流程全解析</a></li><li><a href="/a2">IDC许可证年报注意事项</a></li></ul>
</article>
<footer>版权所有 © 某某咨询公司 备案号：京ICP备00000000号 联系电话 400-000-0000</footer>
</body></html>"""


def test_markdown_front_matter(tmp_path):
    path = write_article(tmp_path, "t1", "测试文章", "## 第一节\n\n增值电信业务经营许可证有效期为5年。")
    doc = load(path, tmp_path)
    assert (doc.doc_id, doc.title, doc.tags, doc.url) == ("t1", "测试文章", ["测试"], "")
    assert "有效期为5年" in doc.text and "id:" not in doc.text


def test_html_drops_navigation_footer_and_related_list(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(HTML_PAGE, encoding="utf-8")
    doc = load(path, tmp_path)
    assert "60日内审查完毕" in doc.text and "ICP备案即可" in doc.text
    for noise in ("新闻中心", "关于我们", "EDI证办理流程全解析", "版权所有", "400-000-0000"):
        assert noise not in doc.text, noise


def test_pdf(tmp_path):
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = tmp_path / "guide.pdf"
    c = canvas.Canvas(str(path))
    c.setTitle("许可证指南")
    c.setFont("STSong-Light", 12)
    c.drawString(72, 720, "增值电信业务经营许可证有效期为5年。")
    c.drawString(72, 700, "有效期届满需要继续经营的，应当提前90日申请延续。")
    c.save()
    doc = load(path, tmp_path)
    assert doc.title == "许可证指南"
    assert "有效期为5年" in doc.text and "提前90日" in doc.text


def test_docx_keeps_headings(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("年报指南", level=1)
    d.add_heading("什么时候报", level=2)
    d.add_paragraph("电信业务经营者应当在每年第一季度报送上一年度的年报。")
    path = tmp_path / "report.docx"
    d.save(path)
    doc = load(path, tmp_path)
    assert doc.title == "年报指南"
    chunks = chunk_document(doc)
    assert chunks[0].headings == ["年报指南", "什么时候报"]
    assert "第一季度" in chunks[0].text


def test_traditional_text_keeps_original_wording(tmp_path):
    path = tmp_path / "trad.txt"
    path.write_text("許可證說明\n增值電信業務經營許可證有效期為5年。", encoding="utf-8")
    doc = load(path, tmp_path)
    assert "許可證" in doc.text  # cited as written; matching normalises separately


@pytest.mark.parametrize("name,content,reason", [
    ("broken.md", "---\nid: [unclosed\ntitle: x\n---\n正文内容正文内容正文内容", "YAML"),
    ("noid.md", "---\ntitle: 没有id\n---\n正文内容正文内容正文内容", "缺少字段"),
    ("bad.pdf", "%PDF-1.4 this is not really a pdf", "PDF"),
    ("bad.docx", "not a zip at all", "DOCX"),
    ("empty.txt", "   \n", "为空"),
    ("binary.txt", "\x00\x01\x02binary", "二进制"),
])
def test_broken_files_raise_readable_errors(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    with pytest.raises(IngestError, match=reason):
        load(path, tmp_path)


def test_discover_reports_unknown_extensions(tmp_path):
    (tmp_path / "a.md").write_text("# 标题\n正文", encoding="utf-8")
    (tmp_path / "b.xyz").write_text("?", encoding="utf-8")
    found, skipped = discover([tmp_path])
    assert [p.name for p in found] == ["a.md"]
    assert skipped[0].path.endswith("b.xyz") and ".xyz" in skipped[0].reason


def test_sentences_keep_end_marks_and_semicolon_pairs():
    text = "在省内经营的，注册资本最低100万元；跨省经营的，最低1000万元。有效期为5年！真的吗？"
    assert split_sentences(text) == [
        "在省内经营的，注册资本最低100万元；跨省经营的，最低1000万元。",
        "有效期为5年！",
        "真的吗？",
    ]


def test_chunks_are_sized_stable_and_carry_metadata(tmp_path):
    body = "## 条件\n\n" + "\n\n".join(
        f"第{i}段：增值电信业务经营许可证的申请条件之一是依法设立的公司，并有相应的资金和专业人员。" * 3
        for i in range(8)
    )
    doc = load(write_article(tmp_path, "t2", "条件说明", body), tmp_path)
    a, b = chunk_document(doc, 320, 60), chunk_document(doc, 320, 60)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert all(len(c.text) <= 320 for c in a) and len(a) > 3
    assert all(c.doc_id == "t2" and c.headings == ["条件"] for c in a)
    assert [c.position for c in a] == list(range(len(a)))
    assert a[0].embed_text.startswith("条件说明")


LAW = SHARED / "corpora" / "laws" / "行政法规" / "电信条例(2016-02-06).md"


def test_law_chunked_by_article_with_chapter():
    doc = load(LAW, LAW.parent)
    assert doc.kind == "law" and doc.title == "中华人民共和国电信条例"
    chunks = chunk_document(doc)
    art7 = next(c for c in chunks if c.text.startswith("第七条"))
    assert "未取得电信业务经营许可证，任何组织或者个人不得从事电信业务经营活动" in art7.text
    assert art7.headings[:2] == ["第二章 电信市场", "第一节 电信业务许可"]
    assert not any(c.text.startswith("第八条") and "第七条" in c.text[:5] for c in chunks)


def test_every_law_file_parses():
    """A parse-only pass over every real law in shared/ (cheap: no embedding)."""
    laws = SHARED / "corpora" / "laws"
    files, skipped = discover([laws])
    assert len(files) > 1500
    failures = []
    articles = 0
    for path in files:
        try:
            doc = load(path, laws)
        except IngestError as exc:
            failures.append((path.name, str(exc)))
            continue
        articles += len(chunk_document(doc))
    assert len(failures) < len(files) * 0.01, failures[:5]
    assert articles > 60000
