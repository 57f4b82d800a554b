"""Scale benchmark on the real laws in ../shared/corpora/laws (not a test).

Indexes growing subsets (by chunk count) into separate index directories — never the default index/ —
sharing one resumable embedding cache, then measures build throughput, peak memory, query latency and
retrieval recall for every retriever (bm25, dense, rrf = the previous hybrid, hybrid = the current one) on the
question sets in SETS (bench/laws_questions*.jsonl; which were tuned on and where their first runs are kept is
said in the rendered bench/results/laws.md).

    .venv/bin/python bench/laws_bench.py --sizes 1000,5000,10000,25000 --work /work/laws-bench

Each step runs in a fresh process so peak memory (ru_maxrss) belongs to that step alone; `--app` also starts the
web app on the largest index and reads its peak memory after it has answered questions. Recall counts the
questions whose law is in the subset (the subsets grow by whole laws; a question about a law not yet included
cannot be answered). Results go to bench/results/laws.json and bench/results/laws.md. Re-running resumes from
the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAWS = ROOT.parent / "shared" / "corpora" / "laws"
QUESTIONS = ROOT / "bench" / "laws_questions.jsonl"
SETS = {"tuning": QUESTIONS, "fresh": ROOT / "bench" / "laws_questions_fresh.jsonl",
        "fresh2": ROOT / "bench" / "laws_questions_fresh2.jsonl",
        "fresh3": ROOT / "bench" / "laws_questions_fresh3.jsonl"}
MODES = ("bm25", "dense", "rrf", "hybrid")
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def select(size: int, subset_dir: Path) -> int:
    """Link law files into subset_dir until it holds at least `size` chunks; the tuning questions' files first
    (the fresh questions were written afterwards over these same subsets, so they do not change them)."""
    from bot.chunk import chunk_document
    from bot.ingest import IngestError, discover, load

    subset_dir.mkdir(parents=True, exist_ok=True)
    wanted = [LAWS / json.loads(line)["file"] for line in QUESTIONS.read_text("utf-8").splitlines() if line.strip()]
    files, _ = discover([LAWS])
    order = list(dict.fromkeys(wanted + files))
    total = 0
    for path in order:
        if total >= size:
            break
        try:
            n = len(chunk_document(load(path, LAWS)))
        except IngestError:
            continue
        link = subset_dir / str(path.relative_to(LAWS)).replace("/", "__")
        if not link.exists():
            link.symlink_to(path)
        total += n
    return total


def _settings(index_dir: Path, subset_dir: Path, cache: Path):
    from bot.settings import get_settings

    return get_settings(index_dir=index_dir, corpus_dir=subset_dir, embed_cache=cache)


def worker_build(index_dir: Path, subset_dir: Path, cache: Path) -> dict:
    from bot.index import build_index

    t0 = time.perf_counter()
    report = build_index(_settings(index_dir, subset_dir, cache), show_progress=True)
    secs = time.perf_counter() - t0
    return {"chunks": report.chunks_total, "embedded": report.embedded, "seconds": round(secs, 1),
            "chunks_per_s": round(report.chunks_added / secs, 2) if secs else None,
            "embedded_per_s": round(report.embedded / report.timings.get("embed (model)", secs), 2)
            if report.embedded else None,
            "tokenised": report.tokenised, "timings": {k: round(v, 2) for k, v in report.timings.items()},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _questions(subset_dir: Path) -> dict[str, list[dict]]:
    """Per set, the questions whose law is in the subset."""
    present = {str(p.resolve().relative_to(LAWS)) for p in subset_dir.iterdir()}
    out = {}
    for name, path in SETS.items():
        qs = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        out[name] = [q for q in qs if q["file"] in present]
    return out


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[int(p * (len(values) - 1))], 1)


def _gold_texts(kb, doc: str, article: str) -> set[str]:
    """The answering article's text. An identical copy in another file (the corpus holds some documents
    twice, e.g. one judicial interpretation with and without its date in the file name) is the same answer."""
    from bot.normalize import compact

    return {compact(c.text) for c in kb.chunks.values() if c.doc_id == doc and c.text.startswith(article)}


def worker_query(index_dir: Path, subset_dir: Path, cache: Path) -> dict:
    from bot.ingest import path_id
    from bot.normalize import compact
    from bot.retrieve import KnowledgeBase, Retriever

    t0 = time.perf_counter()
    kb = KnowledgeBase(_settings(index_dir, subset_dir, cache))
    load_s = time.perf_counter() - t0
    sets = _questions(subset_dir)
    golds: dict[str, set[str]] = {}
    out: dict = {"load_seconds": round(load_s, 2), "questions": {n: len(qs) for n, qs in sets.items()}}
    for mode in MODES:
        # rrf: the hybrid as it was before the glossary and the fusion table (depth 25, k 60 at every size)
        old = mode == "rrf"
        retriever = Retriever(kb, "hybrid", glossary=False, depth=25, rrf_k=60) if old else Retriever(kb, mode)
        if old:
            retriever.top_rank = None  # nor were the retrievers' best hits lifted
        retriever.search("预热", k=10)
        kb.forget_queries()  # each retriever embeds the questions itself: latency includes the e5 query
        lat: list[float] = []
        per: dict[str, dict] = {}
        for name, qs in sets.items():
            at5 = at10 = 0
            missed = []
            for q in qs:
                doc = path_id(subset_dir / q["file"].replace("/", "__"), subset_dir)
                t = time.perf_counter()
                hits = retriever.search(q["question"], k=10).hits
                lat.append((time.perf_counter() - t) * 1000)
                key = name + q["id"]
                if key not in golds:  # a scan of every chunk: once per question, not once per retriever
                    golds[key] = _gold_texts(kb, doc, q["article"])
                gold = golds[key]
                ranks = [i for i, h in enumerate(hits) if compact(h.chunk.text) in gold]
                at5 += bool(ranks and ranks[0] < 5)
                at10 += bool(ranks)
                if not (ranks and ranks[0] < 5):
                    missed.append(q["id"])
            n = max(1, len(qs))
            per[name] = {"recall_at_5": round(at5 / n, 3), "recall_at_10": round(at10 / n, 3), "missed_at_5": missed}
        out[mode] = {**per, "latency_p50_ms": round(statistics.median(lat), 1), "latency_p95_ms": _pct(lat, 0.95)}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def app_memory(index_dir: Path, subset_dir: Path, cache: Path) -> dict:
    """Start app.py on this index, ask the tuning questions through /api/ask, read its peak memory (VmHWM)."""
    import httpx
    from serve import start_app, stop

    env = {"BOT_INDEX_DIR": str(index_dir), "BOT_CORPUS_DIR": str(subset_dir),
           "BOT_EMBED_CACHE": str(cache), "BOT_RATE_LIMIT": "10000/minute", "BOT_DATABASE_URL": "sqlite://"}
    url, proc, ready = start_app(ROOT, env, timeout=900)
    try:
        lat = []
        for q in _questions(subset_dir)["tuning"]:
            t = time.perf_counter()
            httpx.post(url + "/api/ask", json={"question": q["question"]}, timeout=120).raise_for_status()
            lat.append((time.perf_counter() - t) * 1000)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        return {"ready_seconds": round(ready, 1), "questions": len(lat), "ask_p50_ms": round(statistics.median(lat), 1),
                "ask_p95_ms": _pct(lat, 0.95), "peak_rss_mb": round(hwm / 1024, 1)}
    finally:
        stop(proc)


def run_step(step: str, index_dir: Path, subset_dir: Path, cache: Path) -> dict:
    cmd = [sys.executable, __file__, "_worker", step, str(index_dir), str(subset_dir), str(cache)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        step, index_dir, subset_dir, cache = sys.argv[2], *map(Path, sys.argv[3:6])
        fn = {"build": worker_build, "query": worker_query, "app": app_memory}[step]
        print(json.dumps(fn(index_dir, subset_dir, cache)))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,5000,10000,25000")
    ap.add_argument("--work", type=Path, default=Path("/work/laws-bench"), help="index dirs and cache (not index/)")
    ap.add_argument("--query-only", action="store_true",
                    help="keep the recorded first-build figures; refresh the index (BM25 follows the current "
                         "dictionary) and re-measure retrieval only")
    ap.add_argument("--app", action="store_true", help="also measure the web app's memory on the largest index")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / "embed_cache.sqlite"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json = RESULTS / "laws.json"
    results = json.loads(out_json.read_text("utf-8")) if out_json.exists() else {}
    command = "python bench/laws_bench.py " + " ".join(sys.argv[1:])
    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        subset = args.work / f"subset-{size}"
        index_dir = args.work / f"index-{size}"
        chunks = select(size, subset)
        print(f"[{size}] {chunks} chunks selected", file=sys.stderr, flush=True)
        prev = results.get(str(size), {})
        cold = prev["build"] if args.query_only and "build" in prev else run_step("build", index_dir, subset, cache)
        warm = run_step("build", index_dir, subset, cache)  # unchanged: should embed nothing
        query = run_step("query", index_dir, subset, cache)
        entry = {"chunks": chunks, "build": cold, "rebuild_unchanged": warm, "query": query,
                 "command": prev.get("command", command) if args.query_only else command,
                 "query_command": command, "date": time.strftime("%Y-%m-%d"), "load": os.getloadavg()[0]}
        if args.app and size == max(sizes):
            entry["app"] = run_step("app", index_dir, subset, cache)
        elif "app" in prev:
            entry["app"] = prev["app"]
        results[str(size)] = entry
        out_json.write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")
        (RESULTS / "laws.md").write_text(render(results), "utf-8")
        print(json.dumps(results[str(size)], ensure_ascii=False), file=sys.stderr, flush=True)


def render(results: dict) -> str:
    rows = sorted(results.items(), key=lambda kv: int(kv[0]))
    lines = ["# Laws scale benchmark", "",
             "Real laws from `../shared/corpora/laws`, chunked by article (条) with title and chapter. Four question",
             "sets (answer = one article): `tuning` = `bench/laws_questions.jsonl` (40, the retriever was tuned on",
             "them), `fresh` = `bench/laws_questions_fresh.jsonl` (81, written from the law texts; its first run, at",
             "1k / 5k chunks: 0.952 / 0.86, is in results/tuning.md; the fusion table was chosen on it too), `fresh2`",
             "= `bench/laws_questions_fresh2.jsonl` (60, written later from the law texts alone; first unseen run in",
             "`laws_fresh2_first_run.md`; consulted since), `fresh3` = `bench/laws_questions_fresh3.jsonl` (60,",
             "written last, colloquial, over laws each subset adds; first unseen run in `laws_fresh3_first_run.md`).",
             "Recall@k: the right article (or an identical copy of it in another file)",
             "in the top k, over the questions whose law is in the subset (n). `rrf` is the hybrid before issue 13",
             "(no glossary, depth 25 / k 60 at every size), `hybrid` the current one (statute glossary, fusion by",
             "index size from bot/data/retrieval.toml — below 20,000 chunks each retriever's best hit kept in the top",
             "5 —, later editions preferred); all measured in the same run on the same index.", ""]
    names = list(SETS)
    lines.append("| chunks | n " + " / ".join(names) + " | retriever | "
                 + " | ".join(f"{n} R@5 / R@10" for n in names) + " | p50 / p95 ms |")
    lines.append("|" + " --- |" * (4 + len(names)))
    for _, r in rows:
        q = r["query"]
        n = q.get("questions", {})
        for m in MODES:
            if m not in q:
                continue
            cells = [f"{q[m].get(x, {}).get('recall_at_5')} / {q[m].get(x, {}).get('recall_at_10')}" for x in names]
            lines.append(f"| {r['build']['chunks']} | {' / '.join(str(n.get(x, '')) for x in names)} | {m} | "
                         + " | ".join(cells) + f" | {q[m]['latency_p50_ms']} / {q[m]['latency_p95_ms']} |")
    lines += ["", "Build and memory (this machine: 2 cores shared with other jobs; load average at the time in the "
              "last column):", "",
              "| chunks | embedded | build s | embedded/s | tokenised | build peak MB | rebuild s | KB load s | "
              "query peak MB | load avg |", "|" + " --- |" * 10]
    for _, r in rows:
        b, w, q = r["build"], r["rebuild_unchanged"], r["query"]
        lines.append(f"| {b['chunks']} | {b['embedded']} | {b['seconds']} | {b.get('embedded_per_s')} | "
                     f"{b.get('tokenised', '')} | {b['peak_rss_mb']} | {w['seconds']} | {q.get('load_seconds', '')} | "
                     f"{q['peak_rss_mb']} | {round(r.get('load', 0), 1)} |")
    apps = [(r["build"]["chunks"], r["app"]) for _, r in rows if "app" in r]
    for chunks, a in apps:
        lines += ["", f"Web app on the {chunks}-chunk index: ready (/healthz 200) {a['ready_seconds']} s after start, "
                  f"{a['questions']} questions through /api/ask p50 / p95 {a['ask_p50_ms']} / {a['ask_p95_ms']} ms, "
                  f"peak RSS {a['peak_rss_mb']} MB."]
    cmds = sorted({c for _, r in rows for c in (r["command"], r.get("query_command", r["command"]))})
    lines += ["", "Commands: " + "; ".join(f"`{c}`" for c in cmds), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
