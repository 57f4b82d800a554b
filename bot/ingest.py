"""Load source files (.md .txt .html .pdf .docx) into documents; report what could not be read."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.normalize import clean

SUPPORTED = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx"}
LAW_MARKER = "<!-- INFO END -->"
SKIP_NAMES = {"_index.md", "readme.md", "法律法规模版.md"}


class IngestError(Exception):
    """A file that cannot be turned into a document; the message says why, in plain words."""


@dataclass
class Document:
    doc_id: str
    title: str
    text: str  # body in its original wording; headings as Markdown '#' lines
    path: str
    sha: str  # hash of the file's bytes: what incremental indexing compares
    url: str = ""
    date: str = ""
    tags: list[str] = field(default_factory=list)
    kind: str = "article"  # "article" or "law" (chunked by 条)
    core: bool = False  # a core article: its copy of a passage repeated elsewhere is the one cited
    cards: list[dict] = field(default_factory=list)  # curated Q&A from the front matter (bot/cards.py)
    corrections: list[dict] = field(default_factory=list)  # known errors in the text, and what is right


@dataclass
class Skipped:
    path: str
    reason: str


def file_sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def path_id(path: Path, root: Path | None) -> str:
    """A stable id for files without front matter: readable stem plus a hash of the relative path."""
    rel = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    stem = re.sub(r"[^\w\u4e00-\u9fff-]+", "-", path.stem).strip("-")[:40] or "doc"
    return f"{stem}-{hashlib.sha1(rel.encode()).hexdigest()[:6]}"


def discover(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """Files to ingest under the given files/folders, and those skipped for their type."""
    found: list[Path] = []
    skipped: list[Skipped] = []
    for base in paths:
        if not base.exists():
            skipped.append(Skipped(str(base), "路径不存在"))
            continue
        candidates = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for p in candidates:
            if any(part.startswith(".") for part in p.relative_to(base).parts if base.is_dir()):
                continue
            if p.name.lower() in SKIP_NAMES:
                continue
            if p.suffix.lower() in SUPPORTED:
                found.append(p)
            else:
                skipped.append(Skipped(str(p), f"不支持的文件类型 {p.suffix or '(无扩展名)'}"))
    return found, skipped


def load(path: Path, root: Path | None = None) -> Document:
    """Read one file. Raises IngestError with a readable reason for anything unusable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"无法读取文件：{exc.strerror or exc}") from exc
    if not data.strip():
        raise IngestError("文件为空")
    suffix = path.suffix.lower()
    sha = file_sha(data)
    try:
        if suffix in {".md", ".markdown"}:
            doc = _load_markdown(path, _decode(data), root, sha)
        elif suffix == ".txt":
            doc = _load_text(path, _decode(data), root, sha)
        elif suffix in {".html", ".htm"}:
            doc = _load_html(path, _decode(data), root, sha)
        elif suffix == ".pdf":
            doc = _load_pdf(path, data, root, sha)
        elif suffix == ".docx":
            doc = _load_docx(path, data, root, sha)
        else:
            raise IngestError(f"不支持的文件类型 {suffix}")
    except IngestError:
        raise
    except Exception as exc:  # a parser's own error: report it by name, never a traceback
        raise IngestError(f"解析失败（{type(exc).__name__}: {exc}）") from exc
    doc.text = clean(doc.text).strip()
    doc.title = clean(doc.title).strip() or path.stem
    if len(re.sub(r"\s", "", doc.text)) < 10:
        raise IngestError("没有可用的正文文字")
    return doc


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise IngestError("看起来是二进制文件，不是文本")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise IngestError("无法识别文本编码（需要 UTF-8 或 GB18030）")


