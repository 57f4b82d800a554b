"""Reading what the user asked: checking the input, finding the questions in a message, and reading a
follow-up with its conversation. The result is a typed `Query` per question; nothing is packed into a
string and parsed back. Word lists are in `bot/data/query.toml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot import vocab
from bot.normalize import clean, for_matching


class BadQuestion(ValueError):
    """Input that cannot be answered at all; the message is shown to the user as is."""


@dataclass(frozen=True)
class Query:
    """One question: its own words, and what it is read with (earlier turns, or a message's background)."""

    text: str
    context: str = ""  # the question(s) it follows on from
    background: str = ""  # what the message says about the client, for a question without a subject

    @property
    def search_text(self) -> str:
        """What retrieval searches with: the background, the context, then the question."""
        return "。".join(p for p in (self.background, self.context, self.text) if p)

    @property
    def is_follow_up(self) -> bool:
        return bool(self.context or self.background)

    @property
    def own_text(self) -> str:
        """What the question itself asks: its words, or, when they carry nothing of the domain ("这样可以吗？"),
        the words it is read with."""
        return self.text if not self.is_follow_up or self_contained(self.text) else self.search_text

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of answer asked for (time, amount, rule, authority, code …), from the question's own words;
        an elliptical follow-up ("那App和小程序备案呢？" after "…向哪个部门申请？") asks what its context asked."""
        kinds = _kinds_in(self.text)
        if not kinds and self.context and _asks_as_before(self.text):
            kinds = _kinds_in(self.context)
        if "price" in kinds and "amount" in kinds:
            kinds.remove("amount")  # "收多少钱" asks a price, not a registered-capital figure
        return tuple(kinds)

    def cues(self) -> list[re.Pattern[str]]:
        """Patterns a sentence of the asked-for kinds matches."""
        return [kind_pattern(k) for k in self.kinds]


def _table() -> dict[str, Any]:
    return vocab.table("query")


def pointing_words() -> frozenset[str]:
    """Words a follow-up points back with (这些, 上述…): they add nothing to what it asks."""
    return frozenset(_table()["follow_up"]["pointing"])


def _asks_as_before(text: str) -> bool:
    """"那…呢？" without a lapse of its own: the follow-up asks what its context asked, about something else."""
    norm = for_matching(text)
    return bool(_short(text) or re.search(r"呢[？?]?\s*$", norm)) and not _patterns()["lapse"].search(norm)


def _kinds_in(text: str) -> list[str]:
    asked = for_matching(text)
    return [k["name"] for k in _table()["kind"] if _kind_patterns()[k["name"]][0].search(asked)]


@vocab.derived
def _kind_patterns() -> dict[str, tuple[re.Pattern[str], re.Pattern[str]]]:
    return {k["name"]: (re.compile(k["question"]), re.compile(k["sentence"])) for k in _table()["kind"]}


@vocab.derived
def _patterns() -> dict[str, re.Pattern[str]]:
    t = _table()
    return {
        # a joining word starts a clause ("…多久？另外，…"), not in the middle of one ("要不要另外办证")
        "joiners": re.compile(
            "(?:(?<=^)|(?<=[，,。；;！!？?\\s]))(" + "|".join(t["split"]["joiners"]) + ")[，,、：:]?"
        ),
        "asks": re.compile(t["split"]["asks"]),
        "not_asks": re.compile(t["split"]["not_asks"]),
        "conditional": re.compile(t["split"]["conditional"]),
        "subjects": re.compile("|".join(map(re.escape, t["follow_up"]["subjects"])), re.I),
        "elliptical": re.compile(t["follow_up"]["elliptical"]),
        "duration": re.compile(t["notes"]["duration"]),
        "not_duration": re.compile(t["notes"]["not_duration"]),
        "lapse": re.compile(t["follow_up"]["lapse"]),
        "what_follows": re.compile(t["kinds_only"]["what_follows"]),
        "compares": re.compile(t["conditions"]["compares"]),
    }


@vocab.derived
def _topic_forms() -> dict[str, tuple[str, ...]]:
    return {name: tuple(forms) for name, forms in _table()["topics"].items()}


def topics(text: str) -> frozenset[str]:
    """The licences, services and fields a text names (bot/data/query.toml [topics])."""
    norm = for_matching(text)
    return frozenset(name for name, forms in _topic_forms().items() if any(f in norm for f in forms))


def narrower(text: str, query: Query) -> bool:
    """Whether a text is about something narrower or else than the question: it names a topic the question does
    not, and shares none with it ("深圳SP证去哪办" for "增值电信许可证去哪办"; "106码号要交费吗" is fine for
    "106号…")."""
    own, asked = topics(text), topics(query.search_text)
    # A field the question does not name (网络出版 under "试点放开了哪些业务") narrows it even beside shared topics,
    # unless the text names the question's field too (a rule listing 新闻、出版、医疗… for a 医疗 question).
    fields = _fields()
    return bool(own - asked) and (not own & asked or bool((own - asked) & fields and not own & asked & fields))


@vocab.derived
def _fields() -> frozenset[str]:
    return frozenset(_table()["narrowing"]["fields"])


@vocab.derived
def _contrasts() -> list[tuple[re.Pattern[str], re.Pattern[str]]]:
    return [(re.compile(a), re.compile(b)) for a, b in _table()["conditions"]["contrasts"]]


def _compares(text: str) -> bool:
    return bool(_patterns()["compares"].search(text))


def contrary(text: str, query: Query) -> bool:
    """Whether a text speaks only to the other side of a condition the question states, or to one side of a
    contrast the question asks about (bot/data/query.toml [contrasts])."""
    own, asked, said = for_matching(query.text), for_matching(query.search_text), for_matching(text)
    for a, b in _contrasts():
        # A follow-up that names a side ("那以后扩展到全国呢？" after "只做广东") replaces the side of its context.
        where = own if a.search(own) or b.search(own) else asked
        qa, qb, ta, tb = bool(a.search(where)), bool(b.search(where)), bool(a.search(said)), bool(b.search(said))
        # both sides named: a comparison ("经营性和非经营性怎么区分") wants both; a move from one to the other
        # ("只有省内SP证，能给全国客户发吗") is answered by the side it moves to
        if qa and qb and (ta != tb) and _compares(where):
            return True
        if qa != qb and (ta or tb) and ta != qa and not (ta and tb):
            return True
    return False


def off_topic(text: str, query: Query) -> bool:
    """Whether a sentence is about other topics than the question: both name topics, and none in common."""
    own, asked = topics(text), topics(query.search_text)
    return bool(own) and bool(asked) and not own & asked


def check(question: object, max_chars: int) -> tuple[str, str | None]:
    """The usable question text and, when it had to be shortened, a notice saying so."""
    if not isinstance(question, str):
        raise BadQuestion("问题必须是文字。")
    text = clean(question).strip()
    if not text:
        raise BadQuestion("问题为空，请输入您想咨询的问题。")
    if not re.search(r"[\w\u4e00-\u9fff]", text):
        raise BadQuestion("没有识别到文字内容，请用文字描述您的问题。")
    if len(text) > max_chars:
        return text[:max_chars], f"内容过长（{len(text)} 字），只处理了前 {max_chars} 字。"
    return text, None


# Where one question ends and the next begins in a pasted message.
_NUMBERED = re.compile(
    r"(?:^|\n|\s|(?<=[？?。；;！!：:]))(?:(?:客户问|问题|问|Q|q)\s*\d{1,2}\s*[：:、.．)）]?|\d{1,2}[、.．)）]"
    r"|[（(]\d{1,2}[)）]|[①②③④⑤⑥⑦⑧⑨⑩]|[一二三四五六七八九十][、.．])\s*"
)
_QUESTION_END = re.compile(r"(?<=[？?])")


SHORT_COMPOUND = 60  # characters: "做DNS要不要办证？编号是多少，属于第几类" is one question in three parts


def is_pasted(text: str, n_questions: int) -> bool:
    """A pasted message (numbered questions, several of them, or long background): each answer under its
    question. A short compound question ("有效期几年？到期前多久要续？") reads better answered in one go."""
    numbered = len(_NUMBERED.findall(text)) >= 2
    size = len(re.sub(r"\s", "", text))
    return numbered or size > 120 or (n_questions >= 3 and size > SHORT_COMPOUND)


def is_question(s: str) -> bool:
    """A clause that asks: a question mark, or a question word (not an idiom like "没怎么") in a clause that is
    not a long piece of background."""
    s = s.strip()
    if len(re.sub(r"\W", "", s)) < 4:
        return False
    if re.search(r"[？?]\s*$", s):
        return True
    p = _patterns()
    return bool(p["asks"].search(s)) and not p["not_asks"].search(s) and len(s) <= 60


def names_subject(s: str) -> bool:
    return bool(_patterns()["subjects"].search(s))


def _pieces(part: str) -> list[str]:
    """A part of a message cut at question marks and joining words; then clause by clause."""
    joiners = _patterns()["joiners"]
    pieces: list[str] = []
    for sub in _QUESTION_END.split(part):
        for s in joiners.split(sub):
            s = s.strip(" \n，,。；;：:")
            if s and not joiners.fullmatch(s):
                pieces.append(s)
    return [q for p in pieces for q in _split_clauses(p)]


def _split_clauses(piece: str) -> list[str]:
    """"需要办什么资质，大概多久能批下来？" asks two things: split on commas when several clauses ask. A
    conditional lead-in ("那如果我要做全国的呢，注册资本要多少？") and background clauses stay with the question
    they precede."""
    clauses = [c for c in re.split(r"[，,]", piece) if c.strip()]
    conditional = _patterns()["conditional"]
    asking = [i for i, c in enumerate(clauses) if is_question(c) and not conditional.search(c)]
    if len(asking) < 2:
        return [piece]
    out, start = [], 0
    for i in asking:
        out.append("，".join(clauses[start : i + 1]))
        start = i + 1
    if start < len(clauses):
        out[-1] += "，" + "，".join(clauses[start:])
    return out


def asked(text: str) -> str:
    """The question itself, without the background a client writes before it ("…老板让我问清楚：这个证有效期几年？")."""
    parts = [p for p in re.split(r"(?<=[。！!：:\n])", text.strip()) if p.strip()]
    tail = [p for p in parts if is_question(p)]
    return (tail[-1] if tail else parts[-1] if parts else text).strip(" \n：:")


def items(text: str) -> list[list[Query]]:
    """The questions of one message, grouped as the client numbered them (one group per question otherwise).
    A question that names no subject of its own is read with the question before it in its group, or with
    the message's background; a single question comes back alone."""
    parts = [p for p in _NUMBERED.split(text) if p and p.strip()]
    numbered = len(parts) > 1 and len(_NUMBERED.findall(text)) >= 2
    joiners = _patterns()["joiners"]
    # "另外/还有…" starts a question of its own even inside a numbered item.
    groups = ([_pieces(sub) for p in parts for sub in joiners.split(p) if sub.strip() and not joiners.fullmatch(sub)]
              if numbered else [_pieces(text)])
    # what the message says besides its questions, including what leads into one ("…收点租金。这样可以吗？")
    background = "。".join(c if not is_question(c) else _preamble(c) for g in groups for c in g).strip("。")[:300]
    if numbered and not _NUMBERED.match(text) and not re.search(r"[？?]\s*$", parts[0].strip()):
        groups[0] = [c for c in groups[0] if re.search(r"[？?]", c)]  # the greeting and background
    out: list[list[Query]] = []
    for g in groups:
        qs = [c for c in g if is_question(c)]
        chain: list[Query] = []
        for clause in qs:
            q = asked(clause)
            preamble = _preamble(clause)
            # An elliptical question opening an item ("股东变化呢？") follows on from the item before it.
            previous = out[-1][0] if out and not chain and _needs_background(q, strict=True) else None
            before = chain[-1] if chain else previous
            # Clauses of one numbered question belong together; separate questions only when one cannot stand alone.
            if names_subject(q) or not ((before and numbered) or _needs_background(q)):
                # "有效期几年？" stands as a question but names no licence: the message's background says which
                chain.append(Query(q, background=(preamble or ("" if names_subject(q) else background))[-300:]))
            elif before:
                chain.append(Query(q, f"{before.context}。{before.text}".strip("。")[-300:], before.background))
            else:
                chain.append(Query(q, background=(preamble or background)[-300:]))
        if chain:
            out.append(chain)
    if not numbered:
        out = [[q] for g in out for q in g]
    if sum(len(g) for g in out) <= 1:
        return [[Query(text.strip())]]
    return out


def _preamble(clause: str) -> str:
    q = asked(clause)
    return clause[: clause.rfind(q)].strip(" ，,。：:\n") if q in clause else ""


def self_contained(q: str) -> bool:
    """Whether a question carries a term of the domain itself ("没证经营…会不会被罚" does; "要办什么证？" does not)."""
    from bot.lexicon import domain_words, synonyms, tokenize

    keys = (set(domain_words()) | {k for k in synonyms() if len(k) > 1}) - set(_table()["follow_up"]["asking_words"])
    return bool(topics(q)) or any(t in keys for t in tokenize(q))


def _short(q: str) -> bool:
    return len(re.sub(r"\W", "", q)) <= int(_table()["follow_up"]["short"])


def _needs_background(q: str, strict: bool = False) -> bool:
    """A question too short or too elliptical to stand alone ("要办什么证？", "那要多久？"); `strict`: both."""
    short = _short(q)
    elliptical = bool(_patterns()["elliptical"].search(q))
    if strict:
        return short and elliptical
    return elliptical or (short and not self_contained(q))


def split(text: str) -> list[Query]:
    """The questions of one message, in order (see `items`)."""
    return [q for g in items(text) for q in g]


def in_context(query: Query, turns: list[str]) -> Query:
    """A follow-up ("那跨省呢？", "它的编号是多少？") is read with the user's previous turns; a question that stands
    on its own comes back unchanged."""
    history = [t.strip() for t in turns if isinstance(t, str) and t.strip()]
    if history and history[-1] == query.text.strip():
        history = history[:-1]
    if not history or query.context or query.background:
        return query
    q = query.text.strip()
    elliptical = bool(_patterns()["elliptical"].search(q))
    short = len(re.sub(r"\W", "", q)) <= int(_table()["follow_up"]["short"])
    if not elliptical and (names_subject(q) or not short):
        return query
    return Query(query.text, " ".join(history[-2:]))


def parse(text: str, turns: list[str] | None = None) -> list[Query]:
    """The questions of a message, each read in the conversation so far."""
    return [in_context(q, turns or []) for q in split(text)]


def asks_duration(text: str) -> bool:
    norm = for_matching(text)
    return bool(_patterns()["duration"].search(norm)) and not _patterns()["not_duration"].search(norm)


def kind_pattern(kind: str) -> re.Pattern[str]:
    """The pattern a sentence of this kind of answer matches (bot/data/query.toml [[kind]] `sentence`)."""
    return _kind_patterns()[kind][1]


def asks_what_follows(text: str) -> bool:
    """Whether a question asks what follows (后果, 会怎样, 罚) rather than how to handle something ("证该怎么处理")."""
    return bool(_patterns()["what_follows"].search(for_matching(text)))
