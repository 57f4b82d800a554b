"""Reading what the user asked: checking the input, splitting several questions, carrying context."""

from __future__ import annotations

import re

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
_NUMBERED = re.compile(r"(?:^|\n|\s)(?:\d{1,2}[、.．)）]|[（(]\d{1,2}[)）]|[①②③④⑤⑥⑦⑧⑨⑩]|[一二三四五六七八九十][、.．])\s*")
_JOINERS = re.compile(r"(另外|还有|此外|以及|再问一下|还想问|顺便问一下|同时)[，,、：:]?")
_QUESTION_END = re.compile(r"(?<=[？?])")


def split_questions(text: str) -> list[str]:
    """Split a message holding several questions; a single question comes back alone."""
    parts = [p for p in _NUMBERED.split(text) if p and p.strip()]
    pieces: list[str] = []
    for part in parts:
        for sub in _QUESTION_END.split(part):
            for s in _JOINERS.split(sub):
                s = s.strip(" \n，,。；;：:")
                if s and not _JOINERS.fullmatch(s):
                    pieces.append(s)
    questions = [q for p in pieces for q in _split_clauses(p) if _is_question(q)]
    if len(questions) <= 1:
        return [text.strip()]
    # "另外最快多久能拿证？" asks about the subject named earlier in the message.
    return [standalone(q, questions[:i], always=True) if i else q for i, q in enumerate(questions)]


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


def _is_question(s: str) -> bool:
    if len(re.sub(r"\W", "", s)) < 4:
        return False
    return bool(re.search(r"[？?]|吗|么|呢|多少|多久|哪些|哪个|哪里|是否|能否|可否|怎么|如何|什么|要不要|需不需要|有没有|几", s))


# Subjects a follow-up may leave out: licence types, business forms, regions.
_SUBJECTS = re.compile(
    r"(ICP证|ICP许可证|ICP备案|EDI证|SP证|IDC|CDN|ISP|VPN|呼叫中心|码号|106|小程序|APP|App|网站|"
    r"增值电信业务经营许可证|增值电信许可证|增值电信|资质|许可证|外资|年报|变更|延续|续期|注销|"
    r"在线数据处理与交易处理|信息服务业务|互联网数据中心|内容分发网络|多方通信|用户驻地网|网络托管)",
    re.I,
)
_ELLIPTICAL = re.compile(r"^(那|那么|那如果|如果是|要是|还有|另外|它|这个|那个|这种|该)|[它其]|呢[？?]?$")


def standalone(question: str, turns: list[str] | None, always: bool = False) -> str:
    """Rule-based rewrite of a follow-up: carry the previous turns' subject into an elliptical question
    (or, with `always`, into any question that names no subject of its own)."""
    history = [t for t in (turns or []) if isinstance(t, str) and t.strip()]
    if history and history[-1].strip() == question.strip():
        history = history[:-1]
    if not history:
        return question
    own = {m.group(0).upper() for m in _SUBJECTS.finditer(question)}
    if own and not _ELLIPTICAL.search(question.strip()):
        return question
    if not own and not always and not _ELLIPTICAL.search(question.strip()):
        return question
    if not own and not always and len(re.sub(r"\W|那|呢|么|吗", "", question)) <= 6:
        # "那跨省呢？" is only a variation on the last question: ask that question with the variation.
        return f"{history[-1].strip()}（追问：{question.strip()}）"
    carried: list[str] = []
    for turn in reversed(history[-4:]):
        for m in _SUBJECTS.finditer(turn):
            if m.group(0).upper() not in own and m.group(0) not in carried:
                carried.append(m.group(0))
        if carried:
            break
    if not carried:
        return question
    q = re.sub(r"^(那|那么)\s*", "", question.strip())
    q = re.sub(r"[它其]", carried[0], q, count=1)
    return q if carried[0] in q else f"{'、'.join(carried[:3])}：{q}"


def asks_price(text: str) -> bool:
    return bool(re.search(r"多少钱|费用|价格|收费|报价|价钱|便宜|省钱|花多少|cost|price|fee", for_matching(text)))


def asks_duration(text: str) -> bool:
    return bool(re.search(r"多久|多长时间|周期|最快|几天|加急|时长|how long", for_matching(text)))
