"""Scale benchmark on the real laws in ../shared/corpora/laws (not a test).

Indexes growing subsets (by chunk count) into separate index directories — never the default index/ —
sharing one resumable embedding cache, then measures build throughput, peak memory, query latency and
retrieval recall on bench/laws_questions.jsonl for bm25, dense and hybrid.

    .venv/bin/python bench/laws_bench.py --sizes 1000,5000,10000 --work /tmp/laws-bench

Each step runs in a fresh process so peak memory (ru_maxrss) belongs to that step alone. Results go to
bench/results/laws.json and bench/results/laws.md. Re-running resumes from the cache.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAWS = ROOT.parent / "shared" / "corpora" / "laws"
QUESTIONS = ROOT / "bench" / "laws_questions.jsonl"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def select(size: int, subset_dir: Path) -> int:
    """Link law files into subset_dir until it holds at least `size` chunks; the questions' files first."""
    from bot.chunk import chunk_document
    from bot.ingest import IngestError, discover, load

    subset_dir.mkdir(parents=True, exist_ok=True)
    wanted = [LAWS / json.loads(l)["file"] for l in QUESTIONS.read_text("utf-8").splitlines() if l.strip()]
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


def worker_build(index_dir: Path, subset_dir: Path, cache: Path) -> dict:
    from bot.index import build_index
    from bot.settings import get_settings

    settings = get_settings(index_dir=index_dir, corpus_dir=subset_dir, embed_cache=cache)
    t0 = time.perf_counter()
    report = build_index(settings, show_progress=True)
    secs = time.perf_counter() - t0
    return {"chunks": report.chunks_total, "embedded": report.embedded, "seconds": round(secs, 1),
            "chunks_per_s": round(report.chunks_added / secs, 2) if secs else None,
            "embedded_per_s": round(report.embedded / secs, 2) if report.embedded else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _hit(chunk, q: dict, subset_ids: dict[str, str]) -> bool:
    return chunk.doc_id == subset_ids.get(q["file"]) and chunk.text.startswith(q["article"])


def worker_query(index_dir: Path, subset_dir: Path, cache: Path) -> dict:
    from bot.ingest import path_id
    from bot.retrieve import KnowledgeBase, Retriever
    from bot.settings import get_settings

    settings = get_settings(index_dir=index_dir, corpus_dir=subset_dir, embed_cache=cache)
    t0 = time.perf_counter()
    kb = KnowledgeBase(settings)
    load_s = time.perf_counter() - t0
    questions = [json.loads(l) for l in QUESTIONS.read_text("utf-8").splitlines() if l.strip()]
    ids = {q["file"]: path_id(subset_dir / q["file"].replace("/", "__"), subset_dir) for q in questions}
    out = {"load_seconds": round(load_s, 2)}
    for mode in ("bm25", "dense", "hybrid"):
        retriever = Retriever(kb, mode)
        lat, at5, at10 = [], 0, 0
        for q in questions:
            t = time.perf_counter()
            hits = retriever.search(q["question"], k=10).hits
            lat.append((time.perf_counter() - t) * 1000)
            ranks = [i for i, h in enumerate(hits) if _hit(h.chunk, q, ids)]
            at5 += bool(ranks and ranks[0] < 5)
            at10 += bool(ranks)
        lat.sort()
        out[mode] = {"recall_at_5": round(at5 / len(questions), 3), "recall_at_10": round(at10 / len(questions), 3),
                     "latency_p50_ms": round(statistics.median(lat), 1),
                     "latency_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1)}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_step(step: str, index_dir: Path, subset_dir: Path, cache: Path) -> dict:
    cmd = [sys.executable, __file__, "_worker", step, str(index_dir), str(subset_dir), str(cache)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        step, index_dir, subset_dir, cache = sys.argv[2], *map(Path, sys.argv[3:6])
        fn = worker_build if step == "build" else worker_query
        print(json.dumps(fn(index_dir, subset_dir, cache)))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,5000,10000")
    ap.add_argument("--work", type=Path, default=Path("/tmp/laws-bench"), help="index dirs and cache (not index/)")
    ap.add_argument("--query-only", action="store_true",
                    help="keep the recorded first-build figures; refresh the index (BM25 follows the current "
                         "dictionary) and re-measure retrieval only")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / "embed_cache.sqlite"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json = RESULTS / "laws.json"
    results = json.loads(out_json.read_text("utf-8")) if out_json.exists() else {}
    command = "python bench/laws_bench.py " + " ".join(sys.argv[1:])
    for size in [int(s) for s in args.sizes.split(",")]:
        subset = args.work / f"subset-{size}"
        index_dir = args.work / f"index-{size}"
        chunks = select(size, subset)
        print(f"[{size}] {chunks} chunks selected", file=sys.stderr, flush=True)
        prev = results.get(str(size), {})
        cold = prev["build"] if args.query_only and "build" in prev else run_step("build", index_dir, subset, cache)
        warm = run_step("build", index_dir, subset, cache)  # unchanged: should embed nothing
        query = run_step("query", index_dir, subset, cache)
        results[str(size)] = {"chunks": chunks, "build": cold, "rebuild_unchanged": warm, "query": query,
                              "command": prev.get("command", command) if args.query_only else command,
                              "query_command": command, "date": time.strftime("%Y-%m-%d")}
        out_json.write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")
        (RESULTS / "laws.md").write_text(render(results), "utf-8")
        print(json.dumps(results[str(size)], ensure_ascii=False), file=sys.stderr, flush=True)


def render(results: dict) -> str:
    lines = ["# Laws scale benchmark", "",
             "Real laws from `../shared/corpora/laws`, chunked by article (条) with title and chapter; 40 colloquial",
             "questions in `bench/laws_questions.jsonl` (answer = one article). Recall@k: the right article in the top k.",
             "Build figures are for this machine (2 cores, no GPU). `build` is the first build of that subset (vectors",
             "already in the shared cache from a smaller subset are reused, so `embedded` counts only new ones);",
             "`rebuild` is a second run on the unchanged subset.", ""]
    lines.append("| chunks | embedded | build s | embedded/s | build peak MB | rebuild s | query peak MB | "
                 "bm25 R@5 / R@10 | dense R@5 / R@10 | hybrid R@5 / R@10 | hybrid p50 / p95 ms |")
    lines.append("|" + " --- |" * 11)
    for size, r in sorted(results.items(), key=lambda kv: int(kv[0])):
        b, w, q = r["build"], r["rebuild_unchanged"], r["query"]
        lines.append(
            f"| {b['chunks']} | {b['embedded']} | {b['seconds']} | {b['embedded_per_s']} | {b['peak_rss_mb']} | "
            f"{w['seconds']} | {q['peak_rss_mb']} | "
            + " | ".join(f"{q[m]['recall_at_5']} / {q[m]['recall_at_10']}" for m in ("bm25", "dense", "hybrid"))
            + f" | {q['hybrid']['latency_p50_ms']} / {q['hybrid']['latency_p95_ms']} |")
    lines += ["", "Per-retriever latency (ms, p50 / p95):", ""]
    for size, r in sorted(results.items(), key=lambda kv: int(kv[0])):
        q = r["query"]
        lines.append(f"- {r['build']['chunks']} chunks: " + ", ".join(
            f"{m} {q[m]['latency_p50_ms']} / {q[m]['latency_p95_ms']}" for m in ("bm25", "dense", "hybrid")))
    cmds = sorted({c for r in results.values() for c in (r["command"], r.get("query_command", r["command"]))})
    lines += ["", "Commands: " + "; ".join(f"`{c}`" for c in cmds), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
