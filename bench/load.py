"""Load on 127.0.0.1 (not a test): N concurrent clients for S seconds against `python app.py`, old and new
code in one run, plus what the guard middleware costs per request.

    .venv/bin/python bench/load.py --old /work/baseline --clients 50 --seconds 60

`--old` is a checkout of an earlier commit (e.g. `git worktree add /tmp/old <commit>`); both servers use this
repository's venv and the committed embedding cache, with the rate limit raised out of the way. Each server runs
alone while it is measured. Results go to bench/results/load.md (and load.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from serve import start_app, stop

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUESTIONS = ["ICP证有效期几年？", "ICP证注册资本最低要多少？", "我只做支付宝小程序，需要办增值电信许可证吗？",
             "IDC是什么业务？", "外资公司能办ICP证吗？股比有什么限制？", "EDI证找谁审批？", "没有ICP证就收费会怎么罚？",
             "经营性网站和非经营性网站到底怎么区分？"]


def start(tree: Path, index_dir: Path) -> tuple[str, subprocess.Popen]:
    env = {"PYTHONPATH": str(tree), "BOT_INDEX_DIR": str(index_dir),
           "BOT_EMBED_CACHE": str(ROOT / "index" / "embed_cache.sqlite"), "BOT_RATE_LIMIT": "1000000/minute",
           "BOT_DATABASE_URL": f"sqlite:///{index_dir}/bot.sqlite", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    url, proc, _ready = start_app(tree, env)
    return url, proc


async def _client(url: str, path: str, until: float, n: int, out: list[tuple[float, bool]]) -> None:
    async with httpx.AsyncClient(timeout=30) as c:
        i = n
        while time.monotonic() < until:
            body = {"question": QUESTIONS[i % len(QUESTIONS)]}
            i += 1
            t = time.monotonic()
            try:
                if path == "/api/chat":
                    async with c.stream("POST", url + path, json=body) as r:
                        ok = r.status_code == 200 and "event: done" in (await r.aread()).decode()
                else:
                    r = await c.post(url + path, json=body)
                    ok = r.status_code == 200 and bool(r.json().get("answer"))
            except httpx.HTTPError:
                ok = False
            out.append((time.monotonic() - t, ok))


def load(url: str, path: str, clients: int, seconds: float) -> dict:
    out: list[tuple[float, bool]] = []

    async def run() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(_client(url, path, until, n, out) for n in range(clients)))

    started = time.monotonic()
    asyncio.run(run())
    wall = time.monotonic() - started
    lat = sorted(t * 1000 for t, ok in out if ok)
    return {"requests": len(out), "errors": sum(not ok for _, ok in out), "rps": round(len(out) / wall, 1),
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "p99_ms": round(lat[int(0.99 * (len(lat) - 1))], 1) if lat else None}


def guard_cost(n: int = 20000) -> dict:
    """µs per request of the middleware stack (guard, method check, headers) around an app that does nothing."""
    sys.path.insert(0, str(ROOT))
    from bot.settings import get_settings
    from bot.web.guard import Guard, Limiter, MethodCheck, SecurityHeaders

    async def bare(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    settings = get_settings(rate_limit="30/minute")
    guarded = SecurityHeaders(MethodCheck(Guard(bare, settings, Limiter("memory://")), {"/api/ask": {"POST"}}))

    async def drive(app) -> float:
        scope = {"type": "http", "method": "POST", "path": "/api/ask", "client": ("127.0.0.1", 5000),
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                             (b"content-length", b"30")]}

        async def receive():
            return {"type": "http.request", "body": b'{"question": "ICP\\u8bc1\\u6709"}', "more_body": False}

        async def send(message):
            pass

        t = time.perf_counter()
        for i in range(n):  # one client address per request: each stays inside its 30/minute
            await app({**scope, "client": (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 5000)}, receive, send)
        return (time.perf_counter() - t) / n * 1e6

    plain, with_guard = asyncio.run(drive(bare)), asyncio.run(drive(guarded))
    return {"bare_us": round(plain, 1), "guarded_us": round(with_guard, 1), "guard_us": round(with_guard - plain, 1),
            "requests": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True, help="checkout of the earlier commit")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    results: dict = {"command": "python bench/load.py " + " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d"),
                     "clients": args.clients, "seconds": args.seconds}
    for name, tree in (("old", args.old.resolve()), ("new", ROOT)):
        with tempfile.TemporaryDirectory() as tmp:
            url, proc = start(tree, Path(tmp))
            try:
                for q in QUESTIONS:  # warm the caches, as a running server would be
                    httpx.post(url + "/api/ask", json={"question": q}, timeout=60)
                results[name] = {"ask": load(url, "/api/ask", args.clients, args.seconds),
                                 "chat": load(url, "/api/chat", args.clients, args.seconds)}
            finally:
                stop(proc)
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)
    results["guard"] = guard_cost()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")
    (RESULTS / "load.md").write_text(render(results), "utf-8")
    print(render(results))


def render(r: dict) -> str:
    rows = ["| code | route | requests | errors | requests/s | p50 ms | p99 ms |", "|" + " --- |" * 7]
    for name in ("old", "new"):
        for route in ("ask", "chat"):
            x = r[name][route]
            rows.append(f"| {name} | /api/{route} | {x['requests']} | {x['errors']} | {x['rps']} | {x['p50_ms']} | "
                        f"{x['p99_ms']} |")
    g = r["guard"]
    return "\n".join([
        "# Load on 127.0.0.1", "", f"Command: `{r['command']}` ({r['date']}, 2 cores, no GPU). "
        f"{r['clients']} concurrent clients for {r['seconds']:.0f} s per route, old and new servers measured one "
        "after the other in the same run, rate limit raised out of the way.", "", *rows, "",
        f"Guard cost: the middleware stack (origin check, rate limit, body counting, method check, security headers) "
        f"around an app that does nothing: {g['bare_us']} µs → {g['guarded_us']} µs per request, "
        f"**{g['guard_us']} µs** added ({g['requests']} requests in process).", ""])


if __name__ == "__main__":
    main()
