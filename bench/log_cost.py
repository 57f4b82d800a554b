"""What logging costs an answer, and the gap report over a few hundred logged questions (not a test).

    .venv/bin/python bench/log_cost.py [--limit 300] [--pg-limit 100]

One run, one app, one scratch index built from the committed embedding cache (a copy: nothing committed is
written). Every question of the dev and held-out sets is asked once to warm the caches, then twice through
POST /api/ask (Starlette's TestClient, in process), once with the conversation log attached and once without,
in random order per question; the p50/p95 of both are compared. The same with PostgreSQL (a throwaway
server on 127.0.0.1, Debian's package) when it is installed. Also measured: the time of the log call on the
answer's path (a queue put), and the writer thread's time per entry. Then the coverage-gap report over the
questions logged. Writes bench/results/log_cost.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
SETS = [ROOT.parent / "shared" / "eval" / "dev.jsonl", *sorted((ROOT / "eval").glob("heldout*.jsonl"))]


def questions() -> list[str]:
    out: list[str] = []
    for path in SETS:
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                q = obj.get("question") or (obj.get("turns") or [""])[-1]
                if q:
                    out.append(q)
    return list(dict.fromkeys(out))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p * len(values)))], 1) if values else 0.0


def paired(client: Any, ctx: Any, qs: list[str], seed: int) -> dict[str, Any]:
    """Each question with and without the log, in random order; client-side latency of POST /api/ask."""
    rng = random.Random(seed)
    log = ctx.log
    on: list[float] = []
    off: list[float] = []
    calls: list[float] = []
    original = ctx.log_answer

    def timed(*args: Any, **kw: Any) -> None:
        t = time.perf_counter()
        original(*args, **kw)
        calls.append((time.perf_counter() - t) * 1e6)

    ctx.log_answer = timed
    try:
        ctx.log = None
        for q in qs:  # warm every cache (sentence vectors, card matches) first: what follows compares like with like
            client.post("/api/ask", json={"question": q})
        calls.clear()
        for q in qs:
            order = [True, False] if rng.random() < 0.5 else [False, True]
            for logging in order:
                ctx.log = log if logging else None
                t = time.perf_counter()
                r = client.post("/api/ask", json={"question": q})
                ms = (time.perf_counter() - t) * 1000
                if r.status_code == 200:
                    (on if logging else off).append(ms)
    finally:
        ctx.log, ctx.log_answer = log, original
    log.flush(60)
    diffs = [a - b for a, b in zip(on, off, strict=False)]
    return {"questions": len(qs), "with_log_p50_ms": pct(on, 0.5), "without_log_p50_ms": pct(off, 0.5),
            "with_log_p95_ms": pct(on, 0.95), "without_log_p95_ms": pct(off, 0.95),
            "median_paired_difference_ms": round(statistics.median(diffs), 1) if diffs else 0.0,
            "log_call_p50_us": pct(calls, 0.5), "log_call_p95_us": pct(calls, 0.95),
            "written": log.written, "lost": log.lost}


def writer_cost(store: Any, n: int = 300) -> dict[str, float]:
    """The writer thread's time per entry, one entry per transaction and 100 per transaction."""
    from bot.db import Entry, new_id

    def entries(k: int) -> list[Any]:
        return [Entry(new_id(), "api", f"基准问题 {i}：ICP证有效期几年？", "答：5年。[1]", False, 0.9, 10.0,
                      [{"n": 1, "doc_id": "a042", "title": "t", "chunk_id": "a042#0"}]) for i in range(k)]

    t = time.perf_counter()
    for e in entries(n):
        store.write([e])
    single = (time.perf_counter() - t) * 1000 / n
    batch = entries(n)
    t = time.perf_counter()
    for i in range(0, n, 100):
        store.write(batch[i:i + 100])
    batched = (time.perf_counter() - t) * 1000 / n
    return {"ms_per_entry_single": round(single, 2), "ms_per_entry_batch_100": round(batched, 3)}


def run(settings: Any, qs: list[str], seed: int) -> tuple[dict[str, Any], Any]:
    from starlette.testclient import TestClient

    from bot.web import create_app

    app = create_app(settings, background=False)
    ctx = app.state.ctx
    client = TestClient(app)
    client.post("/api/ask", json={"question": "预热：ICP证有效期几年？"})
    out = paired(client, ctx, qs, seed)
    return out, ctx


def gap_summary(ctx: Any, days: int = 1) -> dict[str, Any]:
    from bot import gaps

    store = ctx.log.store
    rows = store.gap_rows(days)
    bot = ctx.holder.get()
    t = time.perf_counter()
    found = gaps.report(rows, bot.kb.sentences.embed_queries, ctx.settings.low_confidence, ctx.settings.gap_distance)
    seconds = time.perf_counter() - t
    cands = gaps.candidates(rows, ctx.settings.low_confidence)
    return {"logged": store.count_answers(), "candidates": len(cands),
            "refused_in_domain": sum(c.refused for c in cands), "low_confidence": sum(c.low for c in cands),
            "clusters": len(found), "sizes": [g.count for g in found], "seconds": round(seconds, 1),
            "report": [asdict_gap(g) for g in found]}


def all_as_gaps(ctx: Any) -> dict[str, Any]:
    """The clustering at scale: every logged question treated as if its answer had been rated 👎."""
    from bot import gaps
    from bot.db import Filters

    items = ctx.log.store.conversations(Filters(limit=5000))
    rows = [{"answer_id": i["answer_id"], "question": i["question"], "refused": False, "confidence": 1.0,
             "doc_ids": [], "down": True} for i in items if i["question"]]
    bot = ctx.holder.get()
    t = time.perf_counter()
    found = gaps.report(rows, bot.kb.sentences.embed_queries, ctx.settings.low_confidence, ctx.settings.gap_distance)
    sizes = [g.count for g in found]
    return {"questions": len(rows), "clusters": len(found), "sizes": sizes, "singletons": sizes.count(1),
            "seconds": round(time.perf_counter() - t, 1), "largest": [asdict_gap(g) for g in found[:3]]}


