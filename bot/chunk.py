"""Chinese-aware chunking: headings, then paragraphs, then sentence ends; laws by article (条)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field

from langchain_text_splitters import RecursiveCharacterTextSplitter

from bot.ingest import Document

SENTENCE_END = "。！？；!?;"
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*(<!--.*-->)?\s*$")
_LAW_ARTICLE = re.compile(r"^第[零一二三四五六七八九十百千〇\d]+条")


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    text: str  # original wording: what citations quote
    position: int
    headings: list[str] = field(default_factory=list)
    url: str = ""
    kind: str = "article"

    @property
    def embed_text(self) -> str:
        """What gets embedded and BM25-indexed: the text prefixed with title and heading path."""
        path = " > ".join(h for h in self.headings if h != self.title)
        return f"{self.title}\n{path}\n{self.text}" if path else f"{self.title}\n{self.text}"

    @property
    def text_hash(self) -> str:
        return hashlib.sha1(self.embed_text.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict:
        return asdict(self)


def _splitter(size: int, overlap: int) -> RecursiveCharacterTextSplitter:
    seps = ["\n\n", "\n", *[c for c in "。！？；"], "!", "?", ";", "，", ""]
    return RecursiveCharacterTextSplitter(
        chunk_size=size, chunk_overlap=overlap, separators=seps, keep_separator="end",
        strip_whitespace=True,
    )


def _sections(text: str) -> list[tuple[list[str], str]]:
    """Split Markdown on headings into (heading path, body) pairs."""
    out: list[tuple[list[str], str]] = []
    path: list[tuple[int, str]] = []
    buf: list[str] = []

    def flush():
        body = "\n".join(buf).strip()
        if body:
            out.append(([h for _, h in path], body))
        buf.clear()

    for line in text.splitlines():
        m = _HEADING.match(line.strip())
        if m:
            flush()
            level = len(m.group(1))
            path = [(lv, h) for lv, h in path if lv < level] + [(level, m.group(2).strip())]
        else:
            buf.append(line)
    flush()
    return out


def _law_units(body: str) -> list[str]:
    """One unit per article: a 第X条 paragraph plus the paragraphs that continue it."""
    units: list[str] = []
    for para in [p.strip() for p in body.split("\n") if p.strip()]:
        if _LAW_ARTICLE.match(para) or not units:
            units.append(para)
        else:
            units[-1] += "\n" + para
    return units


def chunk_document(doc: Document, size: int = 320, overlap: int = 60) -> list[Chunk]:
    splitter = _splitter(size, overlap)
    pieces: list[tuple[list[str], str]] = []
    for headings, body in _sections(doc.text):
        if doc.kind == "law":
            for unit in _law_units(body):
                # An article stays whole unless it is far longer than a chunk.
                texts = [unit] if len(unit) <= size * 2 else splitter.split_text(unit)
                pieces.extend((headings, t) for t in texts)
        else:
            pieces.extend((headings, t) for t in splitter.split_text(body))
    chunks = []
    for pos, (headings, text) in enumerate(pieces):
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
        chunks.append(Chunk(
            chunk_id=f"{doc.doc_id}#{pos:04d}-{digest}", doc_id=doc.doc_id, title=doc.title,
            text=text, position=pos, headings=headings, url=doc.url, kind=doc.kind,
        ))
    return chunks


def split_sentences(text: str, max_len: int = 160) -> list[str]:
    """Sentences in their original wording, each keeping its end mark. A semicolon ends a sentence
    only when the sentence would otherwise be long: "省内100万元；跨省1000万元" belongs together."""
    out: list[str] = []
    for line in text.splitlines():
        for s in re.findall(r"[^。！？!?]+[。！？!?]*", line.strip()):
            s = s.strip()
            if len(s) > max_len:
                out += [p.strip() for p in re.findall(r"[^；;]+[；;]*", s) if p.strip()]
            elif s:
                out.append(s)
    return out
