"""The licence assessment (许可自测): business facts in, the licences, filings and approvals it needs out — each
with a verdict, the authority, the reasons and their citations. The rules are data (`bot/data/rules.toml`);
this module only evaluates them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot import vocab
from bot.answer import Citation, article_url
from bot.facts import NATIONAL_SCOPE, PROVINCE_SCOPE, BusinessFacts

NEED, DEPENDS, NOT_NEEDED = "需要", "视情况", "不需要"


# "除了ICP备案还得有什么资质？": what the asker already has is not what they ask about.
_BESIDES = re.compile(r"除了.{1,20}?(?:以外|之外|外)?(?=[，,、]|还|也|要|得|需)")

@dataclass
class Item:
    key: str
    kind: str  # licence | filing | approval
    code: str | None
    name: str
    verdict: str
    reasons: list[str]  # with [n] markers
    authority: str
    citations: list[int]
    summary: str = ""  # an approval's one-line conclusion (rules.toml `summary`)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "code": self.code, "name": self.name, "verdict": self.verdict,
                "reasons": self.reasons, "authority": self.authority, "citations": self.citations}


@dataclass
class Assessment:
    facts: BusinessFacts
    items: list[Item] = field(default_factory=list)
    capital: str = ""
    foreign: str = ""
    foreign_cap: str | None = None  # "50%" | "100%" | "试点" | "不得" when a foreign shareholder is named
    authority: str = ""
    review: str = ""
    missed: list[str] = field(default_factory=list)  # what follows from obligations the client has missed
    citations: list[Citation] = field(default_factory=list)

    @property
    def needed(self) -> list[Item]:
        return [i for i in self.items if i.verdict == NEED]

    @property
    def licences(self) -> list[Item]:
        return [i for i in self.items if i.kind == "licence" and i.verdict != NOT_NEEDED]

    def conclusion(self) -> str:
        """The first line: what to get, from whom (with [n])."""
        lic = [i for i in self.needed if i.kind == "licence"]
        if lic:
            return f"需要办理{'、'.join(i.name for i in lic)}，{self.authority}。"
        maybe = [i for i in self.items if i.verdict == DEPENDS and i.kind == "licence"]
        rest = "、".join(i.name for i in self.needed)
        if maybe:
            head = f"视情况：{'、'.join(i.name for i in maybe)}是否需要取决于具体情况（见下）"
            return head + (f"；需要办理{rest}。" if rest else "。")
        approvals = [i for i in self.needed if i.kind == "approval"]
        if approvals:  # an approval is not "no licence needed": say what must be approved, by whom
            first = "；".join((i.summary or f"{i.name}：{i.authority}") + "".join(f"[{n}]" for n in i.citations[:1])
                             for i in approvals)
            others = "、".join(i.name for i in self.needed if i.kind != "approval")
            return first + (f"；另需办理{others}。" if others else "。")
        if rest:
            return f"不需要增值电信业务经营许可证；需要办理{rest}。"
        return "按所述情况，不需要办理增值电信业务经营许可证或备案；业务变化时请重新评估。"

    def render(self) -> str:
        """The result as text with [n] markers: the conclusion, then one line per item, capital, foreign, time."""
        icon = {NEED: "需要", DEPENDS: "视情况", NOT_NEEDED: "不需要"}
        lines = [self.conclusion(), ""]
        for i in self.items:
            lines.append(f"- 【{icon[i.verdict]}】{i.name}：{'；'.join(i.reasons)}")
        extra = [x for x in (self.authority if not self.licences else "", self.capital, self.foreign,
                             self.review if self.licences else "", *self.missed) if x]
        if extra:
            lines.append("")
            lines += extra
        if self.facts.assumed:
            lines += ["", "说明：" + "；".join(self.facts.assumed) + "。"]
        return "\n".join(lines)

    def answer_for(self, q: Any, points: int = 2) -> tuple[str, list[str]] | None:
        """The assessment's answer to one question about the business the message describes — what licence, who
        approves, the capital, the foreign share, how long — as (conclusion, points), with [n] markers into
        `citations`; None when the question asks something else. The question's own words decide; an elliptical
        one ("不够的话要增到多少？") is read with the question before it."""
        if not self.items:  # no business named: the capital minimum, or a foreign investor's authority, when asked
            if (self.facts.foreign or self.facts.scope) and self.authority and asks_authority(q.text):
                return self.authority, []
            rx = rules()["questions"]["capital"]
            asks = re.search(rx, q.text, re.I) or (
                q.context and not self._asks(q.text) and re.search(rx, q.context, re.I))
            changes = re.search(rules()["questions"]["change"], q.text)
            return (self.capital, []) if self.capital and asks and not changes else None
        own = self._answer(q, q.text, points)
        if own or not q.context or self._asks(q.text):
            return own  # a question with an intent of its own is never answered as the one before it
        return self._answer(q, q.context, points)

    def _named(self, text: str, which: Callable[[Item], bool]) -> list[Item]:
        """The items of this kind the text names ("ICP证", "码号", "B21" …, bot/data/rules.toml `names`)."""
        low = _BESIDES.sub("", text.lower())
        return [i for i in self.items if which(i) and _mentions(low, i)]

    def _besides(self, text: str) -> list[Item]:
        """The items a "除了…" clause names: what the asker has already, not what they ask about."""
        held = " ".join(m.group(0) for m in _BESIDES.finditer(text.lower()))
        return [i for i in self.items if held and _mentions(held, i)]

    @staticmethod
    def _asks(text: str) -> bool:
        return any(re.search(rx, text, re.I) for rx in rules()["questions"].values())

    def _answer(self, q: Any, words: str, points: int) -> tuple[str, list[str]] | None:
        from bot.query import asked, names_subject, topics

        rx, text = rules()["questions"], asked(words)
        approvals = [i for i in self.needed if i.kind == "approval"]
        if re.search(rx["approval"], text) and approvals:  # "要不要先去教育部门审批？": the approval decides
            return "；".join((i.summary or f"{i.name}：{i.authority}") + _marks(i) for i in approvals) + "。", \
                [r for i in approvals for r in i.reasons][:points]
        if re.search(rx["licence"], text, re.I) and (self.licences or self.needed):
            named = self._named(text, lambda i: i.kind != "approval")
            if named:  # "只卖自营产品的小程序，要不要ICP证？": that item's verdict (and the filings), not the list
                i = named[0]
                filings = [f"{x.name}：{x.verdict}{_marks(x)}" for x in self.items
                           if x.kind == "filing" and x.verdict == NEED and x is not i]
                return "；".join([f"{i.name}：{i.verdict}{_marks(i)}", *filings]) + "。", i.reasons[:points]
            # what is needed before what depends: the reader acts on the first
            had = self._besides(text)
            listed = sorted((i for i in self.items if i.verdict != NOT_NEEDED and i not in had),
                            key=lambda i: i.verdict != NEED)
            reasons = [f"{i.name}（{i.verdict}）：{i.reasons[0]}" for i in listed]
            if len(listed) == 1:  # one item: its further reasons are the answer's points ("95、400…无法确认")
                reasons += listed[0].reasons[1:]
            return self.conclusion(), reasons[:points]
        if re.search(rx["authority"], text) and self.authority:
            # "码号向哪个部门申请？": the number's approval has its own authority, not the licence's
            named = self._named(q.text, lambda i: i.kind != "licence" and bool(i.summary or i.authority))
            if named:
                i = named[0]
                said = i.summary or f"{i.name}：向{i.authority}办理"
                return said + _marks(i) + "。", i.reasons[:points]
            return self.authority, []
        # "新加坡股东占20%有影响吗？" is about this client's shareholder; "ICP外资最多能占多少？" stands on its own.
        own = bool(re.search(rx["client"], q.text))  # "新加坡股东…他最多能占多少？" names the client's shareholder
        # "试点放开了哪些业务？" is the cards'; "想在海南做IDC，按试点能100%控股吗？" is this business's
        pilot_own = bool(self.facts.pilot_area and self.licences)
        if (re.search(rx["foreign"], text, re.I) and self.foreign and ("试点" not in q.text or pilot_own)
                and not re.search(rx["foreign_other"], q.text)
                and (own or re.search(rx["share"], q.text)
                     or (not names_subject(q.text) and not topics(q.text) - {"外资"}))):
            return self.foreign, []
        if re.search(rx["capital"], text, re.I) and self.capital:
            return self.capital, []
        # read with the question before it, a follow-up about another subject is not about this business's time
        before = q.context.split("。")[-1] if words != q.text else ""
        if (re.search(rx["time"], text, re.I) and self.review and not topics(q.text + before)
                and not names_subject(q.text + before) and not re.search(rx["time_other"], q.text + before)):
            return self.review.removeprefix("审批时间："), []
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"facts": self.facts.to_dict(), "items": [i.to_dict() for i in self.items], "capital": self.capital,
                "foreign": self.foreign, "foreign_cap": self.foreign_cap, "authority": self.authority,
                "review": self.review, "answer": self.render(), "citations": [c.to_dict() for c in self.citations]}


def asks_authority(text: str) -> bool:
    """Whether a question asks who approves ("向上海市通信管理局申请吗？"), not for the pilot's approval (批复)."""
    return bool(re.search(rules()["questions"]["authority"], text)) and not re.search(
        rules()["authority"]["not_asked"], text)


