"""Domain vocabulary and the tokenizer: the jieba dictionary, stopwords and the synonym table.

The words themselves are in `bot/data/lexicon.toml`; BM25, query expansion, sentence scoring and the scope
check all tokenise through here, so they agree on what a term is.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
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


MEMO_LIMIT = 50_000  # texts remembered per process: the questions, cards and sentences tokenised again and again


@vocab.derived
def _memo() -> dict[str, tuple[str, ...]]:
    return {}  # cleared with the vocabulary (vocab.reload), like the tokenizer it depends on


def _segment(text: str) -> tuple[str, ...]:
    return tuple(t for t in (tok.strip() for tok in _jieba().cut_for_search(for_matching(text))) if _keep(t))


def tokenize_many(texts: list[str]) -> list[list[str]]:
    """`tokenize` for a corpus: nothing remembered (the index keeps chunk tokens itself)."""
    return [list(_segment(t)) for t in texts]


def tokenize(text: str) -> list[str]:
    """Search tokens: normalised, segmented for search (words and their sub-words), no stopwords."""
    memo = _memo()
    found = memo.get(text)
    if found is None:
        found = _segment(text)
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[text] = found
    return list(found)


def memo_size() -> int:
    return len(_memo())


def load_memo(path: Path) -> bool:
    """Remember the tokens saved by `save_memo` if today's vocabulary made them. True when loaded."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    if data.get("lexicon") != fingerprint():
        return False
    _memo().update((text, tuple(toks)) for text, toks in data["tokens"].items())
    return True


def save_memo(path: Path) -> None:
    """Write the texts tokenised so far with their tokens, so the next process starts without jieba."""
    data = {"lexicon": fingerprint(), "tokens": {text: list(toks) for text, toks in _memo().items()}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    tmp.replace(path)


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


def statutes() -> dict[str, list[str]]:
    """Everyday word → the wording statutes use (lexicon.toml [statutes]), for documents users add."""
    table: dict[str, list[str]] = vocab.table("lexicon").get("statutes", {})
    return table


@vocab.derived
def _statute_keys() -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((for_matching(k), tuple(v)) for k, v in statutes().items())


def statute_matches(text: str, tokens: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(everyday word, its statute wording) for the table's words in the text: matched as substrings of the
    normalised text, a one-character word only as a whole token; in table order."""
    norm = for_matching(text)
    return [(key, terms) for key, terms in _statute_keys() if (key in tokens if len(key) == 1 else key in norm)]


def statute_terms(phrases: list[str], tokens: list[str]) -> list[str]:
    """Search tokens of the statute phrases, those not among `tokens` already."""
    out: list[str] = []
    for phrase in phrases:
        out += [t for t in _term_tokens(phrase) if t not in tokens and t not in out]
    return out


def expand(tokens: list[str]) -> list[str]:
    """The tokens plus the canonical terms for colloquial words and abbreviations among them."""
    extra = [t for terms in synonyms_for(tokens).values() for t in terms]
    return tokens + [t for t in dict.fromkeys(extra) if t not in tokens]
