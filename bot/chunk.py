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


def is_statute(text: str) -> bool:
    """Whether a chunk is an article of a law or regulation (starts with 第X条)."""
    return bool(_LAW_ARTICLE.match(text.lstrip()))


# "违反本条例第七条第三款": penalty articles name the rule they enforce but share no words with it.
_LAW_REF = re.compile(r"本(?:条例|法|办法|规定|细则)第([零一二三四五六七八九十百千〇\d]+)条")


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
    context: str = ""  # searchable but never quoted: e.g. the articles a penalty article refers to
    core: bool = False  # from a core article (see Document.core)

    @property
    def embed_text(self) -> str:
        """What gets embedded and BM25-indexed: the text prefixed with title and heading path."""
        path = " > ".join(h for h in self.headings if h != self.title)
        head = f"{self.title}\n{path}\n" if path else f"{self.title}\n"
        return head + self.text + (f"\n（相关条文：{self.context}）" if self.context else "")

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


def _law_references(units: list[str], limit: int = 200) -> dict[str, str]:
    """Article label → a short form of its text, for attaching to the articles that cite it."""
    table = {}
    for unit in units:
        m = _LAW_ARTICLE.match(unit)
        if m:
            table[m.group(0)[1:-1]] = unit[m.end():].strip()[:limit]
    return table


def chunk_document(doc: Document, size: int = 320, overlap: int = 60) -> list[Chunk]:
    splitter = _splitter(size, overlap)
    pieces: list[tuple[list[str], str, str]] = []
    sections = _sections(doc.text)
    refs = _law_references([u for _, b in sections for u in _law_units(b)]) if doc.kind == "law" else {}
    for headings, body in sections:
        if doc.kind == "law":
            for unit in _law_units(body):
                cited = [refs[n] for n in dict.fromkeys(_LAW_REF.findall(unit)) if n in refs]
                context = "；".join(cited)[:400]
                # An article stays whole unless it is far longer than a chunk.
                texts = [unit] if len(unit) <= size * 2 else splitter.split_text(unit)
                pieces.extend((headings, t, context) for t in texts)
        else:
            pieces.extend((headings, t, "") for t in splitter.split_text(body))
    chunks = []
    for pos, (headings, text, context) in enumerate(pieces):
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
        chunks.append(Chunk(
            chunk_id=f"{doc.doc_id}#{pos:04d}-{digest}", doc_id=doc.doc_id, title=doc.title,
            text=text, position=pos, headings=headings, url=doc.url, kind=doc.kind, context=context, core=doc.core,
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


_BOILERPLATE = re.compile(r"仅供参考|不构成法律意见|本文")
# A list item's marker ("- ", "1. ", "（2）"), not a number the sentence starts with ("60日是…").
_LIST_MARK = re.compile(r"^(?:\s*(?:[-*•]|\d{1,2}[.、)）](?!\d)|[（(]\d{1,2}[)）]))+\s*")


def candidate_sentences(text: str) -> list[str]:
    """The sentences of a chunk that can stand alone in an answer, in order, without list markers."""
    out = []
    for sent in split_sentences(text):
        plain = _LIST_MARK.sub("", sent)
        if len(re.findall(r"[\u4e00-\u9fff]", plain)) < 8 or _BOILERPLATE.search(plain):
            continue
        if plain.endswith(("：", ":", "？", "?")):
            continue  # a list's lead-in or a rhetorical question says nothing on its own
        if len(plain) < 25 and not re.search(r"[。！!；;]$", plain):
            continue  # a short line without an end mark is a heading
        out.append(plain)
    return out
