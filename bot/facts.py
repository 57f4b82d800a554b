"""What a message or a form says about a business: what it does, whether it charges, whether third-party
merchants sell on it, where it runs, how far it reaches, its capital, its foreign shareholding and the licences it
holds — each fact with the words that decided it, so a reader sees what was read and what was assumed. The
patterns are in `bot/data/facts.toml`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot import vocab

PROVINCE_SCOPE, NATIONAL_SCOPE = "省内", "跨省"


@dataclass
class BusinessFacts:
    activities: list[str] = field(default_factory=list)  # keys of bot/data/rules.toml [activities]
    paid: bool | None = None
    merchants: bool | None = None
    channels: list[str] = field(default_factory=list)  # 网站 / APP / 小程序
    scope: str | None = None  # 省内 / 跨省
    spans: list[str] = field(default_factory=list)  # the provinces a 跨省 service was placed in, when named
    province: str | None = None
    region: str | None = None  # as the client wrote it (a city or a province)
    capital_wan: float | None = None
    foreign_share: float | None = None  # percent; 100 for 独资
    foreign_country: str | None = None
    foreign: bool = False
    pilot_area: str | None = None
    licences_held: list[str] = field(default_factory=list)
    tentative: list[str] = field(default_factory=list)  # activities only asked about ("能不能顺便…"), not stated
    missed: list[str] = field(default_factory=list)  # obligations the client says it has missed (annual_report)
    evidence: dict[str, str] = field(default_factory=dict)  # fact → the words that decided it
    assumed: list[str] = field(default_factory=list)  # what the text did not say

    def to_dict(self) -> dict[str, Any]:
        return {"activities": self.activities, "paid": self.paid, "merchants": self.merchants,
                "channels": self.channels, "scope": self.scope, "spans": self.spans, "province": self.province,
                "region": self.region,
                "capital_wan": self.capital_wan, "foreign": self.foreign, "foreign_share": self.foreign_share,
                "foreign_country": self.foreign_country, "pilot_area": self.pilot_area,
                "licences_held": self.licences_held, "tentative": self.tentative, "missed": self.missed,
                "evidence": self.evidence,
                "assumed": self.assumed}

    def summary(self) -> str:
        """One line a salesperson can read back to the client."""
        parts = [p for p in (self.region, f"注册资本{self.capital_wan:g}万元" if self.capital_wan is not None else None,
                             {"跨省": "业务面向全国/跨省", "省内": "只在省内经营"}.get(self.scope or ""),
                             self._foreign_text(), "、".join(self.channels) or None,
                             "、".join(self.activities) or None,
                             ("已持有" + "、".join(self.licences_held)) if self.licences_held else None) if p]
        return "，".join(parts)

    def _foreign_text(self) -> str | None:
        if not self.foreign:
            return None
        who = f"{self.foreign_country}股东" if self.foreign_country else "外资股东"
        return who + (f"占{self.foreign_share:g}%" if self.foreign_share is not None else "")


def _table() -> dict[str, Any]:
    return vocab.table("facts")


def _negated(text: str, m: re.Match[str]) -> bool:
    t = _table()
    if re.search(t["negation"], text[max(0, m.start() - int(t["negation_window"])): m.start()]):
        return True
    clause = _clause(text, m).strip()
    return bool(re.match(t["negated_clause"], clause))


def _sentence(text: str, m: re.Match[str]) -> str:
    start = max(text.rfind(p, 0, m.start()) for p in "。！!？?\n") + 1
    ends = [i for i in (text.find(p, m.end()) for p in "。！!？?\n") if i >= 0]
    return text[start: min(ends) if ends else len(text)]


def _find(pattern: str, text: str, consumed: bool = False, negatable: bool = True) -> re.Match[str] | None:
    """The first match not closely preceded by a negation ("不收费" is not a fee) — nor, for a service the
    business could be using rather than offering, by a word of use ("买了云服务器")."""
    t = _table()
    matches = [m for m in re.finditer(pattern, text, re.I) if not (negatable and _negated(text, m))]
    if consumed:
        used = {_clause(text, m) for m in matches
                if re.search(t["consumer"], text[max(0, m.start() - int(t["consumer_window"])): m.start()])}
        matches = [m for m in matches if re.search(t["offer"], _clause(text, m)) or (
            _clause(text, m) not in used and not re.search(t["self_use"], _sentence(text, m)))]
    return matches[0] if matches else None


def _clause(text: str, m: re.Match[str]) -> str:
    start = max(text.rfind(p, 0, m.start()) for p in "，,。；;？?！!\n") + 1
    ends = [i for i in (text.find(p, m.end()) for p in "，,。；;？?！!\n") if i >= 0]
    return text[start: min(ends) if ends else len(text)]


def _region(f: BusinessFacts, text: str) -> None:
    t = _table()
    for city, prov in t["cities"].items():
        if city in text:
            f.region, f.province = city, prov
            f.evidence["province"] = city
            return
    prov = next((p for p in t["provinces"] if p in text), None)
    if prov:
        f.region = f.province = prov
        f.evidence["province"] = prov


def _scope(f: BusinessFacts, text: str) -> None:
    t = _table()
    places = "|".join([*t["provinces"], *t["cities"]])
    only_here = t["scope"]["province"] + f"|{t['scope']['only']}(?:{places})"
    for scope, pattern in ((NATIONAL_SCOPE, t["scope"]["national"]), (PROVINCE_SCOPE, only_here)):
        m = _find(pattern, text)
        if m:
            f.scope = scope
            f.evidence["scope"] = m.group(0)
            return
    # "北京、上海、广州三个地方都放机房": a service placed in two or more provinces covers more than one.
    named = _provinces_named(text)
    if len(named) >= 2 and re.search(t["scope"]["spread"], text):
        f.scope, f.spans = NATIONAL_SCOPE, named
        f.evidence["scope"] = "、".join(named)


def _provinces_named(text: str) -> list[str]:
    """The mainland provinces a text names, directly or by a city, in order."""
    t = _table()
    found = [(text.find(p), p) for p in t["provinces"] if p in text and p not in t["scope"]["abroad"]]
    found += [(text.find(c), p) for c, p in t["cities"].items() if c in text]
    return list(dict.fromkeys(p for _, p in sorted(found)))


def _capital(f: BusinessFacts, text: str) -> None:
    m = re.search(_table()["capital"]["pattern"], text)
    if m:
        unit = {"亿": 10000, "千万": 1000, "万": 1, "w": 1, "W": 1}[m.group(2)]
        f.capital_wan = float(m.group(1)) * unit
        f.evidence["capital_wan"] = m.group(0)


def _foreign(f: BusinessFacts, text: str) -> None:
    t = _table()["foreign"]
    m = re.search(f"({t['pattern']})[^。，；\n]{{0,14}}?({t['holder']})", text, re.I)
    if not m:
        return
    f.foreign = True
    f.evidence["foreign"] = m.group(0)
    f.foreign_country = next((c for c in t["countries"] if c in m.group(0)), None)
    short = re.search("([" + "".join(t["short"]) + "])[资方]", m.group(0))
    if f.foreign_country is None and short:
        f.foreign_country = t["short"][short.group(1)]
    near = text[max(0, m.start() - 12): m.end() + 24]
    share = re.search(t["share"], near)
    if share:
        f.foreign_share = 100.0 if share.group(3) else float(share.group(1) or share.group(2))
        f.evidence["foreign_share"] = share.group(0)


def from_text(text: str) -> BusinessFacts:
    """The facts a free-text description states; what it leaves open is listed in `assumed`."""
    t = _table()
    f = BusinessFacts()
    _region(f, text)
    _capital(f, text)
    _foreign(f, text)
    _scope(f, text)
    _activities(f, text)
    _paid(f, text)
    m = _find(t["merchants"]["yes"], text)
    if m:
        f.merchants = True
        f.evidence["merchants"] = m.group(0)
    f.channels = [c for c, p in t["channels"].items() if _find(p, text)]
    f.pilot_area = next((a for a, p in t["pilot"].items() if re.search(p, text)), None) if f.foreign else None
    f.licences_held = _held(text)
    f.missed = [name for name, pattern in t["missed"].items() if re.search(pattern, text)]
    if f.paid and f.channels and not f.activities:
        f.activities.append("信息发布")
        f.assumed.append("按通过网站、APP或小程序有偿提供信息服务理解")
    _assumptions(f)
    return f


def _activities(f: BusinessFacts, text: str) -> None:
    t = _table()
    for name, pattern in t["activities"].items():
        m = _find(pattern, text, consumed=name in t["consumed"])
        if not m:
            continue
        f.activities.append(name)
        f.evidence[f"activity:{name}"] = m.group(0)
        if re.search(t["tentative"], _clause(text, m)):
            f.tentative.append(name)


def _paid(f: BusinessFacts, text: str) -> None:
    """Charging or free: a fee word only ever negated ("不收会员费") says free."""
    t = _table()["paid"]
    no, yes = _find(t["no"], text, negatable=False), _find(t["yes"], text)
    negated_fee = next((m for m in re.finditer(t["yes"], text, re.I) if _negated(text, m)), None)
    if yes and re.search(_table()["tentative"], _clause(text, yes)):
        f.assumed.append(f"“{_clause(text, yes).strip()}”：今后收费的，届时须取得许可")
        yes = None  # "后面可能会加付费版": not charging yet
    decided = no or yes or negated_fee
    if decided:
        f.paid = bool(yes)  # a free tier beside paid features ("聊天免费，但开VIP…") is still charging
        f.evidence["paid"] = decided.group(0)

def _held(text: str) -> list[str]:
    t = _table()
    out = []
    for label, pattern in t["licences"].items():
        if re.search(t["held"]["before"] + r"[^。，；？?]{0,8}(" + pattern + ")", text) or \
                re.search("(" + pattern + r")[^。，；]{0,4}" + t["held"]["after"], text):
            out.append(label)
    return out


def _assumptions(f: BusinessFacts) -> None:
    if f.scope is None:
        f.assumed.append("未说明业务覆盖范围：一省内向省通信管理局申请（注册资本100万元），跨省向工信部申请（1000万元）")
    if f.paid is None and f.activities:
        f.assumed.append("未说明是否收费：有偿提供信息等经营性服务的须取得许可，免费的只需备案")
    if not f.channels and f.activities:
        f.assumed.append("未说明通过网站、APP还是小程序提供：网站须ICP备案或许可，APP和小程序须备案")


def for_question(f: BusinessFacts, question: str) -> BusinessFacts:
    """The facts as one question supposes them: "以后加付费版要不要另外办证？" asks about charging, "那跨省呢？" about
    several provinces — the question's own words override what the message said."""
    import copy

    t = _table()
    g = copy.deepcopy(f)
    if _find(t["paid"]["yes"], question) and not _find(t["paid"]["no"], question, negatable=False):
        g.paid = True
        g.assumed = [a for a in g.assumed if "今后收费" not in a]
    m = _find(t["scope"]["national"], question)
    if m:
        g.scope = NATIONAL_SCOPE
    return g


FORM_FIELDS = ("activities", "paid", "merchants", "channels", "scope", "province", "capital_wan", "foreign_share",
               "foreign_country", "pilot_area", "licences_held")


def from_form(form: dict[str, Any], text: str = "") -> BusinessFacts:
    """Facts from the assessment form; a description alongside fills what the form leaves empty."""
    f = from_text(text) if text.strip() else BusinessFacts()
    known = set(vocab.table("rules")["activities"]) | {"企业官网"}
    for key in FORM_FIELDS:
        value = form.get(key)
        if value in (None, "", []):
            continue
        if key == "activities":
            f.activities = list(dict.fromkeys([a for a in value if a in known] + f.activities))
        elif key == "scope":
            f.scope = NATIONAL_SCOPE if str(value) in {"跨省", "全国", NATIONAL_SCOPE} else PROVINCE_SCOPE
        else:
            setattr(f, key, value)
        f.evidence[key] = "表单"
    if f.foreign_share or f.foreign_country:
        f.foreign = True
    if f.province and not f.region:
        f.region = f.province
    if f.merchants and "电商平台" not in f.activities:
        f.activities.append("电商平台")
    f.assumed = []
    _assumptions(f)
    return f