def _load_markdown(path: Path, text: str, root: Path | None, sha: str) -> Document:
    if text.lstrip().startswith("---"):
        import frontmatter
        import yaml

        try:
            post = frontmatter.loads(text)
        except yaml.YAMLError as exc:
            raise IngestError(f"front matter 不是合法的 YAML：{str(exc).splitlines()[0]}") from exc
        meta = post.metadata
        if meta:
            missing = [k for k in ("id", "title") if not meta.get(k)]
            if missing:
                raise IngestError(f"front matter 缺少字段：{', '.join(missing)}")
            source = str(meta.get("source") or "")
            raw = meta.get("tags") or []
            tags: list[object] = (
                [t.strip() for t in re.split(r"[,，\s]+", raw) if t.strip()] if isinstance(raw, str)
                else list(raw) if isinstance(raw, list | tuple) else [raw])
            return Document(
                doc_id=str(meta["id"]),
                title=str(meta["title"]),
                text=post.content,
                path=str(path),
                sha=sha,
                url=source if source.startswith(("http://", "https://")) else "",
                date=str(meta.get("date") or ""),
                tags=[str(t) for t in tags],
                core=bool(meta.get("core")),
                cards=_records(meta.get("cards"), "cards"),
                corrections=_records(meta.get("corrections"), "corrections"),
            )
        text = post.content
    if LAW_MARKER in text:
        head, body = text.split(LAW_MARKER, 1)
        title = _first_heading(head) or path.stem
        return Document(path_id(path, root), title, body, str(path), sha, kind="law",
                        date=_law_date(path.stem))
    title = _first_heading(text) or path.stem
    return Document(path_id(path, root), title, text, str(path), sha)


def _records(value: object, name: str) -> list[dict]:
    """A front-matter list of mappings (cards, corrections); anything else is a clear error."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise IngestError(f"front matter 的 {name} 必须是列表，每项是一个键值表")
    return [dict(v) for v in value]


def _first_heading(text: str) -> str:
    for line in text.splitlines():
        m = re.match(r"#\s+(.+?)\s*(<!--.*)?$", line.strip())
        if m:
            return m.group(1)
    return ""


def _law_date(stem: str) -> str:
    m = re.search(r"\((\d{4}-\d{2}-\d{2})\)$", stem)
    return m.group(1) if m else ""


def _load_text(path: Path, text: str, root: Path | None, sha: str) -> Document:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    title = lines[0][:80] if lines and len(lines[0]) <= 80 else path.stem
    return Document(path_id(path, root), title, text, str(path), sha)


# Blocks a page repeats around every article; trafilatura drops most, these headings catch the rest.
_RELATED = re.compile(
    r"^#*\s*(相关(文章|阅读|推荐|资讯|新闻)|推荐阅读|热门(文章|推荐)|猜你喜欢|延伸阅读|上一篇|下一篇)"
)


def _load_html(path: Path, html: str, root: Path | None, sha: str) -> Document:
    import trafilatura

    result = trafilatura.bare_extraction(
        html, output_format="python", with_metadata=True, include_comments=False,
        include_tables=True, include_links=False, favor_precision=True,
    )
    if result is None or isinstance(result, dict) or not (result.text or "").strip():
        raise IngestError("网页中没有提取到正文")
    kept: list[str] = []
    for line in (result.text or "").splitlines():
        if _RELATED.match(line.strip()):
            break  # everything after a related-articles heading is navigation, not body
        kept.append(line)
    return Document(path_id(path, root), result.title or path.stem, "\n".join(kept), str(path), sha,
                    url=result.url or "", date=result.date or "")


def _load_pdf(path: Path, data: bytes, root: Path | None, sha: str) -> Document:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise IngestError("PDF 已加密，无法读取")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise IngestError(f"PDF 已损坏或无法解析（{exc}）") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise IngestError("PDF 中没有可提取的文字（可能是扫描件）")
    title = (reader.metadata.title if reader.metadata else None) or path.stem
    return Document(path_id(path, root), str(title), text, str(path), sha)


def _load_docx(path: Path, data: bytes, root: Path | None, sha: str) -> Document:
    import io
    import zipfile

    import docx

    try:
        d = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError("DOCX 已损坏或不是 Word 文档") from exc
    lines: list[str] = []
    first_heading = ""
    for para in d.paragraphs:
        t = para.text.strip()
        if not t:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        m = re.match(r"heading (\d)", style)
        if style == "title" or m:
            level = int(m.group(1)) if m else 1
            first_heading = first_heading or t
            lines.append(f"{'#' * level} {t}")
        else:
            lines.append(t)
    title = d.core_properties.title or first_heading or path.stem
    return Document(path_id(path, root), title, "\n\n".join(lines), str(path), sha)
