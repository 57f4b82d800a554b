"""Reading what the user asked: checking the input, splitting several questions, carrying context."""

from __future__ import annotations

import re

from bot import vocab
from bot.normalize import clean, for_matching


class BadQuestion(ValueError):
    """Input that cannot be answered at all; the message is shown to the user as is."""


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
_NUMBERED = re.compile(r"(?:^|\n|\s|(?<=[？?。；;！!：:]))(?:\d{1,2}[、.．)）]|[（(]\d{1,2}[)）]|[①②③④⑤⑥⑦⑧⑨⑩]|[一二三四五六七八九十][、.．])\s*")
_JOINERS = re.compile("(" + "|".join(vocab.table("query")["split"]["joiners"]) + ")[，,、：:]?")
_QUESTION_END = re.compile(r"(?<=[？?])")


def question_parts(text: str) -> list[tuple[str, str]]:
    """The questions in a message as (question as written, question to search with). A question that
    names no subject of its own ("我们需要办哪个证？") is searched in the context of the message's
    background, or of the question before it. A single question comes back alone, unchanged."""
    parts = [p for p in _NUMBERED.split(text) if p and p.strip()]
    pieces: list[str] = []
    for part in parts:
        for sub in _QUESTION_END.split(part):
            for s in _JOINERS.split(sub):
                s = s.strip(" \n，,。；;：:")
                if s and not _JOINERS.fullmatch(s):
                    pieces.append(s)
    clauses = [q for p in pieces for q in _split_clauses(p)]
    questions = [q for q in clauses if _is_question(q)]
    if len(questions) <= 1:
        return [(text.strip(), text.strip())]
    background = "。".join(q for q in clauses if not _is_question(q))[:300]
    out = []
    for i, q in enumerate(questions):
        if _SUBJECTS.search(q):
            out.append((q, q))
        else:
            context = background or (questions[i - 1] if i else "")
            out.append((q, context + FOLLOW_UP.format(q) if context else q))
    return out


def split_questions(text: str) -> list[str]:
    """The questions of a message, each ready to search with (see question_parts)."""
    return [query for _, query in question_parts(text)]


def _split_clauses(piece: str) -> list[str]:
    """"需要办什么资质，大概多久能批下来？" asks two things: split on commas when several clauses ask.
    Background clauses stay with the first question they precede."""
    clauses = [c for c in re.split(r"[，,]", piece) if c.strip()]
    asking = [i for i, c in enumerate(clauses) if _is_question(c)]
    if len(asking) < 2:
        return [piece]
    out, start = [], 0
    for i in asking:
        out.append("，".join(clauses[start : i + 1]))
        start = i + 1
    if start < len(clauses):
        out[-1] += "，" + "，".join(clauses[start:])
    return out


_ASKS = re.compile(vocab.table("query")["split"]["asks"])


def _is_question(s: str) -> bool:
    if len(re.sub(r"\W", "", s)) < 4:
        return False
    return bool(_ASKS.search(s))


_FOLLOW = vocab.table("query")["follow_up"]
# Subjects a follow-up may leave out: licence types, business forms, regions.
_SUBJECTS = re.compile("(" + "|".join(map(re.escape, _FOLLOW["subjects"])) + ")", re.I)
_ELLIPTICAL = re.compile(_FOLLOW["elliptical"])


FOLLOW_UP = "（追问：{}）"
_FOCUS = re.compile(r"（追问：(.+)）$", re.S)


def standalone(question: str, turns: list[str] | None) -> str:
    """Rule-based rewrite of a follow-up ("那跨省呢？", "它的编号是多少？"): the question is read in the
    context of the previous turns, as "<previous turns>（追问：<question>）". Self-contained questions
    come back unchanged."""
    history = [t.strip() for t in (turns or []) if isinstance(t, str) and t.strip()]
    q = question.strip()
    if history and history[-1] == q:
        history = history[:-1]
    if not history:
        return question
    own = _SUBJECTS.search(q)
    elliptical = bool(_ELLIPTICAL.search(q))
    short = len(re.sub(r"\W", "", q)) <= _FOLLOW["short"]
    if not elliptical and (own or not short):
        return question
    context = " ".join(focus_of(t) for t in history[-2:])
    return context + FOLLOW_UP.format(q)


def unwrap(query: str) -> str:
    """A rewritten follow-up as plain text, so the marker's own words ("追问") are never searched for."""
    return _FOCUS.sub(lambda m: "。" + m.group(1), query)


def focus_of(query: str) -> str:
    """The part of a rewritten follow-up the user actually asked now."""
    m = _FOCUS.search(query)
    return m.group(1) if m else query


def asks_duration(text: str) -> bool:
    return bool(re.search(vocab.table("query")["notes"]["duration"], for_matching(text)))


@vocab.derived
def _answer_kinds() -> list[tuple[re.Pattern[str], re.Pattern[str]]]:
    """(question pattern, sentence pattern) per kind of answer (bot/data/query.toml)."""
    return [(re.compile(k["question"]), re.compile(k["sentence"])) for k in vocab.table("query")["kind"]]


def answer_cues(query: str) -> list[re.Pattern]:
    """Patterns a sentence answering this (sub-)question is likely to match; for a follow-up read in
    context, only what was asked now counts."""
    asked = for_matching(focus_of(query))
    return [sentence for question, sentence in _answer_kinds() if question.search(asked)]
