"""The data files under bot/data and the curated knowledge in the corpus's front matter: they parse, they are
consistent, and everything they claim to quote is really there."""

from __future__ import annotations

import re
import tomllib
import unicodedata

import frontmatter
import pytest

from bot import vocab
from bot.chunk import chunk_document
from bot.ingest import load
from bot.normalize import for_matching
from tests.conftest import ROOT

CORPUS = ROOT / "corpus"
DOCS = {d.doc_id: d for d in (load(p) for p in sorted(CORPUS.glob("*.md")))}
CORPUS_TEXT = for_matching("\n".join(d.text for d in DOCS.values()))


@pytest.mark.parametrize("name", sorted(p.stem for p in vocab.DATA.glob("*.toml")))
def test_every_data_file_parses_without_duplicate_keys(name):
    # tomllib rejects a key defined twice; lists must not repeat entries either.
    data = tomllib.loads((vocab.DATA / f"{name}.toml").read_text("utf-8"))

    def lists(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from lists(v)
        elif isinstance(node, list) and all(isinstance(x, str) for x in node):
            yield node

    for entries in lists(data):
        assert len(entries) == len(set(entries)), [e for e in entries if entries.count(e) > 1]


def test_no_synonym_maps_a_word_to_itself():
    table = vocab.table("lexicon")["synonyms"]
    assert [k for k, targets in table.items() if k in targets] == []


def test_every_synonym_target_occurs_in_the_corpus():
    table = vocab.table("lexicon")["synonyms"]
    missing = sorted({t for targets in table.values() for t in targets if for_matching(t) not in CORPUS_TEXT})
    assert missing == []


def test_every_dictionary_word_is_kept_whole():
    from bot.lexicon import domain_words, words

    assert [w for w in domain_words() if words(w) != [w]] == []


def test_patterns_compile():
    for name in ("query", "scope", "facts", "filters", "desk"):
        def walk(node, key=""):
            if isinstance(node, dict):
                for k, v in node.items():
                    yield from walk(v, k)
            elif isinstance(node, str) and key in {"question", "sentence", "asks", "not_asks", "conditional",
                                                   "elliptical", "duration", "pattern", "yes", "no", "national",
                                                   "province", "licence", "foreign", "capital", "time", "authority"}:
                yield node

        for pattern in walk(vocab.table(name)):
            re.compile(pattern)


# -- the licence rules ---------------------------------------------------------------------------------

def _cites(node):
    if isinstance(node, dict):
        if "doc" in node and "passage" in node:
            yield node
        for v in node.values():
            yield from _cites(v)
    elif isinstance(node, list):
        for v in node:
            yield from _cites(v)


def test_every_rule_cites_a_verbatim_passage_inside_one_chunk():
    rules = vocab.table("rules")
    cites = list(_cites(rules))
    assert len(cites) > 30
    for c in cites:
        doc = DOCS[c["doc"]]
        assert c["passage"] in doc.text, c
        assert any(c["passage"] in ch.text for ch in chunk_document(doc)), c


def test_rule_conditions_use_known_words():
    rules = vocab.table("rules")
    known = set(rules["activities"]) | set(rules["groups"]) | {"paid", "free", "paid?", "merchants", "网站", "APP",
                                                               "小程序", "跨省", "省内", "foreign"}
    for item in rules["item"]:
        for key in ("need", "depends", "not_needed"):
            for clause in item.get(key, []):
                assert {w.removeprefix("!") for w in clause} <= known, (item["key"], clause)
    assert set(vocab.table("facts")["activities"]) <= set(rules["activities"])


# -- answer cards and corrections in the corpus ---------------------------------------------------------

FIGURE = re.compile(r"[A-Za-z]*\d+(?:\.\d+)?")
CARDS = [(doc_id, n, card) for doc_id, d in DOCS.items() for n, card in enumerate(d.cards)]


def test_every_article_carries_cards():
    counts = {doc_id: len(d.cards) for doc_id, d in DOCS.items()}
    core = {k: v for k, v in counts.items() if k.startswith("c")}
    seed_titled = {k: v for k, v in counts.items() if k.startswith("a")}
    assert len(core) == 19 and min(core.values()) >= 6
    assert len(seed_titled) == 70 and min(seed_titled.values()) >= 4
    assert sum(counts.values()) > 1000


@pytest.mark.parametrize("doc_id,n,card", CARDS, ids=[f"{d}-{n}" for d, n, _ in CARDS])
def test_card_passage_is_verbatim_and_holds_the_answers_figures(doc_id, n, card):
    doc = DOCS[doc_id]
    passage, answer = card["passage"], card["answer"]
    assert passage in doc.text
    assert any(passage in ch.text for ch in chunk_document(doc)), "passage spans two chunks"
    norm = unicodedata.normalize("NFKC", passage)
    assert [f for f in FIGURE.findall(unicodedata.normalize("NFKC", answer)) if f not in norm] == []
    first = re.findall(r"[^。！？!?]+[。！？!?]?", answer)[0]
    assert len(first) <= 120 and 2 <= len(card["questions"]) <= 6


def test_corrections_name_a_sentence_of_their_article_and_a_supporting_passage():
    corrections = [(doc_id, c) for doc_id, d in DOCS.items() for c in d.corrections]
    assert len(corrections) >= 5
    for doc_id, c in corrections:
        assert c["quote"] in DOCS[doc_id].text, c["quote"]
        if c.get("correct"):
            see = c["see"]
            assert see["passage"] in DOCS[see["doc"]].text
            norm = unicodedata.normalize("NFKC", see["passage"])
            assert [f for f in FIGURE.findall(c["correct"]) if f not in norm] == []


def test_seed_article_front_matter_does_not_claim_a_page_it_is_not():
    meta = frontmatter.load(CORPUS / "000-seed-alipay-miniprogram.md").metadata
    assert not str(meta["source"]).startswith("http")
