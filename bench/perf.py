"""Speed and memory of the bundled corpus (not a test).

    .venv/bin/python bench/perf.py

Measures: index build of corpus/ cold (empty embedding cache) and with the committed cache, each into a
scratch index dir; `ask` latency split into retrieval and answer over the dev and held-out questions; peak
memory (VmHWM) of the web app while it answers questions over HTTP. Writes bench/results/perf.{json,md}.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
QUESTIONS = [ROOT.parent / "shared" / "eval" / "dev.jsonl", ROOT / "eval" / "heldout.jsonl"]


def _child(code: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


BUILD = """
import json, resource, time
from bot.index import build_index
from bot.settings import get_settings
t = time.perf_counter(); r = build_index(get_settings(), show_progress=False)
print(json.dumps({"seconds": round(time.perf_counter() - t, 1), "chunks": r.chunks_total, "embedded": r.embedded,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def build(tmp: Path, cache: Path) -> dict:
    return _child(BUILD, {"BOT_INDEX_DIR": str(tmp), "BOT_EMBED_CACHE": str(cache)})


def latency() -> dict:
    from bot.chat import Bot
    from bot.evaluate import load_questions

    bot = Bot()
    qs = [q for p in QUESTIONS if p.exists() for q in load_questions(p)]
    bot.ask("预热：ICP证有效期几年？")
    rows = []
    for q in qs:
        a = bot.ask(q["question"], q.get("turns"))
        rows.append((a.latency_ms, a.retrieval_ms, a.answer_ms))

    def p(vals, k):
        vals = sorted(vals)
        return round(vals[int(k * (len(vals) - 1))], 1)

    total, retr, ans = zip(*rows, strict=True)
    return {"questions": len(rows), "total_p50_ms": p(total, 0.5), "total_p95_ms": p(total, 0.95),
            "retrieval_p50_ms": p(retr, 0.5), "retrieval_p95_ms": p(retr, 0.95),
            "answer_p50_ms": p(ans, 0.5), "answer_p95_ms": p(ans, 0.95)}


def app_memory() -> dict:

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 600 and not _healthy(url):
            time.sleep(0.2)
        ready = time.perf_counter() - t0
        from gradio_client import Client

        client = Client(url + "/", verbose=False)
        qs = [json.loads(x)["question"] for x in QUESTIONS[0].read_text("utf-8").splitlines() if x.strip()]
        for q in qs:
            client.predict(q, [], api_name="/respond")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM"))
        return {"ready_seconds": round(ready, 1), "questions_asked": len(qs), "peak_rss_mb": round(hwm / 1024, 1)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    try:
        cold = build(tmp / "cold", tmp / "empty-cache.sqlite")
        cached_copy = tmp / "cache.sqlite"
        shutil.copy(ROOT / "index" / "embed_cache.sqlite", cached_copy)
        warm = build(tmp / "warm", cached_copy)
        unchanged = build(tmp / "warm", cached_copy)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"date": time.strftime("%Y-%m-%d"), "command": "python bench/perf.py", "cpu_count": os.cpu_count(),
              "build_cold": cold, "build_with_cache": warm, "rebuild_unchanged": unchanged,
              "ask_latency": latency(), "app": app_memory()}
    (RESULTS / "perf.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    lat, app = result["ask_latency"], result["app"]
    md = f"""# Speed and memory (bundled corpus)

Command: `python bench/perf.py` ({result['date']}, {result['cpu_count']} cores, no GPU)

| what | figure |
| --- | --- |
| index build, cold (empty cache): {cold['chunks']} chunks, {cold['embedded']} embedded | \
{cold['seconds']} s, peak {cold['peak_rss_mb']} MB |
| index build into a new dir with the committed cache | \
{warm['seconds']} s ({warm['embedded']} embedded), peak {warm['peak_rss_mb']} MB |
| re-run on the unchanged corpus | {unchanged['seconds']} s ({unchanged['embedded']} embedded) |
| `ask` latency over {lat['questions']} questions, p50 / p95 | {lat['total_p50_ms']} / {lat['total_p95_ms']} ms |
| of which retrieval, p50 / p95 | {lat['retrieval_p50_ms']} / {lat['retrieval_p95_ms']} ms |
| of which answer composition, p50 / p95 | {lat['answer_p50_ms']} / {lat['answer_p95_ms']} ms |
| web app: ready after start | {app['ready_seconds']} s |
| web app: peak RSS after {app['questions_asked']} questions through the page's API | {app['peak_rss_mb']} MB |
"""
    (RESULTS / "perf.md").write_text(md, "utf-8")
    print(md)


if __name__ == "__main__":
    main()
