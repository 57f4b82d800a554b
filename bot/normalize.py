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


def _bigrams(s: str) -> set[str]:
    s = compact(s)
    return {s[i : i + 2] for i in range(len(s) - 1)}
