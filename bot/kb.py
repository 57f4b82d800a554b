"""The knowledge base an instance serves: the bundled corpus overlaid with the articles uploaded, replaced or
deleted in the console.

Those changes are kept in the database (table `articles`, bot/db.py), never only on one machine's disk, and each
change bumps the knowledge-base version. Every instance writes the overlay into a folder of its own next to its
index (bundled files as links, uploads as files), builds from that folder, and rebuilds when it sees a newer
version (bot/web/holder.py polls every BOT_KB_POLL_SECONDS). Client file names are never used as paths: an
upload is stored under a generated name.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from bot.ingest import Document, IngestError, discover, load
from bot.settings import Settings

log = logging.getLogger("bot.kb")
UPLOAD_TYPES = {".md": "Markdown", ".markdown": "Markdown", ".txt": "纯文本", ".html": "网页", ".htm": "网页",
                ".pdf": "PDF", ".docx": "Word"}
FOLDER = "kb_articles"  # inside the index dir: the overlay this instance builds from
_HTML_TAG = re.compile(rb"<\s*(!doctype|html|head|body|p|div|h[1-6]|article|section|main|table|ul|ol|br)\b", re.I)


class UploadError(ValueError):
    """An upload that cannot become an article; the message is for the operator, in Chinese."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def safe_name(filename: str, ext: str) -> str:
    """A generated file name: a readable stem (letters, digits, CJK, dashes only) plus a random part."""
    stem = PurePosixPath((filename or "").replace("\\", "/")).stem
    stem = re.sub(r"[^\w-]+", "-", stem, flags=re.UNICODE).strip("-_")[:40] or "article"
    return f"up-{stem}-{uuid.uuid4().hex[:8]}{ext}"


def sniff(ext: str, data: bytes) -> None:
    """The content must be what the extension says."""
    if ext == ".pdf":
        if not data.lstrip()[:5] == b"%PDF-":
            raise UploadError("文件扩展名是 .pdf，但内容不是 PDF。")
        return
    if ext == ".docx":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                if "word/document.xml" not in z.namelist():
                    raise UploadError("文件扩展名是 .docx，但内容不是 Word 文档。")
        except zipfile.BadZipFile as exc:
            raise UploadError("文件扩展名是 .docx，但内容不是 Word 文档。") from exc
        return
    head = data[:8192]
    if head.startswith((b"%PDF", b"PK\x03\x04", b"\x7fELF", b"MZ", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")) \
            or b"\x00" in head:
        raise UploadError(f"文件扩展名是 {ext}，但内容是二进制文件，不是文本。")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UploadError("无法识别文本编码（需要 UTF-8 或 GB18030）。")
    if ext in {".html", ".htm"} and not _HTML_TAG.search(data[:65536]):
        raise UploadError("文件扩展名是 .html，但内容不是网页。")


def parse(name: str, data: bytes) -> Document:
    """Read an upload the way the index will (same file name, same root): its id, title and text."""
    with tempfile.TemporaryDirectory(prefix="bot-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            return load(path, Path(tmp))
        except IngestError as exc:
            raise UploadError(f"无法读取该文件：{exc}") from exc


@dataclass
class Upload:
    name: str  # generated, safe
    data: bytes
    doc: Document


def check_upload(filename: str, data: bytes, max_bytes: int, name: str | None = None) -> Upload:
    """Type by extension and content, size, then a real parse. Raises UploadError."""
    ext = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    if ext not in UPLOAD_TYPES:
        raise UploadError("只支持上传 .md、.txt、.html、.pdf、.docx 文件。", 415)
    if not data:
        raise UploadError("文件为空。")
    if len(data) > max_bytes:
        raise UploadError(f"文件过大（上限 {max_bytes} 字节）。", 413)
    sniff(ext, data)
    name = name or safe_name(filename, ext)
    return Upload(name, data, parse(name, data))


class ArticleFiles:
    """The overlay folder of one instance, written from the database's article rows."""

    def __init__(self, settings: Settings, store: Any) -> None:
        self.settings, self.store = settings, store
        self.folder = settings.index_dir / FOLDER

    def bundled(self) -> dict[str, Path]:
        """The bundled corpus's files by their name relative to corpus_dir (what an article row overrides)."""
        root = self.settings.corpus_dir
        files, _ = discover([root]) if root.exists() else ([], [])
        return {PurePosixPath(p.relative_to(root)).as_posix(): p for p in files}

    def prepare(self) -> tuple[Settings, int | None]:
        """The settings to build with and the knowledge-base version they hold. Without article rows (or
        without a reachable database) that is the bundled corpus as it is."""
        try:
            version = self.store.kb_version()
            rows = {r.name: r.content for r in self.store.articles()}
        except Exception as exc:
            log.warning("articles not read from the database, serving the bundled corpus: %s", exc)
            return self.settings, None
        if not rows:
            return self.settings, version
        self._write(rows)
        return self.settings.model_copy(update={"corpus_dir": self.folder}), version

    def _write(self, rows: dict[str, bytes | None]) -> None:
        wanted: dict[str, Path | bytes] = {}
        for name, path in self.bundled().items():
            wanted[name] = path
        for name, content in rows.items():
            if content is None:
                wanted.pop(name, None)
            elif _safe_relative(name):
                wanted[name] = content
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.folder.rglob("*"), reverse=True):
            rel = PurePosixPath(path.relative_to(self.folder)).as_posix()
            if (path.is_symlink() or path.is_file()) and rel not in wanted:
                path.unlink()
            elif path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
        for name, source in wanted.items():
            target = self.folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, Path):
                if target.is_symlink() and os.readlink(target) == str(source):
                    continue
                tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:6]}")
                tmp.symlink_to(source)
                tmp.replace(target)
            else:
                if target.is_file() and not target.is_symlink() and target.read_bytes() == source:
                    continue
                tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:6]}")
                tmp.write_bytes(source)
                tmp.replace(target)

    def name_of(self, path: str) -> str | None:
        """An indexed document's article name (its path relative to the folder it was built from)."""
        p = Path(path)
        for root in (self.folder, self.settings.corpus_dir):
            if p.is_relative_to(root):
                return PurePosixPath(p.relative_to(root)).as_posix()
        return None