def _marks(item: Item) -> str:
    """The item's citation markers, for a line that states its verdict or authority."""
    return "".join(f"[{n}]" for n in item.citations)


def rules() -> dict[str, Any]:
    return vocab.table("rules")


def _mentions(low: str, item: Item) -> bool:
    """Whether a lower-cased text names the item in one of its clients' words."""
    return any(n.lower() in low for n in _names(item.key))


def _names(key: str) -> list[str]:
    """The words clients use for an item ("ICP证", "EDI", "B21"…), from bot/data/rules.toml."""
    item = next(i for i in rules()["item"] if i["key"] == key)
    names: list[str] = item.get("names", [])
    return names


def _words(f: BusinessFacts, tentative: bool = True) -> set[str]:
    """The condition words that hold for these facts (see the header of bot/data/rules.toml); without the
    activities the text only asks about when `tentative` is False."""
    r = rules()
    activities = [a for a in f.activities if tentative or a not in f.tentative]
    words = set(activities) | set(f.channels) | ({"~" + a for a in f.tentative} if tentative else set())
    words |= {g for g, members in r["groups"].items() if set(members) & set(activities)}
    words.add({True: "paid", False: "free", None: "paid?"}[f.paid])
    if f.merchants:
        words.add("merchants")
    if f.scope:
        words.add(f.scope)
    if f.foreign:
        words.add("foreign")
    return words


