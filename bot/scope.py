"""Is a question this knowledge base's to answer? In-domain and prompt-injection checks.

The markers are in `bot/data/scope.toml`; see the comments there for how the tiers combine.
"""

from __future__ import annotations

import re

from bot import vocab
from bot.normalize import for_matching

_CODE = re.compile(r"\bb[12]\d\b")


@vocab.derived
def _patterns() -> dict[str, re.Pattern[str]]:
    data = vocab.table("scope")
    return {name: vocab.any_of(data[name], re.I)
            for name in ("not_ours", "other_fields", "price_mention", "price_asked", "procedure", "injection")}


def on_topic(text: str) -> bool:
    data, rx = vocab.table("scope"), _patterns()
    norm = for_matching(text)
    if rx["not_ours"].search(norm):
        return False
    # "管局" (the telecom bureau) must not match inside 市场监管局.
    if any(m in norm.replace("监管局", "") for m in data["licence_markers"]) or _CODE.search(norm):
        return True
    if rx["other_fields"].search(norm):
        return False
    if rx["price_asked"].search(norm) and not rx["procedure"].search(norm):
        return False
    return any(m in norm for m in data["topic_markers"])


def looks_like_injection(text: str) -> bool:
    return bool(_patterns()["injection"].search(for_matching(text)))


def asks_price(text: str) -> bool:
    # "免费用" (free to use) asks about a rule, not about our fees; "罚多少钱" asks about a fine.
    norm = re.sub(r"罚[^，。？?]{0,6}", "", for_matching(text).replace("免费", ""))
    return bool(_patterns()["price_mention"].search(norm))
