"""Time to first token through the stack, and fallback latency, against the local scriptable LLM server.

    .venv/bin/python bench/llm_latency.py

The server (tests/llm_server.py) speaks OpenAI chat-completions on 127.0.0.1 and answers instantly, so the
figures are the bot's own overhead: retrieval, prompt, HTTP, stream parsing, citation checks. Writes
bench/results/llm_latency.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.chat import Bot  # noqa: E402
from bot.settings import get_settings  # noqa: E402
from tests.llm_server import ScriptedLLM  # noqa: E402

QUESTIONS = ["增值电信许可证有效期几年？到期前多久要续？", "ICP证注册资本最低要多少？", "IDC和CDN是一类业务吗？",
             "没有ICP证就在网站上收费，被查到会怎么罚？", "小程序已经备案成功了，那是不是就不需要ICP许可证了？"]


def measure(bot: Bot, rounds: int = 3) -> tuple[list[float], list[float]]:
    first, total = [], []
    for _ in range(rounds):
        for q in QUESTIONS:
            t0 = time.perf_counter()
            ttft = None
            for ev in bot.stream(q):
                if ev["type"] == "delta" and ttft is None:
                    ttft = (time.perf_counter() - t0) * 1000
            first.append(ttft)
            total.append((time.perf_counter() - t0) * 1000)
    return first, total


def p(vals, k):
    vals = sorted(vals)
    return round(vals[int(k * (len(vals) - 1))], 1)


def main() -> None:
    server = ScriptedLLM()
    server.thread.start()
    timeout = 3.0
    base = get_settings(llm_base_url=server.url + "/v1", llm_model="bench", llm_timeout=timeout)
    rows = []
    for mode, label in (
        ("good", "model answers (streamed, cited)"),
        ("500", "HTTP 500 → extractive fallback"),
        ("drop", "stream dropped → fallback"),
        ("stall", f"stream stalls → fallback (LLM_TIMEOUT={timeout:g}s)"),
    ):
        server.mode = mode
        bot = Bot(base, build=True)
        first, total = measure(bot, rounds=3 if mode != "stall" else 1)
        rows.append((label, p(first, 0.5), p(first, 0.95), p(total, 0.5), p(total, 0.95)))
    server.mode = "good"
    extractive = Bot(get_settings(), build=True)
    first, total = measure(extractive)
    rows.append(("no LLM configured (extractive)", p(first, 0.5), p(first, 0.95), p(total, 0.5), p(total, 0.95)))
    server.shutdown()
    lines = ["# LLM path latency (local protocol server on 127.0.0.1)", "",
             "Command: `python bench/llm_latency.py`", "",
             "| case | first text p50 ms | first text p95 ms | whole answer p50 ms | whole answer p95 ms |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |" for r in rows]
    lines += [
        "",
        "For HTTP 500 the first text is already the extractive answer; for a dropped or stalled stream it is the "
        "model's partial text, which a `reset` event then replaces with the extractive answer and its note.",
    ]
    out = ROOT / "bench" / "results" / "llm_latency.md"
    out.write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