def verdict(item: dict[str, Any], words: set[str]) -> str | None:
    for name, key in ((NEED, "need"), (DEPENDS, "depends"), (NOT_NEEDED, "not_needed")):
        if any(all(_holds(w, words) for w in clause) for clause in item.get(key, [])):
            return name
    return None


def _holds(word: str, words: set[str]) -> bool:
    """"!跨境网络" holds unless the activity is stated (one the client only asks about does not exclude)."""
    if word.startswith("!"):
        return word[1:] not in words or "~" + word[1:] in words
    return word in words


class _Cites:
    """Citation numbers for the assessment, from the rules' passages resolved to chunks of the index."""

    def __init__(self, kb: Any) -> None:
        self.kb, self.numbers, self.list = kb, {}, []  # type: ignore[var-annotated]

    def mark(self, cites: list[dict[str, str]]) -> tuple[str, list[int]]:
        ns: list[int] = []
        for c in cites:
            chunk = self.kb.chunk_holding(c["doc"], c["passage"])
            if chunk is None:
                continue
            if chunk.chunk_id not in self.numbers:
                self.numbers[chunk.chunk_id] = len(self.numbers) + 1
                self.list.append(Citation(self.numbers[chunk.chunk_id], chunk.doc_id, chunk.title,
                                          chunk.url or article_url(self.kb.settings, chunk.doc_id), chunk.chunk_id,
                                          chunk.text))
            if self.numbers[chunk.chunk_id] not in ns:
                ns.append(self.numbers[chunk.chunk_id])
        return "".join(f"[{n}]" for n in ns), ns