def _safe_relative(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and not any(s.startswith(".") for s in p.parts)


# -- what the console shows and does ---------------------------------------------------------------------


def aware(value: Any) -> Any:
    from bot.db import aware as utc

    return utc(value)


def _manifest_docs(bot: Any) -> dict[str, dict[str, Any]]:
    from bot.store import Manifest

    manifest = Manifest.load(bot.settings.index_dir) if bot is not None else None
    return dict(manifest.docs) if manifest else {}


def catalogue(files: ArticleFiles, bot: Any, skipped: list[Any]) -> list[dict[str, Any]]:
    """Every article served, with its chunk and card counts and dates; uploads not (yet) indexed after them."""
    rows = {r.name: r for r in files.store.articles()}
    bundled = set(files.bundled())
    cards: dict[str, int] = {}
    for card in (bot.kb.cards.cards.values() if bot is not None else []):
        cards[card.doc_id] = cards.get(card.doc_id, 0) + 1
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for doc_id, entry in _manifest_docs(bot).items():
        name = files.name_of(entry.get("path", "")) or ""
        seen.add(name)
        row = rows.get(name)
        source = ("已替换" if row is not None else "内置") if name in bundled else "上传"
        out.append({"doc_id": doc_id, "title": entry.get("title", ""), "name": name, "source": source,
                    "date": entry.get("date", ""), "chunks": len(entry.get("chunks", [])),
                    "cards": cards.get(doc_id, 0),
                    "updated_at": aware(row.updated_at).isoformat() if row is not None else None, "status": "已索引"})
    reasons = {Path(s.path).name: s.reason for s in skipped}
    for name, row in rows.items():
        if row.content is None or name in seen:
            continue
        reason = reasons.get(PurePosixPath(name).name)
        status = f"未能索引：{reason}" if reason else "待索引"
        out.append({"doc_id": None, "title": "", "name": name, "source": "上传", "date": "", "chunks": 0, "cards": 0,
                    "updated_at": aware(row.updated_at).isoformat(), "status": status})
    out.sort(key=lambda a: (a["status"] == "已索引", a["source"] == "内置", a["doc_id"] or ""))
    return out


def _name_for(files: ArticleFiles, bot: Any, doc_id: str) -> str:
    entry = _manifest_docs(bot).get(doc_id)
    name = files.name_of(entry["path"]) if entry else None
    if not name:
        raise UploadError("没有这篇文章。", 404)
    return name


def _clash(bot: Any, doc_id: str, replacing: str | None = None) -> None:
    if doc_id != replacing and doc_id in _manifest_docs(bot):
        raise UploadError(f"已有 id 为 {doc_id} 的文章；要更新它，请在列表中对该文章使用“替换”。", 409)


def add(files: ArticleFiles, bot: Any, filename: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    """A new article; returns its id, title, name and the new knowledge-base version."""
    up = check_upload(filename, data, max_bytes)
    _clash(bot, up.doc.doc_id)
    version = files.store.put_articles({up.name: up.data})
    return {"doc_id": up.doc.doc_id, "title": up.doc.title, "name": up.name, "kb_version": version}


def replace(files: ArticleFiles, bot: Any, doc_id: str, filename: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    """New content for an article (bundled or uploaded); a different file type gets a new name."""
    old = _name_for(files, bot, doc_id)
    ext = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    name = old if PurePosixPath(old).suffix.lower() == ext else None
    up = check_upload(filename, data, max_bytes, name=name)
    _clash(bot, up.doc.doc_id, replacing=doc_id)
    changes: dict[str, bytes | None] = {up.name: up.data}
    if up.name != old:
        changes[old] = None
    version = files.store.put_articles(changes)
    return {"doc_id": up.doc.doc_id, "title": up.doc.title, "name": up.name, "kb_version": version}


def remove(files: ArticleFiles, bot: Any, doc_id: str) -> dict[str, Any]:
    """Delete an indexed article by id, or an upload that could not be indexed by its (generated) name."""
    try:
        name = _name_for(files, bot, doc_id)
    except UploadError:
        pending = {r.name for r in files.store.articles() if r.content is not None}
        if doc_id not in pending:
            raise
        name = doc_id
    version = files.store.put_articles({name: None})
    return {"doc_id": doc_id, "kb_version": version}


def preview(bot: Any, doc_id: str) -> dict[str, Any] | None:
    """An indexed article's chunks (as indexed) and answer cards."""
    chunks = sorted((c for c in bot.kb.chunks.values() if c.doc_id == doc_id), key=lambda c: c.position)
    if not chunks:
        return None
    cards = [c for c in bot.kb.cards.cards.values() if c.doc_id == doc_id]
    return {"doc_id": doc_id, "title": chunks[0].title, "url": chunks[0].url,
            "chunks": [{"chunk_id": c.chunk_id, "position": c.position, "headings": list(c.headings), "text": c.text}
                       for c in chunks],
            "cards": [{"card_id": c.card_id, "questions": list(c.questions), "answer": c.answer} for c in cards]}
