"""Text normalisation for matching: NFKC, traditional → simplified. Citations keep the original."""

from __future__ import annotations

import functools
import re
import unicodedata

# Control and zero-width characters, and lone surrogates (unencodable: "ICP证\ud800" arrives through JSON).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff\ud800-\udfff]")


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def clean(text: str) -> str:
    """Drop control and zero-width characters and lone surrogates; keep everything a reader would see. The one
    place every input (API, page, CLI, documents) passes before anything else reads it."""
    return _CONTROL.sub("", text)


def simplified(text: str) -> str:
    """NFKC + simplified Chinese, case kept: the form a question is embedded in (the corpus is simplified, and
    e5 places a traditional-script question further from it)."""
    return _t2s().convert(unicodedata.normalize("NFKC", clean(text)))


def for_matching(text: str) -> str:
    """NFKC + simplified Chinese + lower case: the form search and scoring work on."""
    text = unicodedata.normalize("NFKC", clean(text))
    return _t2s().convert(text).lower()


def compact(text: str) -> str:
    """The eval's normal form: NFKC, no whitespace, case-folded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def overlap(a: str, b: str) -> float:
    """Character-bigram Jaccard similarity: how much two Chinese texts say in the same words."""
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / max(1, len(x | y))


_FIGURES = re.compile(r"[A-Za-z]*\d+(?:\.\d+)?")


def figures(text: str) -> set[str]:
    """The numbers and codes a text states ("30日" → 30, "B24")."""
    return set(_FIGURES.findall(text))


def says_same(a: str, b: str) -> bool:
    """Whether two answers say the same: mostly the same words, or the same figures in similar words, or one
    contained in the other."""
    share = overlap(a, b)
    return share > 0.4 or (bool(figures(a)) and figures(a) == figures(b) and share >= 0.2) or max(
        contained(a, b), contained(b, a)) >= 0.8


def contained(a: str, b: str) -> float:
    """Share of a's character bigrams that b also has: how much of a is already said by b."""
    x = _bigrams(a)
    return len(x & _bigrams(b)) / max(1, len(x))


def _bigrams(s: str) -> set[str]:
    s = compact(s)
    return {s[i : i + 2] for i in range(len(s) - 1)}
