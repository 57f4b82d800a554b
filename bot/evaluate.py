"""`bot eval`: score answers on a question set, by the rules in shared/eval/README.md."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bot import vocab
from bot.normalize import compact, for_matching
from bot.query import BadQuestion


@dataclass
class QuestionResult:
    id: str
    topic: str
    question: str
    answerable: bool
    refused: bool
    items: list[str]
    covered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # covered, but in no cited chunk
    recall_hit: bool = False
    missing_in_top5: list[str] = field(default_factory=list)
    retrieved: list[dict] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    answer: str = ""
    error: str | None = None
    single: bool = True  # at most one question mark: the first line should answer it
    lead_ok: bool = False
    chars: int = 0  # what a reader reads: the answer without the disclaimer, whitespace dropped
    fluff: list[str] = field(default_factory=list)


def _found(item: str, text: str) -> bool:
    return any(compact(alt) in text for alt in item.split("|") if alt.strip())


def load_questions(path: Path) -> list[dict]:
    out = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: 不是合法的 JSON（{exc.msg}）") from exc
    return out


def reading_length(answer: str) -> int:
    return len(re.sub(r"\s+", "", "\n".join(ln for ln in answer.splitlines() if "不构成法律意见" not in ln)))


def first_line(answer: str) -> str:
    return next((ln.strip() for ln in answer.splitlines() if ln.strip()), "")


def fluff_in(bot, answer: str) -> list[str]:
    """Self-promotion (shared/eval/README.md) or a sentence the corpus records as corrected, quoted in an answer."""
    norm = for_matching(answer)
    found = [p for p in vocab.table("filters")["fluff"] if re.search(p, norm)]
    found += [c.quote for c in bot.kb.corrections if compact(c.quote) in compact(answer)]
    return found


def score_one(bot, q: dict) -> QuestionResult:
    turns = q.get("turns")
    res = QuestionResult(id=str(q.get("id", "")), topic=q.get("topic", ""), question=q["question"],
                         answerable=bool(q.get("answerable", True)), refused=False,
                         items=list(q.get("must_include", [])))
    started = time.perf_counter()
    try:
        ans = bot.ask(q["question"], turns)
    except BadQuestion as exc:
        res.error, res.refused = str(exc), True
        return res
    res.latency_ms = (time.perf_counter() - started) * 1000
    res.refused, res.answer = ans.refused, ans.answer
    res.single = len(re.findall(r"[？?]", q["question"])) <= 1
    head = compact(first_line(ans.answer))
    res.lead_ok = bool(res.items) and len(first_line(ans.answer)) <= 160 and _found(res.items[0], head)
    res.chars = reading_length(ans.answer)
    res.fluff = fluff_in(bot, ans.answer)
    res.cited = [c.chunk_id for c in ans.citations]
    answer = compact(ans.answer)
    cited = [compact(c.text) for c in ans.citations]
    for item in res.items:
        if _found(item, answer):
            res.covered.append(item)
            alts = [compact(a) for a in item.split("|") if a.strip() and compact(a) in answer]
            if not any(a in c for a in alts for c in cited):
                res.unsupported.append(item)
        else:
            res.missing.append(item)
    # Recall@5 measures the retriever alone, on the question as the bot would search it.
    top = bot.retrieve(q["question"], turns, k=5)[0].hits
    res.retrieved = [{"chunk_id": h.chunk.chunk_id, "title": h.chunk.title, "score": round(h.score, 4)} for h in top]
    top_text = [compact(h.chunk.text) for h in top]
    res.missing_in_top5 = [i for i in res.items if not any(_found(i, t) for t in top_text)]
    res.recall_hit = not res.missing_in_top5
    return res


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summarise(results: list[QuestionResult], retriever: str) -> dict:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    items = sum(len(r.items) for r in answerable)
    covered = sum(len(r.covered) for r in answerable)
    supported = covered - sum(len(r.unsupported) for r in answerable)
    latencies = [r.latency_ms for r in results if r.latency_ms]
    answered = [r for r in answerable if not r.refused]
    leads = [r for r in answered if r.single and r.items]
    lengths = [float(r.chars) for r in answered]

    def frac(a: int, b: int) -> float:
        return round(a / b, 4) if b else 1.0

    return {
        "retriever": retriever,
        "questions_total": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall_at_5": frac(sum(r.recall_hit for r in answerable), len(answerable)),
        "fact_coverage": frac(covered, items),
        "citation_support": frac(supported, covered),
        "refusal_accuracy": frac(sum(r.refused for r in unanswerable), len(unanswerable)),
        "false_refusals": frac(sum(r.refused for r in answerable), len(answerable)),
        "lead_accuracy": frac(sum(r.lead_ok for r in leads), len(leads)),
        "answer_chars_p50": round(_pct(lengths, 0.5), 1),
        "answer_chars_p90": round(_pct(lengths, 0.9), 1),
        "fluff": sum(bool(r.fluff) for r in results),
        "latency_p50_ms": round(_pct(latencies, 0.5), 1),
        "latency_p95_ms": round(_pct(latencies, 0.95), 1),
        "questions": [asdict(r) for r in results],
    }


def evaluate(bot, questions: list[dict], retriever: str) -> dict:
    return summarise([score_one(bot, q) for q in questions], retriever)


METRICS = ["recall_at_5", "fact_coverage", "citation_support", "refusal_accuracy", "false_refusals",
           "lead_accuracy", "answer_chars_p50", "answer_chars_p90", "fluff", "latency_p50_ms", "latency_p95_ms"]


def markdown_report(reports: list[dict], qa_path: str, command: str) -> str:
    lines = [f"# Evaluation on `{qa_path}`", "", f"Command: `{command}`", "",
             "| metric | " + " | ".join(r["retriever"] for r in reports) + " |",
             "| --- | " + " | ".join("---" for _ in reports) + " |"]
    for m in METRICS:
        lines.append(f"| {m} | " + " | ".join(str(r[m]) for r in reports) + " |")
    lines += ["", "## Misses per retriever", ""]
    for r in reports:
        lines.append(f"### {r['retriever']}")
        misses = [q for q in r["questions"] if q["missing"] or q["unsupported"] or q["answerable"] == q["refused"]
                  or (q["answerable"] and not q["recall_hit"])]
        if not misses:
            lines.append("- none")
        for q in misses:
            what = []
            if q["answerable"] and q["refused"]:
                what.append("falsely refused")
            if not q["answerable"] and not q["refused"]:
                what.append("answered an unanswerable question")
            if q["missing"]:
                what.append(f"missing {q['missing']}")
            if q["unsupported"]:
                what.append(f"unsupported {q['unsupported']}")
            if q["answerable"] and not q["recall_hit"]:
                what.append(f"not in top 5: {q['missing_in_top5']}")
            lines.append(f"- `{q['id']}` {q['question'][:40]} — {'; '.join(what)}")
        lines.append("")
    return "\n".join(lines)
