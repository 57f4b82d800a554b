"""Reading what the user asked: checking the input, splitting several questions, carrying context."""

from __future__ import annotations

import re

from bot.lexicon import PRICE
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
_JOINERS = re.compile(r"(另外|还有|此外|以及|再问一下|还想问|顺便问一下|同时)[，,、：:]?")
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


def _is_question(s: str) -> bool:
    if len(re.sub(r"\W", "", s)) < 4:
        return False
    return bool(re.search(r"[？?]|吗|么|呢|多少|多久|哪些|哪个|哪里|是否|能否|可否|怎么|如何|什么|要不要|需不需要|有没有|第几|几(?:年|个月|天|类|种|趟|次|步|项|个工作日)", s))


# Subjects a follow-up may leave out: licence types, business forms, regions.
_SUBJECTS = re.compile(
    r"(ICP证|ICP许可证|ICP备案|EDI证|SP证|IDC|CDN|ISP|VPN|呼叫中心|码号|106|小程序|APP|App|网站|"
    r"增值电信业务经营许可证|增值电信许可证|增值电信|资质|许可证|外资|年报|变更|延续|续期|注销|"
    r"在线数据处理与交易处理|信息服务业务|互联网数据中心|内容分发网络|多方通信|用户驻地网|网络托管)",
    re.I,
)
_ELLIPTICAL = re.compile(r"^(那|那么|那如果|如果是|要是|还有|另外|它|这个|那个|这种|该)|[它其]|那些|这些|呢[？?]?$")


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
    short = len(re.sub(r"\W", "", q)) <= 15
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


def asks_price(text: str) -> bool:
    # "免费用" (free to use) asks about a rule, not about our fees.
    return bool(PRICE.search(for_matching(text).replace("免费", "")))


def asks_duration(text: str) -> bool:
    return bool(re.search(r"多久|多长时间|周期|最快|几天|加急|时长|how long", for_matching(text)))


# What kind of statement answers a question: a time, an amount, a rule, a consequence, a place, a list.
# Among sentences that share the question's terms, those of the asked-for kind rank higher.
_NUM = r"[\d一二三四五六七八九十两百]"
_KIND_PATTERNS = [
    (r"什么时候|何时|啥时候|多久|多长时间|几天|几个月|哪天|截止|期限|时限|有效期|提前|when|how long|deadline",
     rf"{_NUM}+\s*个?(?:工作日|日|天|月|年|季度)|日前|之日起|届满前|以前|期间"),
    (r"多少|最低|最高|几[家个年倍种类]|比例|上限|下限|how much|how many|percent",
     rf"\d+(?:\.\d+)?\s*(?:%|万|亿|倍|元|家|个|年|日)|百分之|{_NUM}+(?:万|倍|家|种|类)"),
    (r"能不能|能否|可不可以|可否|允许|还能|能直接|[能可]以?.{0,12}[吗么嘛]|要不要|需不需要|需要.{0,12}[吗么嘛]|是不是|是否|必须|行不行|行吗|可行"
     r"|有问题吗|有没有问题|违法吗|违规吗|合法吗|合规吗|没毛病|吧[？?]?$"
     r"|\bcan\b|allowed|\bneed",
     r"不得|禁止|不能|不可|不予|不需|无需|应当|必须|须|可以|允许|未经|超范围|违法|属于|不属于"),
    (r"罚|后果|会怎样|会怎么样|咋样|怎么办|咋办|会如何|被查|查到|风险|责任|没.{0,8}[就直].{0,8}[呢吗]|penalt|happen",
     r"罚款|责令|吊销|关闭|下架|关停|处置|列入|没收|停业|警告|追究|撤销|不予"),
    (r"哪里|去哪|哪儿|哪个部门|找谁|向谁|谁有资格|谁能|哪个系统|哪个网站|在哪|where|\bwho\b",
     r"通信管理局|工业和信息化部|工信部|系统|平台|miit|部门|机关|中国电信|中国移动|中国联通|运营商"),
    (r"哪条|哪部法|什么法|法律依据|依据是|根据什么|哪个文件|哪份文件|规定在哪|legal basis",
     r"第[一二三四五六七八九十百零]+条|《.+》|\d+号"),
    (r"哪个证|什么证|哪种证|哪类证|办什么|[该要]办|办哪|什么许可|哪种许可|哪类|编号|代码|[bB]几|第[一二几]类|哪一类|属于什么业务",
     r"[AB]\d{1,2}(?!\d)|第[一二]类"),
    (r"电话|热线|联系方式|咨询方式|phone",
     r"\d{5,}|电话"),
    (r"区别|什么是|是什么意思|是啥|定义|指什么|含义|怎么划分|difference",
     r"是指|指的是|定义|是利用|属于"),
    (r"顺序|先后|流程|步骤|怎么办理|如何办理|怎么申请|如何申请|procedure|steps",
     r"先|然后|之后|再|步骤|流程|顺序"),
    (r"哪些|什么材料|哪几|有什么要求|条件|包括什么|which",
     r"、.+、|包括|以下|如下"),
]
_ANSWER_KINDS = [(re.compile(a), re.compile(s)) for a, s in _KIND_PATTERNS]


def answer_cues(query: str) -> list[re.Pattern]:
    """Patterns a sentence answering this (sub-)question is likely to match; for a follow-up read in
    context, only what was asked now counts."""
    asked = for_matching(focus_of(query))
    return [sentence for question, sentence in _ANSWER_KINDS if question.search(asked)]