def asdict_gap(g: Any) -> dict[str, Any]:
    return {**g.contract(), "refused": g.refused, "low": g.low, "down": g.down}


def markdown(res: dict[str, Any]) -> str:
    lines = ["# Cost of logging an answer; the gap report over logged questions", "",
             f"Command: `{res['command']}` ({res['date']}, {res['machine']})", "",
             "Each question asked twice through `POST /api/ask` in one process, with and without the conversation",
             "log, in random order per question. Latency is the client's (the whole request).", "",
             "| database | questions | p50 with log | p50 without | p95 with | p95 without | median paired "
             "difference | log call on the answer's path p50 / p95 | writer per entry (1 / 100 per transaction) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in res["runs"].items():
        w = r["writer"]
        lines.append(f"| {name} | {r['questions']} | {r['with_log_p50_ms']} ms | {r['without_log_p50_ms']} ms | "
                     f"{r['with_log_p95_ms']} ms | {r['without_log_p95_ms']} ms | "
                     f"{r['median_paired_difference_ms']} ms | "
                     f"{r['log_call_p50_us']} / {r['log_call_p95_us']} µs | {w['ms_per_entry_single']} / "
                     f"{w['ms_per_entry_batch_100']} ms |")
    g = res["gaps"]
    lines += ["", "The answer's path only puts the entry on a queue (the 'log call' column); the database write "
              "happens in the writer thread, off the answer's path.", "",
              "## Gap report over the logged questions", "",
              f"{g['logged']} answers logged (the SQLite run). Candidates: {g['candidates']} "
              f"({g['refused_in_domain']} refused although in the domain, {g['low_confidence']} answered with "
              f"confidence < {res['low_confidence']}; no 👎 here, no visitor rated anything). "
              f"Clusters: {g['clusters']} (sizes {g['sizes'][:15]}{' …' if len(g['sizes']) > 15 else ''}), "
              f"computed in {g['seconds']} s (question vectors from the embedding cache or computed once).", ""]
    for i, gap in enumerate(g["report"][:3], 1):
        lines += [f"### Example {i}: {gap['label']} (size {gap['count']})", "",
                  f"- suggested title: **{gap['suggested_title']}**",
                  f"- refused {gap['refused']}, low confidence {gap['low']}; articles touched: "
                  f"{', '.join(gap['doc_ids']) or 'none'}", "- questions:"]
        lines += [f"  - {q}" for q in gap["questions"]]
        lines.append("")
    a = res["all_as_gaps"]
    lines += ["## The clustering at scale", "",
              f"To see the clustering on a few hundred questions, all {a['questions']} logged questions treated as if "
              f"every answer had been rated 👎: {a['clusters']} clusters ({a['singletons']} of one question; "
              f"largest {a['sizes'][:10]}), {a['seconds']} s (BOT_GAP_DISTANCE {res['gap_distance']}).", ""]
    for gap in a["largest"][:2]:
        lines += [f"- **{gap['label']}** (size {gap['count']}), suggested title **{gap['suggested_title']}**:"]
        lines += [f"  - {q}" for q in gap["questions"]]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=300, help="questions for the SQLite run")
    ap.add_argument("--pg-limit", type=int, default=100, help="questions for the PostgreSQL run (0: skip)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    from bot.settings import get_settings

    qs = questions()
    rng = random.Random(args.seed)
    rng.shuffle(qs)
    tmp = Path(tempfile.mkdtemp(prefix="bench-log-"))
    shutil.copy(ROOT / "index" / "embed_cache.sqlite", tmp / "cache.sqlite")
    base = get_settings(index_dir=tmp / "index", embed_cache=tmp / "cache.sqlite", rate_limit="100000/minute",
                        database_url=f"sqlite:///{tmp}/bot.sqlite")
    res: dict[str, Any] = {"command": "python bench/log_cost.py " + " ".join(sys.argv[1:]),
                           "date": time.strftime("%Y-%m-%d"), "machine": "2 cores shared with other jobs, no GPU",
                           "low_confidence": base.low_confidence, "gap_distance": base.gap_distance, "runs": {}}
    sqlite_run, ctx = run(base, qs[:args.limit], args.seed)
    sqlite_run["writer"] = writer_cost(type(ctx.log.store)(f"sqlite:///{tmp}/writer.sqlite"))
    res["runs"]["SQLite"] = sqlite_run
    res["gaps"] = gap_summary(ctx)
    res["all_as_gaps"] = all_as_gaps(ctx)
    print(json.dumps(sqlite_run, ensure_ascii=False), file=sys.stderr)
    if args.pg_limit:
        try:
            from tests.services import Postgres

            pg = Postgres(tmp / "pg")
            url = pg.start()
        except Exception as exc:  # PostgreSQL not installed here
            print(f"PostgreSQL run skipped: {exc}", file=sys.stderr)
        else:
            try:
                pg_run, pg_ctx = run(base.model_copy(update={"database_url": url}), qs[:args.pg_limit], args.seed)
                pg_run["writer"] = writer_cost(type(pg_ctx.log.store)(pg.database()))
                res["runs"]["PostgreSQL"] = pg_run
            finally:
                pg.remove()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "log_cost.json").write_text(json.dumps(res, ensure_ascii=False, indent=1), "utf-8")
    (RESULTS / "log_cost.md").write_text(markdown(res) + "\n", "utf-8")
    print(markdown(res))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
