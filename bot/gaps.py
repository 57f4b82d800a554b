"""The coverage-gap report: which questions the knowledge base does not answer well, grouped by meaning, with
a title for the article that would answer them.

Candidates are logged questions that were refused although they are in the domain (bot/scope.py), answered with
a low confidence, or rated 👎. Their embeddings (the project's model, cached by content hash like every other
vector) are clustered with scikit-learn's agglomerative clustering: average linkage over cosine distance, cut at
BOT_GAP_DISTANCE, so the number of clusters follows from the data. Each cluster gets its size, example questions
(the most central first), the articles its answers cited, a label from its most frequent distinctive terms and a
suggested article title from its most central question.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

MAX_QUESTIONS = 2000  # the newest candidates clustered (agglomerative clustering is quadratic in memory)
EXAMPLES = 5
_POLITE = re.compile(r"^(?:(?:你好|您好|hi|hello)[，,！!。\s]*)?"
                     r"(?:请问|想问|我想问|想咨询|咨询|麻烦问)?(?:一下)?[，,：:\s]*", re.I)
_TAIL = re.compile(r"[\s？?！!。.，,~～…]+$")


@dataclass
class Gap:
    label: str
    count: int  # logged answers in the cluster
    questions: list[str]  # distinct examples, most central first
    doc_ids: list[str]  # articles the cluster's answers cited, most often first
    suggested_title: str
    refused: int = 0
    low: int = 0
    down: int = 0

    def contract(self) -> dict[str, Any]:
        """The fields of GET /admin/api/gaps, exactly."""
        return {k: v for k, v in asdict(self).items() if k in {"label", "count", "questions", "doc_ids",
                                                                "suggested_title"}}


@dataclass
class Candidate:
    question: str
    refused: bool
    low: bool
    down: bool
    doc_ids: list[str] = field(default_factory=list)


def candidates(rows: Sequence[dict[str, Any]], low_confidence: float) -> list[Candidate]:
    """Rows of Store.gap_rows() that show a gap: in-domain refusals, low confidence, 👎."""
    from bot.scope import looks_like_injection, on_topic

    out = []
    for r in rows[:MAX_QUESTIONS]:
        q = (r.get("question") or "").strip()
        if not q:
            continue
        refused = bool(r["refused"]) and on_topic(q) and not looks_like_injection(q)
        low = not r["refused"] and float(r["confidence"]) < low_confidence
        down = bool(r.get("down"))
        if refused or low or down:
            out.append(Candidate(q, refused, low, down, list(r.get("doc_ids") or [])))
    return out


def cluster(vectors: np.ndarray, distance: float) -> list[int]:
    """A cluster number per row: average-linkage agglomerative clustering on cosine distance, cut at
    `distance` (scikit-learn)."""
    if len(vectors) < 2:
        return [0] * len(vectors)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average")
    return [int(x) for x in model.fit_predict(vectors)]


def _terms(text: str) -> list[str]:
    from bot.lexicon import tokenize

    return [t for t in dict.fromkeys(tokenize(text)) if len(t) > 1 and not t.isdigit()]


def _label(questions: list[str], df_all: Counter[str], n_all: int) -> list[str]:
    """The cluster's most frequent terms, weighted by how distinctive they are among all candidates; a term
    inside a better one (增值 in 增值电信) is left out."""
    df = Counter(t for q in questions for t in _terms(q))
    scored = sorted(df, key=lambda t: (-df[t] * math.log(1 + n_all / df_all[t]), -len(t), t))
    picked: list[str] = []
    for t in scored:
        if df[t] < max(1, len(questions) // 3) and picked:
            break
        if any(t in p or p in t for p in picked):
            continue
        picked.append(t)
        if len(picked) == 3:
            break
    return picked


def _as_written(term: str, questions: list[str]) -> str:
    """A (normalised, lower-case) term as a question wrote it: ICP证, not icp证."""
    for q in questions:
        m = re.search(re.escape(term), q, re.I)
        if m:
            return m.group(0)
    return term


def title_from(question: str, terms: list[str]) -> str:
    """An article title from a question: greetings and trailing particles dropped; a long message gets a title
    from its terms instead."""
    core = _TAIL.sub("", _POLITE.sub("", question.strip().splitlines()[0] if question.strip() else ""))
    if not core or len(core) > 40:
        return f"{'、'.join(terms[:3]) or '常见问题'}：常见问题解答"
    return core + "？"


def report(rows: Sequence[dict[str, Any]], embed: Callable[[list[str]], list[list[float]]],
           low_confidence: float = 0.5, distance: float = 0.08) -> list[Gap]:
    """The gap report over Store.gap_rows(): clusters, biggest first."""
    cands = candidates(rows, low_confidence)
    if not cands:
        return []
    distinct = list(dict.fromkeys(c.question for c in cands))
    vecs = np.asarray(embed(distinct), dtype=np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
    labels = cluster(vecs, distance)
    index = {q: i for i, q in enumerate(distinct)}
    df_all = Counter(t for q in distinct for t in _terms(q))
    groups: dict[int, list[Candidate]] = {}
    for c in cands:
        groups.setdefault(labels[index[c.question]], []).append(c)
    gaps = []
    for members in groups.values():
        qs = list(dict.fromkeys(c.question for c in members))
        rows_v = vecs[[index[q] for q in qs]]
        centre = rows_v.mean(axis=0)
        order = np.argsort(-(rows_v @ centre), kind="stable")
        ranked = [qs[i] for i in order]
        terms = [_as_written(t, qs) for t in _label(qs, df_all, len(distinct))]
        docs = Counter(d for c in members for d in dict.fromkeys(c.doc_ids))
        gaps.append(Gap(label="、".join(terms) or ranked[0][:20], count=len(members), questions=ranked[:EXAMPLES],
                        doc_ids=[d for d, _ in docs.most_common(5)], suggested_title=title_from(ranked[0], terms),
                        refused=sum(c.refused for c in members), low=sum(c.low for c in members),
                        down=sum(c.down for c in members)))
    gaps.sort(key=lambda g: (-g.count, -g.down, g.label))
    return gaps


def to_json(gaps: list[Gap]) -> dict[str, Any]:
    return {"gaps": [g.contract() for g in gaps]}


def to_markdown(gaps: list[Gap], days: int) -> str:
    lines = [f"# 知识库缺口报告（最近 {days} 天）", "",
             f"共 {sum(g.count for g in gaps)} 个问题，归为 {len(gaps)} 组（拒答但属本领域、低置信度、👎）。", ""]
    for i, g in enumerate(gaps, 1):
        lines += [f"## {i}. {g.label}（{g.count} 次）", "", f"- 建议撰写文章：**{g.suggested_title}**",
                  f"- 拒答 {g.refused} 次，低置信度 {g.low} 次，👎 {g.down} 次",
                  f"- 涉及文章：{'、'.join(g.doc_ids) or '无'}", "- 示例问题："]
        lines += [f"  - {q}" for q in g.questions]
        lines.append("")
    return "\n".join(lines)


def to_csv(gaps: list[Gap]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["label", "count", "refused", "low_confidence", "down", "suggested_title", "doc_ids", "questions"])
    for g in gaps:
        w.writerow([g.label, g.count, g.refused, g.low, g.down, g.suggested_title, " ".join(g.doc_ids),
                    " | ".join(g.questions)])
    return buf.getvalue()


def for_settings(settings: Any, days: int, embedder: Any = None) -> list[Gap]:
    """The report from the configured database and embeddings (`bot gaps`, the console)."""
    from bot.db import Store

    store = Store(settings.database_url, settings.log_questions, settings.log_retention_days,
                  settings.low_confidence, settings.timezone)
    return report(store.gap_rows(days), (embedder or query_embedder(settings)), settings.low_confidence,
                  settings.gap_distance)


def query_embedder(settings: Any) -> Callable[[list[str]], list[list[float]]]:
    """Query-side vectors of the project's model, cached by content hash in the embedding cache."""
    from bot.embed import CachedEmbeddings, EmbeddingCache, make_embeddings

    inner, model_id = make_embeddings(settings)
    cached = CachedEmbeddings(inner, EmbeddingCache(settings.cache_path), model_id)
    return cached.embed_queries
