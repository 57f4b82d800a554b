"""Domain vocabulary and the tokenizer: the jieba dictionary, stopwords and the synonym table.

The words themselves are in `bot/data/lexicon.toml`; BM25, query expansion, sentence scoring and the scope
check all tokenise through here, so they agree on what a term is.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot import vocab
from bot.normalize import for_matching

_PUNCT = re.compile(r"^[\W_]+$")


@vocab.derived
def domain_words() -> tuple[str, ...]:
    """In file order: the order words are added to jieba can change how it segments."""
    return tuple(dict.fromkeys(w.lower() for w in vocab.table("lexicon")["dictionary"]["words"]))


@vocab.derived
def stopwords() -> frozenset[str]:
    return frozenset(vocab.table("lexicon")["dictionary"]["stopwords"])


def synonyms() -> dict[str, list[str]]:
    """Colloquial word or abbreviation → the canonical terms the articles use."""
    table: dict[str, list[str]] = vocab.table("lexicon")["synonyms"]
    return table


@vocab.derived
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    for w in [*domain_words(), *(k for k in synonyms() if len(k) > 1)]:
        tk.add_word(w.lower(), freq=20000)
    return tk


def fingerprint() -> str:
    """Changes whenever the vocabulary file does, so BM25 tokens made with an older one are rebuilt."""
    return vocab.fingerprint("lexicon")


def _keep(tok: str) -> bool:
    return bool(tok) and tok not in stopwords() and not _PUNCT.match(tok)


def tokenize(text: str) -> list[str]:
    """Search tokens: normalised, segmented for search (words and their sub-words), no stopwords."""
    return [t for t in (tok.strip() for tok in _jieba().cut_for_search(for_matching(text))) if _keep(t)]


def words(text: str) -> list[str]:
    """Plain segmentation (no sub-words) of normalised text, punctuation and stopwords kept."""
    return [t for t in _jieba().lcut(for_matching(text)) if t.strip()]


def _term_tokens(term: str) -> list[str]:
    """A canonical term as search tokens: whole when the dictionary knows it, else its words."""
    norm = for_matching(term)
    if norm in domain_words():
        return [norm]
    return [t for t in _jieba().lcut(norm) if t.strip() and _keep(t)]


def synonyms_for(tokens: list[str]) -> dict[str, list[str]]:
    """For each query token, the canonical terms the synonym table adds (only tokens that have some)."""
    groups: dict[str, list[str]] = {}
    for tok in dict.fromkeys(tokens):
        extra: list[str] = []
        for key, terms in synonyms().items():
            if key == tok or (len(key) > 1 and key in tok):
                for term in terms:
                    extra += [t for t in _term_tokens(term) if t not in tokens and t not in extra]
        if extra:
            groups[tok] = extra
    return groups


def expand(tokens: list[str]) -> list[str]:
    """The tokens plus the canonical terms for colloquial words and abbreviations among them."""
    extra = [t for terms in synonyms_for(tokens).values() for t in terms]
    return tokens + [t for t in dict.fromkeys(extra) if t not in tokens]