def _authority(f: BusinessFacts, cites: _Cites) -> str:
    a = rules()["authority"]
    if f.foreign:
        marks, _ = cites.mark(a["cite_foreign"])
        return a["foreign"] + marks
    if f.scope == NATIONAL_SCOPE:
        marks, _ = cites.mark(a["cite_national"])
        return (a["national_spans"].format(places="、".join(f.spans)) if f.spans else a["national"]) + marks
    if f.scope == PROVINCE_SCOPE:
        marks, _ = cites.mark(a["cite_province"])
        where = f"{f.province}省" if f.province and f.province not in _municipal() else (f.province or "省")
        return a["province"].format(province=where.replace("省省", "省")) + marks
    marks, _ = cites.mark(a["cite_province"] + a["cite_national"])
    return a["unknown"] + marks


def _also(also: str | dict[str, Any], cites: _Cites) -> str:
    """A further reason an activity adds: plain text, or {text, cite} cited like the rule's own reason."""
    if isinstance(also, str):
        return also
    marks, _ = cites.mark(also["cite"])
    return also["text"] + marks


def _municipal() -> list[str]:
    municipalities: list[str] = vocab.table("facts")["municipalities"]
    return municipalities


def _capital(f: BusinessFacts, cites: _Cites) -> str:
    c = rules()["capital"]
    marks, _ = cites.mark(c["cite"])
    need = c["national_wan"] if f.scope == NATIONAL_SCOPE else c["province_wan"] if f.scope == PROVINCE_SCOPE else None
    if need is None:
        low = f.capital_wan is not None and f.capital_wan < c["province_wan"]
        gap = (
            f"；贵司注册资本{f.capital_wan:g}万元，不足省内经营的最低限额，需增资至{c['province_wan']:g}万元以上"
            if low
            else ""
        )
        return c["text"] + marks + gap + "。"
    where = "全国/跨省经营" if f.scope == NATIONAL_SCOPE else "省内经营"
    text = f"注册资本：{where}最低{need:g}万元人民币{marks}"
    if f.capital_wan is not None:
        gap = "，已达到" if f.capital_wan >= need else f"，不足最低限额，需增资至{need:g}万元以上"
        text += f"；贵司注册资本{f.capital_wan:g}万元{gap}"
    return text + "。"


def _foreign(f: BusinessFacts, items: list[Item], cites: _Cites) -> tuple[str, str | None]:
    if not f.foreign:
        return "", None
    r = rules()["foreign"]
    who = f"{f.foreign_country}股东" if f.foreign_country else "外资股东"
    share = f"（{f.foreign_share:g}%）" if f.foreign_share is not None else ""
    if set(r["prohibited"]["activities"]) & set(f.activities):
        marks, _ = cites.mark(r["prohibited"]["cite"])
        return f"外资：{who}{share}——{r['prohibited']['text']}{marks}。", "不得"
    keys = {i.key for i in items if i.kind == "licence" and i.verdict == NEED}
    # A share lifted everywhere (经营类电子商务 under 196号) needs no pilot approval: it comes before the pilot.
    lifted = [rule for name, rule in r.items() if name in ("ecommerce", "negative_list")
              and (not rule.get("activities") or set(rule["activities"]) & set(f.activities))]
    if keys and all(any(k in rule["items"] for rule in lifted) for k in keys):
        used = [rule for rule in lifted if keys & set(rule["items"])]
        marks, _ = cites.mark([c for rule in used for c in rule["cite"]])
        return f"外资：{who}{share}——{'；'.join(rule['text'] for rule in used)}，不受50%限制{marks}。", "100%"
    pilot = r["pilot"]
    # in a pilot area, or nowhere said: the pilot's text names both cases (in the pilot areas, and elsewhere)
    where = f.pilot_area in pilot["areas"] or not (f.region or f.province or f.pilot_area)
    if keys and where and keys <= set(pilot["items"]):
        named = r["pilot_in"] if f.pilot_area in pilot["areas"] else None
        text = named["text"].format(area=named["names"][f.pilot_area]) if named else pilot["text"]
        marks, _ = cites.mark((named or pilot)["cite"])
        return f"外资：{who}{share}——{text}{marks}。", "试点"
    marks, _ = cites.mark(r["general"]["cite"])
    over = "，超过上限，需调整股权结构" if f.foreign_share is not None and f.foreign_share > r["general"]["cap"] else ""
    return f"外资：{who}{share}——{r['general']['text']}{over}{marks}。", "50%"


