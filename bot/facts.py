"""What a client's message says about the business: region, capital, scope, business model, platforms,
foreign shareholding and licences held. The patterns are in `bot/data/facts.toml`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot import vocab
from bot.normalize import for_matching


def _table() -> dict:
    return vocab.table("facts")


@dataclass
class ClientFacts:
    region: str | None = None
    registered_capital_wan: float | None = None
    scope: str | None = None  # "全国/跨省" or "省内"
    business: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    foreign: str | None = None  # what the message says about foreign shareholding
    licences_held: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if self.region:
            parts.append(self.region)
        if self.registered_capital_wan is not None:
            parts.append(f"注册资本{self.registered_capital_wan:g}万元")
        if self.scope:
            parts.append(f"业务范围{self.scope}")
        if self.foreign:
            parts.append(self.foreign)
        if self.platforms:
            parts.append("、".join(self.platforms))
        if self.business:
            parts.append("、".join(self.business))
        if self.licences_held:
            parts.append("已持有" + "、".join(self.licences_held))
        return "，".join(parts)


def extract_facts(text: str) -> ClientFacts:
    f = ClientFacts()
    norm = for_matching(text)
    data = _table()
    for city, prov in data["cities"].items():
        if city in text:
            f.region = f"{prov}{city}" if prov not in ("北京", "上海", "天津", "重庆") else city
            break
    if not f.region:
        f.region = next((p for p in data["provinces"] if p in text), None)
    m = re.search(r"注册(?:资本|资金)[^\d一二三四五六七八九十百千万亿]{0,8}(\d+(?:\.\d+)?)\s*(亿|万|千万)", norm)
    if m:
        value = float(m.group(1))
        f.registered_capital_wan = value * {"亿": 10000, "千万": 1000, "万": 1}[m.group(2)]
    if re.search(r"全国|跨省|多个省|各地|各省|外省|遍布|多省|全网", text):
        f.scope = "全国/跨省"
    elif re.search(r"本地|省内|本省|只在.{0,6}(省|市)|同城|本市", text):
        f.scope = "省内"
    f.business = [b["label"] for b in data["business"] if re.search(b["pattern"], text, re.I)]
    f.platforms = list(dict.fromkeys(p["label"] for p in data["platform"] if re.search(p["pattern"], text)))
    if "小程序" in f.platforms and any(p.endswith("小程序") and p != "小程序" for p in f.platforms):
        f.platforms.remove("小程序")
    fm = re.search(r"(外资|外商|外籍|境外|海外|美资|港资|台资|日资|韩资|欧洲|美国|香港|新加坡|日本|VIE)[^。，；\n]{0,12}?"
                   r"(股东|投资|控股|持股|资本|公司|母公司|架构|背景)", text, re.I)
    if fm:
        pct = re.search(r"(\d{1,3})\s*%", text[fm.start(): fm.end() + 20])
        f.foreign = fm.group(0) + (f"（{pct.group(0)}）" if pct and pct.group(0) not in fm.group(0) else "")
    held = data["held"]["words"]
    for lic in data["licence"]:
        pat, label = lic["pattern"], lic["label"]
        if re.search(held + r"[^。，；？?]{0,8}(" + pat + ")", text) or re.search("(" + pat + r")[^。，；]{0,4}(已经|已)?(有了|办好|拿到|下来了)", text):
            f.licences_held.append(label)
    return f