def assess(kb: Any, f: BusinessFacts) -> Assessment:
    """Evaluate the rules for these facts."""
    words, stated, cites = _words(f), _words(f, tentative=False), _Cites(kb)
    items: list[Item] = []
    for rule in rules()["item"]:
        v = verdict(rule, words)
        if v is None:
            continue
        if v == NEED and (verdict(rule, stated) != NEED or set(rule.get("doubt", [])) & set(f.activities)):
            v = DEPENDS  # only a service the client asks about ("能不能顺便…") needs it, or FACTS.md leaves it open
        marks, ns = cites.mark(rule.get("cite", []))
        reasons = [(rule.get("reason_not") if v == NOT_NEEDED else None or rule["reason"]) + marks]
        reasons += [_also(also, cites) for act, also in rule.get("also", {}).items() if act in f.activities]
        if v == DEPENDS and rule.get("confirm"):
            reasons.append("需确认：" + rule["confirm"])
        if rule.get("held") in f.licences_held:
            reasons.append("贵司已持有")
        code = rule["key"].split("-")[0] if rule["kind"] == "licence" else None
        who = rule.get("authority", "")
        items.append(Item(rule["key"], rule["kind"], code, rule["name"], v, reasons, who, ns, rule.get("summary", "")))
    a = Assessment(f, items)
    if not items and (f.capital_wan is not None or f.scope):
        # "注册资本50万够不够？", "那跨省经营的呢？": the minimum holds for every value-added licence
        a.capital = _capital(f, cites)
    if not items and (f.foreign or f.scope):
        # "外资企业只做上海本地，也向上海市通信管理局申请吗？": a foreign-invested company applies to 工信部 whatever
        # its service; "客户在江苏、浙江、上海…找省管局还是工信部？": the scope decides
        a.authority = _authority(f, cites)
    if a.licences:
        a.authority = _authority(f, cites)
        for i in a.items:
            i.authority = a.authority if i.kind == "licence" else i.authority
        a.capital = _capital(f, cites)
        marks, _ = cites.mark(rules()["review"]["cite"])
        a.review = "审批时间：" + rules()["review"]["text"] + marks
    a.foreign, a.foreign_cap = _foreign(f, items, cites)
    for name in f.missed:
        rule = rules()["missed"][name]
        marks, _ = cites.mark(rule["cite"])
        a.missed.append(rule["text"] + marks + "。")
    a.citations = cites.list
    return _renumber(a)


def _renumber(a: Assessment) -> Assessment:
    """Citation numbers in the order a reader meets them, unused ones dropped."""
    order: dict[int, int] = {}
    for n in re.findall(r"\[(\d+)\]", a.render()):
        order.setdefault(int(n), len(order) + 1)

    def sub(text: str) -> str:
        return re.sub(r"\[(\d+)\]", lambda m: f"[{order[int(m.group(1))]}]" if int(m.group(1)) in order else "", text)

    for i in a.items:
        i.reasons = [sub(r) for r in i.reasons]
        i.citations = [order[n] for n in i.citations if n in order]
        i.authority = sub(i.authority)
    a.capital, a.foreign, a.review, a.authority = sub(a.capital), sub(a.foreign), sub(a.review), sub(a.authority)
    a.missed = [sub(m) for m in a.missed]
    kept = [c for c in a.citations if c.n in order]
    for c in kept:
        c.n = order[c.n]
    a.citations = sorted(kept, key=lambda c: c.n)
    return a
